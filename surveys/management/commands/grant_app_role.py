"""Give the application's PostgreSQL role what it needs, and nothing more (run after migrate).

Two roles (``deploy/postgres-roles.sql`` creates them):

* the **owner** (``ecogprom_owner``) owns the database's tables and runs
  ``manage.py migrate`` and this command;
* the **application** role (``ecogprom_app``, ``DATABASE_APP_ROLE``) is what
  gunicorn, the Celery worker and beat connect as: ``SELECT, INSERT, UPDATE,
  DELETE`` on the ordinary tables, only ``SELECT, INSERT`` on the audit trail
  and the other append-only records (answer corrections, replaced scores),
  ``SELECT`` on ``django_migrations``, and the sequences. Owning nothing, it can
  neither ``TRUNCATE`` the audit trail nor ``ALTER TABLE … DISABLE TRIGGER``.

Idempotent: it revokes everything on each table first, then grants, so a
deploy simply runs it after every ``migrate`` (new tables get their grants).
"""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connection, transaction

AUDIT_TABLE = "surveys_auditevent"
#: Append-only records (their own triggers refuse UPDATE and DELETE too): the audit trail,
#: corrections of answers and the scores they replaced.
APPEND_ONLY_TABLES = {AUDIT_TABLE, "surveys_responsecorrection", "surveys_scorerevision"}
READ_ONLY_TABLES = {"django_migrations"}
WRITE = "SELECT, INSERT, UPDATE, DELETE"


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


class Command(BaseCommand):
    help = "Grant the application role its privileges (run as the owner role, after migrate)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--role",
            default=os.environ.get("DATABASE_APP_ROLE", "ecogprom_app"),
            help="the application's role (default: $DATABASE_APP_ROLE or ecogprom_app)",
        )

    def handle(self, *args: Any, role: str, **options: Any) -> None:
        if connection.vendor != "postgresql":
            self.stdout.write("not PostgreSQL: nothing to grant")
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user, current_database()")
            owner, database = cursor.fetchone()
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [role])
            found = cursor.fetchone()
            if found is None:
                raise CommandError(f"role {role!r} does not exist (deploy/postgres-roles.sql)")
            if role == owner:
                raise CommandError("the application role must not be the owner running migrate")
            if found[0]:
                raise CommandError(f"role {role!r} is a superuser: it could do anything")
            cursor.execute(
                "SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public' "
                "ORDER BY tablename"
            )
            tables = cursor.fetchall()
        owned_by_app = [t for t, o in tables if o == role]
        if owned_by_app:
            raise CommandError(
                f"{role} owns {', '.join(owned_by_app)}: ALTER TABLE … OWNER TO {owner} first"
            )
        foreign = sorted(t for t, o in tables if o != owner)
        if AUDIT_TABLE in foreign:
            raise CommandError(f"run this as the owner of {AUDIT_TABLE}")
        ordinary = 0
        with transaction.atomic(), connection.cursor() as cursor:
            for grant in (
                f"GRANT CONNECT ON DATABASE {quote(database)} TO {quote(role)}",
                f"GRANT USAGE ON SCHEMA public TO {quote(role)}",
            ):
                try:
                    with transaction.atomic():
                        cursor.execute(grant)
                except DatabaseError as exc:  # not the database's owner: the SQL file did it
                    self.stderr.write(f"{grant}: {exc}".strip())
            for table, table_owner in tables:
                if table_owner != owner:
                    continue
                if table in APPEND_ONLY_TABLES:
                    privileges = "SELECT, INSERT"
                elif table in READ_ONLY_TABLES:
                    privileges = "SELECT"
                else:
                    privileges = WRITE
                    ordinary += 1
                cursor.execute(f"REVOKE ALL ON {quote(table)} FROM {quote(role)}")
                cursor.execute(f"GRANT {privileges} ON {quote(table)} TO {quote(role)}")
            cursor.execute(f"REVOKE ALL ON {quote(AUDIT_TABLE)} FROM PUBLIC")
            cursor.execute(
                f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quote(role)}"
            )
        for table in foreign:
            self.stderr.write(f"skipped {table}: owned by another role")
        self.stdout.write(
            f"{role}: {WRITE} on {ordinary} tables, SELECT, INSERT on "
            f"{', '.join(sorted(APPEND_ONLY_TABLES))}, SELECT on django_migrations; owner {owner}"
        )
