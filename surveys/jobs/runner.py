"""The one executor of background jobs: lease, claim, work, compare-and-set, audit.

:func:`execute` is what every job task calls (through its kind's thin
function, e.g. ``run_export_job``). It is idempotent and safe from any number
of workers:

1. take the job's lease (:func:`surveys.jobs.claims.lease`): a live executor
   elsewhere means "busy, try later";
2. claim the row (:func:`surveys.jobs.claims.claim`): a finished job is left
   alone; a queued one, or a running one whose executor died, gets a new claim
   token and ``attempts + 1``; one whose executors died ``max_attempts`` times
   is failed;
3. run the kind's *work* (build the files, compute the statistics), which
   returns what to store and what to audit;
4. store it with a compare-and-set on the claim token, so only the executor
   that still holds the claim can finish the job, and record the audit event.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from surveys.jobs.claims import J, Outcome, claim, lease
from surveys.models import AuditEvent, JobStatus, actor_fields

log = logging.getLogger(__name__)

#: Stored error messages are cut to this many characters.
MAX_ERROR = 5000


@dataclass(frozen=True)
class Done:
    """What a job's work produced: fields stored on the row, and the audit event's details."""

    fields: Mapping[str, Any]
    audit: Mapping[str, Any] = field(default_factory=dict)


def execute(
    model: type[J],
    job_id: int,
    *,
    work: Callable[[J, dt.datetime], Done],
    expected: tuple[type[Exception], ...] = (),
    now: dt.datetime | None = None,
) -> Outcome:
    """Run job *job_id* of *model* once; return what this call did.

    *work* gets the claimed job and the claim time. An exception it raises
    fails the job with the message; one of the *expected* kinds (bad input,
    not a bug) is stored as it is and not logged as an error.
    """
    with lease(model.lease_namespace, job_id) as held:
        if not held:
            return Outcome.BUSY
        claimed_at = now or timezone.now()
        outcome, job = claim(model, job_id, claimed_at)
        if outcome is not None or job is None:
            return outcome or Outcome.MISSING
        mine = model._default_manager.filter(pk=job.pk, status=JobStatus.RUNNING, worker=job.worker)
        try:
            done = work(job, claimed_at)
        except Exception as exc:
            known = isinstance(exc, expected)
            if not known:
                log.exception("%s %s failed", model._meta.verbose_name, job.pk)
            message = str(exc) if known else f"{type(exc).__name__}: {exc}"
            mine.update(
                status=JobStatus.FAILED, finished_at=timezone.now(), error=message[:MAX_ERROR]
            )
            return Outcome.DONE
        finished = timezone.now()
        # The result and its audit event commit together: whoever sees "succeeded" sees both.
        with transaction.atomic():
            if not mine.update(
                status=JobStatus.SUCCEEDED, finished_at=finished, error="", **done.fields
            ):
                return Outcome.ALREADY_DONE  # our claim was taken over: the other executor's wins
            AuditEvent.objects.create(
                at=finished,
                action=model.audit_action,
                details=dict(done.audit),
                **actor_fields(job.created_by),
            )
        return Outcome.DONE
