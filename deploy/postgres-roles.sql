-- ecogprom's two PostgreSQL roles and its database. Run once, as a superuser:
--   psql -v owner_password="'...'" -v app_password="'...'" -f deploy/postgres-roles.sql
-- Safe to run again (it only creates what is missing and resets the passwords).
--
-- ecogprom_owner owns the tables and runs `manage.py migrate` and `manage.py grant_app_role`.
-- ecogprom_app   is what the web processes, the Celery worker and beat connect as: after
--                grant_app_role it may SELECT/INSERT/UPDATE/DELETE ordinary rows, only
--                SELECT/INSERT the audit trail, and owns nothing (no TRUNCATE, no ALTER TABLE).
\set ON_ERROR_STOP on

SELECT 'CREATE ROLE ecogprom_owner LOGIN'
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ecogprom_owner') \gexec
SELECT 'CREATE ROLE ecogprom_app LOGIN'
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ecogprom_app') \gexec
ALTER ROLE ecogprom_owner LOGIN NOSUPERUSER NOCREATEROLE PASSWORD :owner_password;
ALTER ROLE ecogprom_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :app_password;

SELECT 'CREATE DATABASE ecogprom OWNER ecogprom_owner'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'ecogprom') \gexec
ALTER DATABASE ecogprom OWNER TO ecogprom_owner;
REVOKE ALL ON DATABASE ecogprom FROM PUBLIC;
GRANT CONNECT ON DATABASE ecogprom TO ecogprom_owner, ecogprom_app;

\connect ecogprom
ALTER SCHEMA public OWNER TO ecogprom_owner;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO ecogprom_app;
