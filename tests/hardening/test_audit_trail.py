"""The audit trail cannot be changed through the application or by SQL."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError

from surveys.models import AuditEvent, AuditTrailIsImmutable
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


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE surveys_auditevent SET reason = 'tampered' WHERE id = %s",
        "DELETE FROM surveys_auditevent WHERE id = %s",
    ],
)
def test_postgresql_refuses_update_and_delete_from_any_client(event, sql):
    assert connection.vendor == "postgresql"
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).reason == ""


@pytest.mark.django_db
def test_the_admin_offers_no_change_or_delete_for_audit_events(admin_client, event):
    response = admin_client.get(f"/admin/surveys/auditevent/{event.pk}/delete/")
    assert response.status_code == 403
    post = admin_client.post(f"/admin/surveys/auditevent/{event.pk}/change/", {"reason": "x"})
    assert post.status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).reason == ""
