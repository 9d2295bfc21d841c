"""Leases and claims for background jobs: run each once, survive a dead worker.

A job's row is claimed with ``select_for_update`` and a fresh claim token
(stored in ``worker``), counting the attempt;
the result is stored with a compare-and-set on that token, so a worker that
lost its claim can never overwrite the winner. Who may take over a row left
``running``:

* PostgreSQL: whoever holds the job's *session advisory lock*. The executor
  holds it for the whole run on its own connection; when its process dies,
  the connection closes and PostgreSQL releases the lock at once. So a
  redelivered task that gets the lock knows the previous executor is dead,
  and one that does not get it knows a live one is still running it.
* Other databases (the SQLite demo, one worker): a running row whose claim
  is older than Celery's hard time limit (plus a margin) is dead by
  definition, because the limit would have killed it.

A job whose executor died ``max_attempts`` times (killed, out of memory, over
the time limit) is failed at its next claim instead of being run again, so a
job that keeps killing its worker is not re-sent forever.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import time
import uuid
from collections.abc import Iterator
from enum import StrEnum
from typing import TypeVar

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from ecogprom.celery import app
from surveys.models import FINISHED, Job, JobStatus

J = TypeVar("J", bound=Job)

#: how long a redelivered task waits for a dying executor's lock to be released.
LEASE_WAIT_SECONDS = 3.0


class Outcome(StrEnum):
    DONE = "done"  # this call finished the job (succeeded or failed)
    ALREADY_DONE = "already_done"  # someone else had finished it; nothing done
    BUSY = "busy"  # a live executor holds it; try again later
    MISSING = "missing"  # no such job


def worker_label() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def new_token() -> str:
    return f"{worker_label()}#{uuid.uuid4().hex[:12]}"


def uses_advisory_locks() -> bool:
    return connection.vendor == "postgresql"


def hard_time_limit() -> dt.timedelta:
    seconds = app.conf.task_time_limit or getattr(settings, "CELERY_TASK_TIME_LIMIT", None) or 1800
    return dt.timedelta(seconds=int(seconds) + 60)


def _try_lock(namespace: int, job_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [namespace, int(job_id)])
        return bool(cursor.fetchone()[0])


def _unlock(namespace: int, job_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [namespace, int(job_id)])


@contextlib.contextmanager
def lease(namespace: int, job_id: int, *, wait: float | None = None) -> Iterator[bool]:
    """Hold the job's lease for the body; yields False when a live executor has it.

    Waits up to *wait* seconds: a killed executor's connection may take a
    moment to be closed by the server. Without advisory locks (not
    PostgreSQL) always yields True; the claim then uses the time-limit rule.
    """
    if not uses_advisory_locks():
        yield True
        return
    deadline = time.monotonic() + (LEASE_WAIT_SECONDS if wait is None else wait)
    acquired = _try_lock(namespace, job_id)
    while not acquired and time.monotonic() < deadline:
        time.sleep(0.1)
        acquired = _try_lock(namespace, job_id)
    try:
        yield acquired
    finally:
        if acquired:
            with contextlib.suppress(Exception):
                _unlock(namespace, job_id)


def executor_alive(namespace: int, job_id: int, claimed_at: dt.datetime | None) -> bool:
    """Is some live process executing this job right now (as far as we can tell)?"""
    if uses_advisory_locks():
        if _try_lock(namespace, job_id):
            _unlock(namespace, job_id)
            return False
        return True
    if claimed_at is None:
        return False
    return timezone.now() - claimed_at < hard_time_limit()


def may_take_over(claimed_at: dt.datetime | None, now: dt.datetime) -> bool:
    """With the lease held, may a ``running`` row be taken over?

    On PostgreSQL holding the lease proves the previous executor is gone; on
    other databases only a claim older than the hard time limit is dead.
    """
    if uses_advisory_locks():
        return True
    return claimed_at is None or now - claimed_at >= hard_time_limit()


def claim(model: type[J], job_id: int, now: dt.datetime) -> tuple[Outcome | None, J | None]:
    """Claim a job for this executor (call with its lease held).

    Returns ``(None, job)`` when this call now owns the job: it is ``running``
    with ``attempts + 1`` and a fresh claim token in ``worker``. Otherwise the
    outcome that ends the attempt: no such job, finished already, a live
    executor has it, or (``DONE``) it was failed here because its executors
    kept dying.
    """
    with transaction.atomic():
        job = model._default_manager.select_for_update().filter(pk=job_id).first()
        if job is None:
            return Outcome.MISSING, None
        if job.status in FINISHED:
            return Outcome.ALREADY_DONE, job
        if job.status == JobStatus.RUNNING:
            if not may_take_over(job.started_at, now):
                return Outcome.BUSY, job
            if job.attempts >= model.max_attempts:
                job.status = JobStatus.FAILED
                job.finished_at = now
                job.error = (
                    f"gave up after {job.attempts} attempts: each time the worker running it "
                    "died (killed, out of memory, or over the time limit)"
                )
                job.save(update_fields=["status", "finished_at", "error"])
                return Outcome.DONE, None
        job.status = JobStatus.RUNNING
        job.attempts += 1
        job.worker = new_token()
        job.started_at = now
        job.error = ""
        job.save(update_fields=["status", "attempts", "worker", "started_at", "error"])
        return None, job
