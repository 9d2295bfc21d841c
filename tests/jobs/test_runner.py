"""The one job runner: both kinds claimed, capped, stored and recovered the same way."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from ecogprom.celery import app
from surveys.jobs import claims, dispatch, recovery
from surveys.jobs.claims import Outcome
from surveys.models import AnalysisRun, AuditEvent, ExportJob, Job, JobStatus
from surveys.statistician.analysis.runs import execute_run, run_start
from surveys.statistician.exports.jobs import export_create, run_export_job

pytestmark = pytest.mark.django_db

RUNNERS = {ExportJob: run_export_job, AnalysisRun: execute_run}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, int]]:
    """What would have gone to the broker, as (task name, job id)."""
    messages: list[tuple[str, int]] = []
    monkeypatch.setattr(dispatch, "send", lambda name, pk: messages.append((name, pk)))
    return messages


def new_job(model: type[Job], user) -> Job:
    if model is ExportJob:
        return export_create(user=user, kind="scored", fmt="csv")
    return run_start(user=user, parameters={"measures": ["TOI"]})


def test_every_job_kind_names_a_registered_task_and_its_own_lease_namespace():
    import surveys.tasks  # noqa: F401  (registers the tasks)

    kinds = recovery.job_models()
    assert set(kinds) == {ExportJob, AnalysisRun}
    for model in kinds:
        assert model.task_name in app.tasks
    assert len({model.lease_namespace for model in kinds}) == len(kinds)


def test_enqueue_sends_by_task_name_once_the_transaction_commits(
    trial, stat_user, sent, django_capture_on_commit_callbacks
):
    job = export_create(user=stat_user, kind="scored", fmt="csv")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        dispatch.enqueue(job)
        assert sent == []  # nothing before the commit
    assert len(callbacks) == 1
    assert sent == [("surveys.run_export", job.pk)]


def test_an_export_is_claimed_with_a_token_and_counted_like_a_run(trial, stat_user):
    job = export_create(user=stat_user, kind="scored", fmt="csv")
    assert run_export_job(job.pk) is Outcome.DONE
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 1
    assert job.worker.count("#") == 1  # host:pid#token
    assert run_export_job(job.pk) is Outcome.ALREADY_DONE
    assert AuditEvent.objects.filter(action="export", details__export=job.pk).count() == 1


@pytest.mark.parametrize("model", [ExportJob, AnalysisRun], ids=lambda m: m.__name__)
def test_a_job_whose_workers_keep_dying_stops_being_resent_and_is_failed(
    model, trial, stat_user, sent
):
    job = new_job(model, stat_user)
    for attempt in range(1, model.max_attempts + 1):
        outcome, claimed = claims.claim(model, job.pk, timezone.now())
        assert outcome is None and claimed.attempts == attempt  # ... and its worker dies
        later = timezone.now() + dt.timedelta(seconds=1)
        assert job.pk in recovery.recover_stale_jobs(now=later)[model.report_key]
    assert RUNNERS[model](job.pk) is Outcome.DONE  # the re-sent message finds the cap
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.attempts == model.max_attempts
    assert f"gave up after {model.max_attempts} attempts" in job.error
    sent.clear()
    recovery.recover_stale_jobs(now=timezone.now() + dt.timedelta(hours=1))
    assert sent == []  # never sent again
    assert RUNNERS[model](job.pk) is Outcome.ALREADY_DONE


def test_recovery_resends_orphaned_and_lost_jobs_of_every_kind_only(trial, stat_user, sent):
    now = dt.datetime.now(dt.UTC)
    orphan = run_start(user=stat_user, parameters={})
    AnalysisRun.objects.filter(pk=orphan.pk).update(status=JobStatus.RUNNING, started_at=now)
    lost = run_start(user=stat_user, parameters={})
    AnalysisRun.objects.filter(pk=lost.pk).update(created_at=now - dt.timedelta(hours=1))
    fresh = run_start(user=stat_user, parameters={})
    lost_export = export_create(user=stat_user, kind="items", fmt="csv")
    ExportJob.objects.filter(pk=lost_export.pk).update(created_at=now - dt.timedelta(hours=1))
    done = export_create(user=stat_user, kind="items", fmt="csv")
    assert run_export_job(done.pk) is Outcome.DONE
    result = recovery.recover_stale_jobs(now=now)
    assert sorted(result["analysis_runs"]) == sorted([orphan.pk, lost.pk])
    assert result["exports"] == [lost_export.pk]
    assert sorted(sent) == sorted(
        [
            ("surveys.run_analysis", orphan.pk),
            ("surveys.run_analysis", lost.pk),
            ("surveys.run_export", lost_export.pk),
        ]
    )
    assert ("surveys.run_analysis", fresh.pk) not in sent
