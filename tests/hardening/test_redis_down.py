"""Redis down: patients still answer and submit; queued jobs run once it is back."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator

import pytest
from django.urls import reverse
from django.utils import timezone

from ecogprom.celery import app
from ecogprom.health import broker_status
from surveys.jobs import recovery
from surveys.models import AnalysisRun, Assessment, JobStatus, Response, Score
from surveys.statistician.analysis import runs
from tests.conftest import wait_for
from tests.factories import randomize

DEAD_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@contextlib.contextmanager
def redis_unreachable() -> Iterator[None]:
    """This process (the web server) cannot reach the broker; the worker keeps its own."""
    real = app.conf.broker_url

    def switch(url: str) -> None:
        app.conf.broker_url = app.conf.broker_write_url = url
        app._pool = None  # connection pools are rebuilt from the new URL
        app.amqp._producer_pool = None

    switch(DEAD_BROKER)
    try:
        assert broker_status().startswith("error")
        yield
    finally:
        switch(real)


@pytest.mark.django_db
def test_patients_answer_and_submit_while_redis_is_down(client, trial, site_a, coordinator_a):
    participant = randomize(trial, site_a, randomized_on=timezone.localdate(), now=timezone.now())
    assessment = participant.assessments.get(visit__code="baseline")
    with redis_unreachable():
        client.force_login(coordinator_a)
        handed = client.post(
            reverse("tablet:start", args=[assessment.pk]),
            {"pin": "2468", "pin_confirm": "2468", "assistance": "none", "language": "en"},
        )
        assert handed.status_code == 302
        for n, item in enumerate(("GP1", "GP2", "GS1", "GE1", "GF1")):
            saved = client.post(
                reverse("tablet:answer"),
                json.dumps(
                    {
                        "assessment": assessment.pk,
                        "item": item,
                        "value": n % 5,
                        "key": f"tap-{item}",
                    }
                ),
                content_type="application/json",
            )
            assert saved.status_code == 200, saved.content
        submitted = client.post(reverse("tablet:submit"))
        assert submitted.status_code == 302
    assessment.refresh_from_db()
    assert assessment.status == Assessment.Status.COMPLETED
    assert Response.objects.filter(assessment=assessment).count() == 5
    assert Score.objects.filter(assessment=assessment).exists()


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_job_started_while_redis_is_down_runs_when_it_is_back(celery_worker, study, stat_user):
    with redis_unreachable():
        run = runs.run_start(user=stat_user, parameters={"measures": ["TOI"]})
    run.refresh_from_db()
    assert run.status == JobStatus.QUEUED  # accepted and recorded, not lost
    # Redis is back: the periodic recovery re-sends jobs whose message never left.
    later = timezone.now() + recovery.QUEUED_GRACE + dt.timedelta(seconds=1)
    sent = recovery.recover_stale_jobs(now=later)
    assert run.pk in sent["analysis_runs"]
    done = wait_for(
        lambda: AnalysisRun.objects.filter(pk=run.pk, status=JobStatus.SUCCEEDED).first(), 60
    )
    assert done.results["compare"]
    assert done.attempts == 1
