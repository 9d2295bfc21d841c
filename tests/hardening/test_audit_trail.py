"""The audit trail cannot be changed through the application or by SQL, even by its owner.

The application connects as a role that owns nothing and may only SELECT and
INSERT the audit table: UPDATE, DELETE, TRUNCATE and ALTER TABLE … DISABLE
TRIGGER are refused by PostgreSQL's privileges. The owner (who runs the
migrations) is refused UPDATE, DELETE and TRUNCATE by the triggers.

Before: the application's role owned the table, so TRUNCATE and DISABLE
TRIGGER worked.
"""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError

from surveys.models import AuditEvent, AuditTrailIsImmutable
from tests.conftest import APP_ROLE, OWNER_ROLE
from tests.factories import randomize

NOW = dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC)


@pytest.fixture
def event(trial, site_a):
    randomize(trial, site_a, randomized_on=dt.date(2026, 1, 5), now=NOW)
    return AuditEvent.objects.filter(action="randomized").get()


@pytest.mark.django_db
def test_saving_an_existing_event_is_refused(event):
    event.reason = "rewritten"
    with pytest.raises(AuditTrailIsImmutable):
        event.save()
    assert AuditEvent.objects.get(pk=event.pk).reason == ""


@pytest.mark.django_db
def test_deleting_an_event_is_refused(event):
    with pytest.raises(AuditTrailIsImmutable):
        event.delete()
    with pytest.raises(AuditTrailIsImmutable):
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(AuditTrailIsImmutable):
        AuditEvent.objects.filter(pk=event.pk).update(reason="x")
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def owner_connection():
    """A separate connection as the owner role (who runs migrations) to the test database."""
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"], port=db["PORT"] or 5432, user=OWNER_ROLE, dbname=db["NAME"]
    )


def refused(sql: str, params: list[object] | None = None) -> str:
    """Run *sql* as the application (this test's connection); return PostgreSQL's refusal."""
    with pytest.raises(DatabaseError) as error, transaction.atomic(), connection.cursor() as c:
        c.execute(sql, params)
    return str(error.value)


@pytest.mark.django_db
def test_the_application_runs_as_a_role_that_owns_nothing():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, r.rolsuper, t.tableowner, "
            "has_table_privilege(current_user, 'surveys_auditevent', 'SELECT'), "
            "has_table_privilege(current_user, 'surveys_auditevent', 'INSERT'), "
            "has_table_privilege(current_user, 'surveys_auditevent', 'UPDATE'), "
            "has_table_privilege(current_user, 'surveys_auditevent', 'DELETE'), "
            "has_table_privilege(current_user, 'surveys_auditevent', 'TRUNCATE'), "
            "has_table_privilege(current_user, 'surveys_auditevent', 'TRIGGER'), "
            "has_table_privilege(current_user, 'surveys_participant', 'DELETE'), "
            "(SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
            " AND tableowner = current_user) "
            "FROM pg_roles r, pg_tables t "
            "WHERE r.rolname = current_user AND t.tablename = 'surveys_auditevent'"
        )
        row = cursor.fetchone()
    assert row == (APP_ROLE, False, OWNER_ROLE, True, True, False, False, False, False, True, 0)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE surveys_auditevent SET reason = 'tampered' WHERE id = %s",
        "DELETE FROM surveys_auditevent WHERE id = %s",
    ],
)
def test_the_application_role_cannot_update_or_delete_the_audit_trail(event, sql):
    assert "permission denied for table surveys_auditevent" in refused(sql, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).reason == ""


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("TRUNCATE surveys_auditevent", "permission denied for table surveys_auditevent"),
        ("TRUNCATE surveys_auditevent CASCADE", "permission denied for table surveys_auditevent"),
        (
            "ALTER TABLE surveys_auditevent DISABLE TRIGGER surveys_auditevent_no_change",
            "must be owner of table surveys_auditevent",
        ),
        ("ALTER TABLE surveys_auditevent DISABLE TRIGGER ALL", "must be owner of table"),
        ("DROP TRIGGER surveys_auditevent_no_truncate ON surveys_auditevent", "must be owner"),
        ("DROP TABLE surveys_auditevent CASCADE", "must be owner of table surveys_auditevent"),
        ("ALTER TABLE surveys_auditevent OWNER TO ecogprom_app", "must be owner of table"),
    ],
)
def test_the_application_role_cannot_truncate_or_disarm_the_audit_trail(event, sql, message):
    assert message in refused(sql)
    assert AuditEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.django_db
def test_the_application_role_cannot_grant_itself_more(event):
    with connection.cursor() as cursor:
        cursor.execute("GRANT DELETE, TRUNCATE ON surveys_auditevent TO ecogprom_app")  # a warning
        cursor.execute(
            "SELECT has_table_privilege('ecogprom_app', 'surveys_auditevent', 'DELETE'), "
            "has_table_privilege('ecogprom_app', 'surveys_auditevent', 'TRUNCATE')"
        )
        assert cursor.fetchone() == (False, False)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE surveys_auditevent SET reason = 'tampered'",
        "DELETE FROM surveys_auditevent",
        "TRUNCATE surveys_auditevent",
        "TRUNCATE surveys_auditevent CASCADE",
    ],
)
def test_even_the_owner_is_refused_by_the_triggers(trial, site_a, sql):
    randomize(trial, site_a, randomized_on=dt.date(2026, 1, 5), now=NOW)
    before = AuditEvent.objects.count()
    assert before > 0
    with (
        owner_connection() as owner,
        owner.cursor() as cursor,
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"),
    ):
        cursor.execute(sql)
    assert AuditEvent.objects.count() == before
    assert not AuditEvent.objects.exclude(reason="").filter(reason="tampered").exists()


@pytest.mark.django_db
def test_the_application_role_still_appends_to_the_audit_trail(event):
    added = AuditEvent.objects.create(at=NOW, action="login", actor_label="someone")
    assert AuditEvent.objects.filter(pk__in=[event.pk, added.pk]).count() == 2


@pytest.mark.django_db
def test_the_admin_offers_no_change_or_delete_for_audit_events(admin_client, event):
    response = admin_client.get(f"/admin/surveys/auditevent/{event.pk}/delete/")
    assert response.status_code == 403
    post = admin_client.post(f"/admin/surveys/auditevent/{event.pk}/change/", {"reason": "x"})
    assert post.status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).reason == ""
