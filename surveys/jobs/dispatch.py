"""Sending jobs to the workers: by the task's stable name, once the transaction commits.

Nothing here imports the tasks: a job is sent as ``(task name, job id)``,
the name being the job model's ``task_name`` (``surveys.run_export``,
``surveys.run_analysis``), which beat and already-queued messages also use.
"""

from __future__ import annotations

from django.db import transaction

from ecogprom.celery import app
from surveys.models import Job


def send(task_name: str, *args: int) -> str:
    """Put one message for the task on the broker now; return the message id."""
    return str(app.send_task(task_name, args=list(args)).id)


def enqueue(job: Job) -> None:
    """Send *job* to a worker once the surrounding transaction commits.

    A broker that cannot be reached is logged, not raised (the job stays
    queued and :mod:`surveys.jobs.recovery` sends it again later).
    """
    task_name, job_id = job.task_name, job.pk

    def send_it() -> None:
        send(task_name, job_id)

    transaction.on_commit(send_it, robust=True)
