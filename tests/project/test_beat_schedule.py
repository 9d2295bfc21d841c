"""Every beat entry is sent the way beat sends it and runs to the end in a real worker.

Beat registers the tasks and calls ``task.apply_async`` with the entry's
options, so a task whose soft time limit exceeds its hard one is refused at
sending ("soft_time_limit must be less than or equal to time_limit") and never
runs; calling the task functions directly, as the other tests do, cannot see
that. Here the scheduler of a real ``celery beat`` service sends each entry
to Redis and a real worker records a finished ``TaskRun`` for it.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
from celery import beat

from ecogprom.celery import DEFAULT_TIME_LIMITS, TASK_TIME_LIMITS, app
from surveys.models import TaskRun
from tests.conftest import ROOT, _worker_env, wait_for


def surveys_tasks() -> dict[str, object]:
    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if name.startswith("surveys.")}


def test_every_task_has_a_soft_limit_below_its_hard_limit():
    tasks = surveys_tasks()
    assert set(tasks) >= {entry["task"] for entry in app.conf.beat_schedule.values()}
    for name, task in tasks.items():
        soft, hard = task.soft_time_limit, task.time_limit  # type: ignore[attr-defined]
        assert soft and hard, name
        assert soft < hard, f"{name}: soft {soft} s is not below hard {hard} s"
        assert (soft, hard) == TASK_TIME_LIMITS.get(name, DEFAULT_TIME_LIMITS).as_tuple()


def test_time_limits_live_in_one_table():
    # No task sets its own limits (they would silently disagree with the table).
    source = (ROOT / "surveys" / "tasks.py").read_text()
    assert "time_limit" not in source
    assert set(TASK_TIME_LIMITS) <= set(surveys_tasks())


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_beat_sends_every_entry_and_the_worker_finishes_each(celery_worker, tmp_path):
    assert str(app.conf.broker_url).startswith("redis://")
    app.loader.import_default_modules()  # as beat does at start: the tasks are registered
    service = beat.Service(app=app, schedule_filename=str(tmp_path / "beat-schedule"))
    scheduler = service.get_scheduler()
    try:
        entries = [scheduler.schedule[name] for name in app.conf.beat_schedule]
        assert {e.task for e in entries} == {
            "surveys.sweep_assessments",
            "surveys.recover_jobs",
            "surveys.send_coordinator_digests",
            "surveys.expire_exports",
            "surveys.send_reminders",
            "surveys.erase_contacts",
        }
        for entry in entries:
            # What beat's apply_entry does, minus its catch-and-log of the exception.
            scheduler.apply_async(entry, producer=scheduler.producer, advance=False)
    finally:
        scheduler.close()
    for entry in entries:
        run = wait_for(
            lambda name=entry.task: TaskRun.objects.filter(
                name=name, finished_at__isnull=False
            ).first(),
            timeout=60,
        )
        assert isinstance(run.result, dict), entry.task


def _stored_schedule_due_now(path) -> None:
    """Write beat's schedule file with every entry last run two days ago (all due at start)."""
    scheduler = beat.PersistentScheduler(app=app, schedule_filename=str(path))
    try:
        long_ago = scheduler.app.now() - dt.timedelta(days=2)
        for name in app.conf.beat_schedule:
            scheduler.schedule[name].last_run_at = long_ago
        scheduler.sync()
    finally:
        scheduler.close()


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_the_celery_beat_command_sends_every_due_entry_to_the_worker(celery_worker, tmp_path):
    """The real ``celery beat`` process, every entry due: each one runs in the worker."""
    from django.db import connection

    log = tmp_path / "beat.log"
    schedule = tmp_path / "beat-schedule"
    _stored_schedule_due_now(schedule)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "ecogprom",
            "beat",
            "--loglevel=INFO",
            f"--schedule={schedule}",
            "--max-interval=1",
        ],
        cwd=ROOT,
        env=_worker_env(connection.settings_dict["NAME"]),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    names = {entry["task"] for entry in app.conf.beat_schedule.values()}
    try:
        wait_for(
            lambda: (
                set(
                    TaskRun.objects.filter(name__in=names, finished_at__isnull=False).values_list(
                        "name", flat=True
                    )
                )
                == names
                or proc.poll() is not None
                or "Message Error" in log.read_text()
            ),
            timeout=90,
        )
        assert proc.poll() is None, log.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    text = log.read_text()
    assert "beat: Starting..." in text
    assert "ERROR" not in text and "Traceback" not in text, text
    for name in names:
        assert "Sending due task" in text and f"({name})" in text
        assert TaskRun.objects.filter(name=name, finished_at__isnull=False).exists(), name
