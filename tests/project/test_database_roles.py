"""The two PostgreSQL roles: the owner migrates and grants, the application role owns nothing."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from tests.conftest import APP_ROLE, OWNER_ROLE, _worker_env, as_owner

pytestmark = pytest.mark.django_db(transaction=True)


def test_grant_app_role_is_idempotent_and_grants_only_what_the_app_needs():
    with as_owner():
        out = io.StringIO()
        call_command("grant_app_role", role=APP_ROLE, stdout=out)
        call_command("grant_app_role", role=APP_ROLE, stdout=io.StringIO())  # again: same
    assert "SELECT, INSERT on surveys_auditevent, " in out.getvalue()
    append_only = ("surveys_auditevent", "surveys_responsecorrection", "surveys_scorerevision")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, "
            "has_table_privilege(%s, tablename, 'INSERT'), "
            "has_table_privilege(%s, tablename, 'UPDATE'), "
            "has_table_privilege(%s, tablename, 'DELETE'), "
            "has_table_privilege(%s, tablename, 'TRUNCATE') "
            "FROM pg_tables WHERE schemaname = 'public'",
            [APP_ROLE] * 4,
        )
        rights = {row[0]: row[1:] for row in cursor.fetchall()}
    for table in append_only:  # insert and read, never change or remove
        assert rights[table] == (True, False, False, False), table
    assert rights["django_migrations"] == (False, False, False, False)
    assert rights["surveys_participant"] == (True, True, True, False)
    ordinary = {t: r for t, r in rights.items() if t not in (*append_only, "django_migrations")}
    assert all(r == (True, True, True, False) for r in ordinary.values()), ordinary


@pytest.mark.parametrize(
    ("role", "message"),
    [
        (OWNER_ROLE, "must not be the owner"),
        ("postgres", "is a superuser"),
        ("no_such_role_here", "does not exist"),
    ],
)
def test_grant_app_role_refuses_a_role_that_could_rewrite_the_trail(role, message):
    with as_owner(), pytest.raises(CommandError, match=message):
        call_command("grant_app_role", role=role, stdout=io.StringIO())


def test_the_suite_and_its_celery_worker_connect_as_the_application_role():
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == APP_ROLE
    env = _worker_env(connection.settings_dict["NAME"])
    assert env["DATABASE_URL"].startswith(f"postgres://{APP_ROLE}@")
