"""Celery tasks: thin wrappers that call one plain function each.

Periodic tasks hold a non-blocking Redis lock (when the broker is Redis) so
two runs never overlap, record a ``TaskRun`` row, and return a small dict.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator
from typing import Any

from celery import shared_task
from celery.signals import worker_ready
from django.utils import timezone

from ecogprom.celery import app
from surveys.models import TaskRun


@contextlib.contextmanager
def _single_run(name: str, timeout: int = 3600) -> Iterator[bool]:
    """Yield True when this process holds the run lock for *name*.

    The sweep is correct even without the lock (compare-and-set); the lock
    only saves a second worker the work.
    """
    url = str(app.conf.broker_url)
    if not url.startswith(("redis://", "rediss://")):
        yield True
        return
    import redis

    client = redis.Redis.from_url(url, socket_timeout=3)
    lock = client.lock(f"ecogprom:lock:{name}", timeout=timeout, blocking=False)
    acquired = bool(lock.acquire(blocking=False))
    try:
        yield acquired
    finally:
        if acquired:
            with contextlib.suppress(Exception):
                lock.release()


def run_recorded(name: str, func: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run *func* under the run lock and record a TaskRun row with its result."""
    with _single_run(name) as acquired:
        if not acquired:
            return {"skipped": "another run holds the lock"}
        run = TaskRun.objects.create(
            name=name, started_at=timezone.now(), worker=socket.gethostname()
        )
        result = func()
        run.finished_at = timezone.now()
        run.result = result
        run.save(update_fields=["finished_at", "result"])
        return result


@shared_task(name="surveys.sweep_assessments", acks_late=True, time_limit=1800)
def sweep_assessments_task() -> dict[str, Any]:
    from surveys.trial.sweep import sweep_assessments

    return run_recorded("surveys.sweep_assessments", lambda: sweep_assessments(now=timezone.now()))


@shared_task(name="surveys.send_coordinator_digests", acks_late=True, time_limit=600)
def send_coordinator_digests_task() -> dict[str, Any]:
    from surveys.coordinator.digest import send_coordinator_digests

    return run_recorded(
        "surveys.send_coordinator_digests", lambda: send_coordinator_digests(now=timezone.now())
    )


# --- statistician jobs: exports and analysis runs ------------------------------------------
# Idempotent: the job row is claimed under a lease, so a redelivered message (late ack,
# worker lost) finishes a job whose executor died and does nothing to a finished one.

BUSY_RETRY_SECONDS = 5
BUSY_MAX_RETRIES = 400  # 5 s x 400 > the 30-minute hard time limit of the live executor


@shared_task(name="surveys.run_export", bind=True, acks_late=True, max_retries=BUSY_MAX_RETRIES)
def run_export_task(self: Any, job_id: int) -> str:
    from surveys.services.job_claims import Outcome
    from surveys.statistician.exports.jobs import run_export_job

    outcome = run_export_job(job_id)
    if outcome is Outcome.BUSY:
        raise self.retry(countdown=BUSY_RETRY_SECONDS)
    return outcome.value


@shared_task(name="surveys.run_analysis", bind=True, acks_late=True, max_retries=BUSY_MAX_RETRIES)
def run_analysis_task(self: Any, run_id: int) -> str:
    from surveys.services.job_claims import Outcome
    from surveys.statistician.analysis.runs import execute_run

    outcome = execute_run(run_id)
    if outcome is Outcome.BUSY:
        raise self.retry(countdown=BUSY_RETRY_SECONDS)
    return outcome.value


@shared_task(name="surveys.recover_jobs", acks_late=True, time_limit=300)
def recover_jobs_task() -> dict[str, Any]:
    from surveys.statistician.analysis.runs import recover_stale_jobs

    return run_recorded("surveys.recover_jobs", recover_stale_jobs)


@worker_ready.connect
def _recover_jobs_when_a_worker_starts(**kwargs: Any) -> None:
    """A worker that starts after a crash picks up the jobs the dead one left running."""
    import logging

    from django.db import connection

    from surveys.statistician.analysis.runs import recover_stale_jobs

    try:
        sent = recover_stale_jobs()
        if any(sent.values()):
            logging.getLogger(__name__).warning("re-sent jobs left by a dead worker: %s", sent)
    except Exception:
        logging.getLogger(__name__).exception("job recovery at worker start failed")
    finally:
        connection.close()
