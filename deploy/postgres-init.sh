#!/bin/sh
# Run by the postgres container on its first start (compose.yaml mounts it into
# /docker-entrypoint-initdb.d/): the two roles and the database, from postgres-roles.sql.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v owner_password="'$ECOGPROM_OWNER_PASSWORD'" \
  -v app_password="'$ECOGPROM_APP_PASSWORD'" \
  -f /ecogprom/postgres-roles.sql
