"""Faults lose no answer and duplicate none: dropped connections, simultaneous submissions."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import OperationalError, connection, connections, transaction
from django.db.utils import InterfaceError

from surveys.models import Assessment, AuditEvent, Response, Score
from surveys.tablet.answers import assessment_submit, response_save
from tests.factories import randomize

NOW = dt.datetime(2026, 1, 5, 15, tzinfo=dt.UTC)


@pytest.fixture
def open_assessment(trial, site_a) -> Assessment:
    participant = randomize(trial, site_a, randomized_on=dt.date(2026, 1, 5), now=NOW)
    assessment = participant.assessments.get(visit__code="baseline")
    assert assessment.status == "open"
    return assessment


def in_thread(target) -> threading.Thread:
    def run() -> None:
        try:
            target()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_the_same_submission_posted_twice_at_once_completes_once(open_assessment):
    response_save(assessment_id=open_assessment.pk, item_code="GP1", value=1, now=NOW)
    barrier = threading.Barrier(2)
    outcomes: list[bool] = []

    def submit() -> None:
        barrier.wait()
        _, completed_now = assessment_submit(assessment_id=open_assessment.pk, now=NOW)
        outcomes.append(completed_now)

    threads = [in_thread(submit) for _ in range(2)]
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [False, True]
    assert Score.objects.filter(assessment=open_assessment).count() == 1
    completions = AuditEvent.objects.filter(assessment=open_assessment, to_status="completed")
    assert completions.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_connection_dropped_during_a_save_is_an_error_and_the_retry_stores_once(open_assessment):
    """The save waits on a row lock; its server connection is killed meanwhile."""
    holder = connections.create_connection("default")
    holder.connect()
    holder.set_autocommit(False)
    with holder.cursor() as cursor:  # another transaction holds the assessment row
        cursor.execute(
            "SELECT id FROM surveys_assessment WHERE id = %s FOR UPDATE", [open_assessment.pk]
        )

    errors: list[BaseException] = []
    pids: list[int] = []
    started = threading.Event()

    def save() -> None:
        connection.ensure_connection()
        pids.append(connection.connection.info.backend_pid)
        started.set()
        try:
            response_save(
                assessment_id=open_assessment.pk,
                item_code="GP4",
                value=3,
                idempotency_key="tap-42",
                now=NOW,
            )
        except (OperationalError, InterfaceError) as exc:
            errors.append(exc)

    thread = in_thread(save)
    started.wait(10)
    with holder.cursor() as cursor:  # wait until the save is blocked on the lock, then kill it
        for _ in range(200):
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = %s AND wait_event_type = 'Lock'",
                [pids[0]],
            )
            if cursor.fetchone()[0]:
                break
            threading.Event().wait(0.05)
        cursor.execute("SELECT pg_terminate_backend(%s)", [pids[0]])
    thread.join(20)
    holder.rollback()
    holder.close()

    assert len(errors) == 1, "the dropped connection must surface as an error"
    assert not Response.objects.filter(assessment=open_assessment).exists()
    # The tablet retries with the same key, twice (a replay after the first retry's reply was lost).
    for _ in range(2):
        with transaction.atomic():
            response_save(
                assessment_id=open_assessment.pk,
                item_code="GP4",
                value=3,
                idempotency_key="tap-42",
                now=NOW,
            )
    stored = Response.objects.filter(assessment=open_assessment)
    assert list(stored.values_list("item_code", "value", "revision")) == [("GP4", 3, 1)]
