"""The sweep: moves each due assessment once, audits it, and is safe to run concurrently."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection

from surveys.models import Assessment, AuditEvent
from surveys.trial.sweep import sweep_assessments
from tests.factories import randomize

S = Assessment.Status
D = dt.date


def at(day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


@pytest.mark.django_db
def test_it_opens_windows_that_opened_and_misses_windows_that_closed(trial, site_a):
    randomized = D(2025, 1, 10)
    p = randomize(trial, site_a, randomized_on=randomized, now=at(randomized))
    baseline = p.assessments.get(visit__code="baseline")
    assert baseline.status == S.OPEN  # baseline opens 28 days before randomization

    counts = sweep_assessments(now=at(D(2025, 6, 20)))  # m6 window opens 2025-06-10
    assert counts == {"opened": 1, "missed": 1, "partial": 0}
    statuses = dict(p.assessments.values_list("visit__code", "status"))
    assert statuses == {"baseline": S.MISSED, "m6": S.OPEN, "m18": S.SCHEDULED, "m30": S.SCHEDULED}
    event = AuditEvent.objects.get(assessment=baseline, to_status=S.MISSED)
    assert (event.actor_label, event.from_status, event.reason) == (
        "system:sweep",
        S.OPEN,
        "window closed",
    )


@pytest.mark.django_db
def test_running_the_same_sweep_twice_changes_nothing_the_second_time(trial, site_a):
    for n in range(5):
        randomize(
            trial,
            site_a,
            randomized_on=D(2024, 1, 1) + dt.timedelta(days=n),
            now=at(D(2024, 1, 1) + dt.timedelta(days=n)),
        )
    now = at(D(2026, 1, 1))
    first = sweep_assessments(now=now)
    events = AuditEvent.objects.count()
    second = sweep_assessments(now=now)
    # baseline, 6 and 18 months of 5 women
    assert first == {"opened": 0, "missed": 15, "partial": 0}
    assert second == {"opened": 0, "missed": 0, "partial": 0}
    assert AuditEvent.objects.count() == events


@pytest.mark.django_db
def test_a_scheduled_window_that_closed_unseen_goes_straight_to_missed(trial, site_a):
    p = randomize(trial, site_a, randomized_on=D(2024, 1, 15), now=at(D(2024, 1, 15)))
    sweep_assessments(now=at(D(2025, 1, 1)))
    m6 = p.assessments.get(visit__code="m6")
    assert m6.status == S.MISSED
    assert list(m6.audit_events.values_list("from_status", "to_status")) == [
        (S.SCHEDULED, S.MISSED)
    ]


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_claim_each_transition_exactly_once(trial, site_a):
    assert connection.vendor == "postgresql"
    for n in range(60):
        randomize(
            trial,
            site_a,
            randomized_on=D(2023, 1, 1) + dt.timedelta(days=n),
            now=at(D(2023, 1, 1) + dt.timedelta(days=n)),
            study_id=f"E2108-{n:04d}",
        )
    now = at(D(2025, 9, 1))
    barrier = threading.Barrier(2)
    results: list[dict[str, int]] = []

    def sweep() -> None:
        try:
            barrier.wait()
            results.append(sweep_assessments(now=now))
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    expected_missed = Assessment.objects.filter(closes_at__lte=now).count()
    expected_opened = Assessment.objects.filter(opens_at__lte=now, closes_at__gt=now).count()
    assert expected_missed > 0 and expected_opened > 0
    assert sum(r["missed"] for r in results) == expected_missed
    assert sum(r["opened"] for r in results) == expected_opened
    # One audit row per transition, never two.
    sweep_events = AuditEvent.objects.filter(actor_label="system:sweep")
    assert sweep_events.count() == expected_missed + expected_opened
    assert sweep_events.values("assessment", "to_status").distinct().count() == sweep_events.count()


@pytest.mark.django_db
def test_the_sweep_task_records_a_task_run(trial, site_a):
    from surveys.models import TaskRun
    from surveys.tasks import sweep_assessments_task

    randomize(trial, site_a, randomized_on=D(2020, 1, 1), now=at(D(2020, 1, 1)))
    result = sweep_assessments_task()
    run = TaskRun.objects.get()
    assert run.result == result == {"opened": 0, "missed": 4, "partial": 0}
    assert run.finished_at is not None
