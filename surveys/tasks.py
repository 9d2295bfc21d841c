"""Celery tasks: thin wrappers that call one plain function each, under stable names.

The names (``surveys.sweep_assessments``, ``surveys.run_export``, ...) are what
beat's schedule and already-queued messages use: never rename them. Time
limits are not set here: ``ecogprom.celery.TASK_TIME_LIMITS`` holds them all. Jobs are
sent by name (:mod:`surveys.jobs.dispatch`), so no module imports this one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import shared_task
from celery.signals import worker_ready
from django.db import connection
from django.utils import timezone

from surveys.jobs.claims import Outcome
from surveys.jobs.periodic import run_recorded
from surveys.jobs.recovery import recover_stale_jobs
from surveys.jobs.retention import expire_exports

log = logging.getLogger(__name__)


@shared_task(name="surveys.sweep_assessments", acks_late=True)
def sweep_assessments_task() -> dict[str, Any]:
    from surveys.trial.sweep import sweep_assessments

    return run_recorded("surveys.sweep_assessments", lambda: sweep_assessments(now=timezone.now()))


@shared_task(name="surveys.send_coordinator_digests", acks_late=True)
def send_coordinator_digests_task() -> dict[str, Any]:
    from surveys.coordinator.digest import send_coordinator_digests

    return run_recorded(
        "surveys.send_coordinator_digests", lambda: send_coordinator_digests(now=timezone.now())
    )


@shared_task(name="surveys.send_reminders", acks_late=True)
def send_reminders_task() -> dict[str, Any]:
    from surveys.outreach.reminders import send_due_reminders

    return run_recorded("surveys.send_reminders", lambda: send_due_reminders(now=timezone.now()))


@shared_task(name="surveys.erase_contacts", acks_late=True)
def erase_contacts_task() -> dict[str, Any]:
    from surveys.outreach.contacts import erase_contacts_after_off_study

    return run_recorded(
        "surveys.erase_contacts", lambda: erase_contacts_after_off_study(now=timezone.now())
    )


# --- jobs (exports, analysis runs) -----------------------------------------------------------
# Idempotent: the job row is claimed under a lease, so a redelivered message (late ack,
# worker lost) finishes a job whose executor died and does nothing to a finished one.

BUSY_RETRY_SECONDS = 5
BUSY_MAX_RETRIES = 400  # 5 s x 400 > the 30-minute hard time limit of the live executor


def _run_job(task: Any, run: Callable[[int], Outcome], job_id: int) -> str:
    outcome = run(job_id)
    if outcome is Outcome.BUSY:
        raise task.retry(countdown=BUSY_RETRY_SECONDS)
    return outcome.value


@shared_task(name="surveys.run_export", bind=True, acks_late=True, max_retries=BUSY_MAX_RETRIES)
def run_export_task(self: Any, job_id: int) -> str:
    from surveys.statistician.exports.jobs import run_export_job

    return _run_job(self, run_export_job, job_id)


@shared_task(name="surveys.run_analysis", bind=True, acks_late=True, max_retries=BUSY_MAX_RETRIES)
def run_analysis_task(self: Any, run_id: int) -> str:
    from surveys.statistician.analysis.runs import execute_run

    return _run_job(self, execute_run, run_id)


@shared_task(name="surveys.expire_exports", acks_late=True)
def expire_exports_task() -> dict[str, Any]:
    return run_recorded("surveys.expire_exports", lambda: expire_exports(now=timezone.now()))


@shared_task(name="surveys.recover_jobs", acks_late=True)
def recover_jobs_task() -> dict[str, Any]:
    return run_recorded("surveys.recover_jobs", recover_stale_jobs)


@worker_ready.connect
def _recover_jobs_when_a_worker_starts(**kwargs: Any) -> None:
    """A worker that starts after a crash picks up the jobs the dead one left running."""
    try:
        sent = recover_stale_jobs()
        if any(sent.values()):
            log.warning("re-sent jobs left by a dead worker: %s", sent)
    except Exception:
        log.exception("job recovery at worker start failed")
    finally:
        connection.close()
