"""Recovery: send again every job that no live worker is executing, of every kind.

Jobs left ``running`` by a dead worker (a whole machine gone: the broker
would only redeliver after its visibility timeout), and queued ones whose
message was lost (broker down when they were enqueued). A message sent twice
is harmless: the claim lets one execution through, and a job whose executors
keep dying is failed at its next claim (``max_attempts``).
"""

from __future__ import annotations

import datetime as dt

from django.apps import apps
from django.utils import timezone

from surveys.jobs import dispatch
from surveys.jobs.claims import executor_alive
from surveys.models import Job, JobStatus

#: A queued job untouched for this long is sent to the workers again.
QUEUED_GRACE = dt.timedelta(minutes=2)


def job_models() -> list[type[Job]]:
    """Every concrete kind of job, in a stable order."""
    found = [m for m in apps.get_app_config("surveys").get_models() if issubclass(m, Job)]
    return sorted(found, key=lambda model: model.report_key)


def recover_stale_jobs(*, now: dt.datetime | None = None) -> dict[str, list[int]]:
    """Send again each queued or running job that is not being executed; return their ids."""
    now = now or timezone.now()
    sent: dict[str, list[int]] = {}
    for model in job_models():
        sent[model.report_key] = []
        pending = model._default_manager.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
        for pk, status, started_at, created_at in pending.values_list(
            "pk", "status", "started_at", "created_at"
        ):
            if status == JobStatus.QUEUED and now - created_at < QUEUED_GRACE:
                continue
            if status == JobStatus.RUNNING and executor_alive(
                model.lease_namespace, pk, started_at
            ):
                continue
            dispatch.send(model.task_name, pk)
            sent[model.report_key].append(pk)
    return sent
