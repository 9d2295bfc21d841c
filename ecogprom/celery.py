"""The Celery app: JSON only, explicit time limits, stable task names.

Without ``CELERY_BROKER_URL`` the kombu filesystem transport is used, so the
demo's worker and beat run as real processes with no Redis; with
``redis://...`` messages go through Redis. Results live in our own database
rows (analysis runs, export jobs, task runs), so no result backend is needed.
"""

from __future__ import annotations

import os
from pathlib import Path

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecogprom.settings")

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
    task_time_limit=30 * 60,
    task_soft_time_limit=25 * 60,
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
        "coordinator-digest": {
            "task": "surveys.send_coordinator_digests",
            "schedule": crontab(minute="0", hour="6"),
        },
    },
)
if str(app.conf.broker_url).startswith("filesystem://"):
    app.conf.broker_transport_options = _embedded_transport_options()

app.autodiscover_tasks()
