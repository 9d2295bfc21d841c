"""The Celery app: JSON only, explicit time limits, stable task names.

Without ``CELERY_BROKER_URL`` the kombu filesystem transport is used, so the
demo's worker and beat run as real processes with no Redis; with
``redis://...`` messages go through Redis. Results live in our own database
rows (analysis runs, export jobs, task runs), so no result backend is needed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecogprom.settings")


@dataclass(frozen=True)
class TimeLimits:
    """A task's time limits in seconds.

    At the soft limit the task gets ``SoftTimeLimitExceeded`` (it can still
    record its failure); at the hard limit the worker kills it. Celery refuses
    to *send* a task whose soft limit exceeds its hard one, so beat would
    silently never run it: the soft limit must be strictly below the hard one.
    """

    soft: int
    hard: int

    def __post_init__(self) -> None:
        if not 0 < self.soft < self.hard:
            raise ValueError(f"soft time limit {self.soft} s must be below hard {self.hard} s")

    def as_tuple(self) -> tuple[int, int]:
        return self.soft, self.hard


#: Every task's limits, in one place (no task sets its own). Jobs (exports, analysis
#: runs) and anything not listed get the default; the job runner's dead-claim rule on
#: SQLite reads the default hard limit (``surveys.jobs.claims.hard_time_limit``).
DEFAULT_TIME_LIMITS = TimeLimits(soft=25 * 60, hard=30 * 60)
TASK_TIME_LIMITS: dict[str, TimeLimits] = {
    "surveys.sweep_assessments": TimeLimits(soft=25 * 60, hard=30 * 60),
    "surveys.send_coordinator_digests": TimeLimits(soft=9 * 60, hard=10 * 60),
    "surveys.recover_jobs": TimeLimits(soft=4 * 60, hard=5 * 60),
    "surveys.expire_exports": TimeLimits(soft=9 * 60, hard=10 * 60),
    # Every 15 minutes: a run must end well before the next one starts.
    "surveys.send_reminders": TimeLimits(soft=10 * 60, hard=12 * 60),
    "surveys.erase_contacts": TimeLimits(soft=4 * 60, hard=5 * 60),
}

app = Celery("ecogprom")
app.config_from_object("django.conf:settings", namespace="CELERY")


def _embedded_transport_options() -> dict[str, object]:
    from django.conf import settings

    root = Path(settings.CELERY_EMBEDDED_BROKER_DIR)
    queue_dir = root / "queue"
    processed = root / "processed"
    control = root / "control"
    for folder in (queue_dir, processed, control):
        folder.mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(queue_dir),
        "data_folder_out": str(queue_dir),
        "processed_folder": str(processed),
        "control_folder": str(control),
        "store_processed": False,
    }


app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    result_backend=None,
    timezone="UTC",
    enable_utc=True,
    # A killed worker's task is redelivered: acknowledge only after it ran.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_time_limit=DEFAULT_TIME_LIMITS.hard,
    task_soft_time_limit=DEFAULT_TIME_LIMITS.soft,
    # Applied to the task classes wherever they are registered: beat (which checks
    # soft <= hard when it sends) and the worker (which enforces them).
    task_annotations={
        name: {"soft_time_limit": limits.soft, "time_limit": limits.hard}
        for name, limits in TASK_TIME_LIMITS.items()
    },
    broker_connection_retry_on_startup=True,
    broker_connection_timeout=3,
    # Redis: redeliver unacknowledged messages after a worker died (seconds).
    broker_transport_options={"visibility_timeout": 3600},
    beat_schedule={
        "assessment-sweep": {
            "task": "surveys.sweep_assessments",
            "schedule": crontab(minute="5", hour="*"),
        },
        "recover-jobs": {
            "task": "surveys.recover_jobs",
            "schedule": crontab(minute="*/10"),
        },
        # Export files older than EXPORT_RETENTION_DAYS are deleted (surveys.jobs.retention).
        "expire-exports": {
            "task": "surveys.expire_exports",
            "schedule": crontab(minute="30", hour="3"),
        },
        # Reminders to patients (surveys.outreach.reminders): every due one, once.
        "send-reminders": {
            "task": "surveys.send_reminders",
            "schedule": crontab(minute="*/15"),
        },
        # Contact details erased after CONTACT_ERASE_AFTER_DAYS off study.
        "erase-contacts": {
            "task": "surveys.erase_contacts",
            "schedule": crontab(minute="45", hour="*"),
        },
        "coordinator-digest": {
            "task": "surveys.send_coordinator_digests",
            "schedule": crontab(minute="0", hour="6"),
        },
    },
)
if str(app.conf.broker_url).startswith("filesystem://"):
    app.conf.broker_transport_options = _embedded_transport_options()

app.autodiscover_tasks()
