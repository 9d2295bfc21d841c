"""Analysis runs and exports through a real Celery worker on Redis, including killed workers.

To kill a worker *mid-run* deterministically, the test holds an exclusive
lock on the scores table from its own database connection: the run claims
its row, then blocks reading the scored data. The test kills the worker
there, releases the lock, and checks that the run still completes, once.
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import psycopg
import pytest
import redis
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection

from scoring.compare import compare
from surveys.jobs.dispatch import enqueue
from surveys.models import AnalysisRun, AuditEvent, ExportJob, JobStatus, Score
from surveys.statistician.analysis import runs
from surveys.statistician.analysis.compute import records
from surveys.statistician.analysis.snapshot import digest, from_bytes, received_scores
from surveys.statistician.exports.jobs import export_create
from tests.conftest import wait_for

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

PARAMETERS = {"measures": ["TOI", "FACTB", "LR1"], "mixed_model": True, "mid_responders": True}
FINAL = (JobStatus.SUCCEEDED, JobStatus.FAILED)


@pytest.fixture
def media_cleanup():
    created: list[str] = []
    yield created
    for folder in created:
        shutil.rmtree(default_storage.path(folder), ignore_errors=True)


def finished(model, pk: int, timeout: float = 45):
    return wait_for(lambda: model.objects.filter(pk=pk, status__in=FINAL).first(), timeout)


def assert_results_are_compare_on_the_snapshot(run: AnalysisRun) -> None:
    with run.snapshot.open("rb") as fh:
        data = fh.read()
    assert digest(data) == run.snapshot_hash
    frame = received_scores(from_bytes(data))
    assert run.results["compare"] == records(compare(frame, measures=PARAMETERS["measures"]))


def _connect() -> psycopg.Connection:
    db = settings.DATABASES["default"]
    return psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=connection.settings_dict["NAME"]
    )


def _lock_scores() -> psycopg.Connection:
    blocker = _connect()
    blocker.execute(f"LOCK TABLE {Score._meta.db_table} IN ACCESS EXCLUSIVE MODE")
    return blocker  # the lock lasts until this transaction ends


def _someone_waits_for_scores() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE c.relname = %s AND NOT l.granted",
            [Score._meta.db_table],
        )
        return cursor.fetchone()[0] > 0


def _lease_is_held(run_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid = %s AND objid = %s",
            [AnalysisRun.lease_namespace, run_id],
        )
        return cursor.fetchone()[0] > 0


def _pool_children(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                children.append(int(entry.name))
    return children


def _start_blocked_run(stat_user, media_cleanup) -> tuple[AnalysisRun, psycopg.Connection]:
    blocker = _lock_scores()
    run = runs.run_start(user=stat_user, parameters=PARAMETERS)
    media_cleanup.append(f"analysis/run-{run.pk}")
    wait_for(lambda: AnalysisRun.objects.filter(pk=run.pk, status=JobStatus.RUNNING).exists())
    wait_for(_someone_waits_for_scores)  # claimed, and now stuck reading the scored data
    return run, blocker


def _assert_finished_exactly_once(run: AnalysisRun) -> AnalysisRun:
    done = finished(AnalysisRun, run.pk)
    assert done.status == JobStatus.SUCCEEDED, done.error
    assert done.attempts == 2  # the killed attempt, then the one that finished
    assert AuditEvent.objects.filter(action="analysis", details__analysis_run=run.pk).count() == 1
    assert done.results["attempt"] == 2
    assert done.snapshot.name.startswith(f"analysis/run-{run.pk}/attempt-2/")
    assert_results_are_compare_on_the_snapshot(done)
    return done


def test_an_analysis_run_goes_through_the_worker_on_redis(
    celery_worker, study, stat_user, media_cleanup
):
    run = runs.run_start(user=stat_user, parameters=PARAMETERS)
    media_cleanup.append(f"analysis/run-{run.pk}")
    done = finished(AnalysisRun, run.pk)
    assert done.status == JobStatus.SUCCEEDED, done.error
    assert done.attempts == 1
    host_pid = done.worker.split("#")[0]
    assert host_pid.rsplit(":", 1)[1] != str(os.getpid())  # another process ran it
    assert_results_are_compare_on_the_snapshot(done)
    assert done.results["mixed"] and done.results["mid"]
    assert done.plot_png and done.plot_svg


def test_a_killed_pool_process_is_redelivered_and_the_run_finishes_once(
    celery_worker, study, stat_user, media_cleanup
):
    run, blocker = _start_blocked_run(stat_user, media_cleanup)
    try:
        (child,) = _pool_children(celery_worker.proc.pid)
        os.kill(child, signal.SIGKILL)  # late ack + reject on worker lost: redelivered
    finally:
        blocker.close()  # the dead attempt's session ends; its lease goes with it
    _assert_finished_exactly_once(run)
    assert celery_worker.proc.poll() is None


def test_a_killed_worker_leaves_the_run_to_be_finished_once_after_a_restart(
    celery_worker, study, stat_user, media_cleanup
):
    run, blocker = _start_blocked_run(stat_user, media_cleanup)
    try:
        os.killpg(celery_worker.proc.pid, signal.SIGKILL)  # the whole worker, pool and all
        celery_worker.proc.wait()
    finally:
        blocker.close()
    wait_for(lambda: not _lease_is_held(run.pk))  # the dead session is gone
    assert AnalysisRun.objects.get(pk=run.pk).status == JobStatus.RUNNING
    try:
        celery_worker.restart()  # a new worker picks up what the dead one left running
        _assert_finished_exactly_once(run)
    finally:
        # The dead worker's unacknowledged message would come back after the broker's
        # visibility timeout (an hour), possibly into another test session: drop it.
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
        client.delete("unacked", "unacked_index")


def test_a_large_export_is_built_by_the_worker(celery_worker, study, stat_user, media_cleanup):
    job = export_create(user=stat_user, kind="sdtm_qs", fmt="xpt", filters={"sites": ["B01"]})
    media_cleanup.append(f"exports/{job.pk}")
    enqueue(job)
    done = finished(ExportJob, job.pk)
    assert done.status == JobStatus.SUCCEEDED, done.error
    assert done.row_count > 0 and done.file.name.endswith(f"qs_{job.pk}.xpt")
    assert AuditEvent.objects.filter(action="export", details__export=job.pk).count() == 1


def test_beat_s_retention_task_expires_old_exports_in_the_worker(
    celery_worker, study, stat_user, media_cleanup
):
    """Sent by its stable name, as beat sends it: the worker deletes the files, marks it."""
    import datetime as dt

    from django.utils import timezone

    from surveys.jobs.dispatch import send
    from surveys.models import TaskRun
    from surveys.statistician.exports.jobs import run_export_job

    job = export_create(user=stat_user, kind="items", fmt="csv", filters={})
    run_export_job(job.pk)
    media_cleanup.append(f"exports/{job.pk}")
    job.refresh_from_db()
    path = Path(job.file.path)
    assert path.exists()
    ExportJob.objects.filter(pk=job.pk).update(finished_at=timezone.now() - dt.timedelta(days=40))
    send("surveys.expire_exports")
    run = wait_for(lambda: TaskRun.objects.filter(name="surveys.expire_exports").first())
    assert wait_for(lambda: TaskRun.objects.get(pk=run.pk).finished_at)
    assert TaskRun.objects.get(pk=run.pk).result["expired"] == [job.pk]
    job.refresh_from_db()
    assert job.status == JobStatus.EXPIRED and not path.exists()
