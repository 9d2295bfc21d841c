"""Retention of export files: deleted ``EXPORT_RETENTION_DAYS`` days after they were made.

Beat runs :func:`expire_exports` daily (``surveys.expire_exports``). Each
succeeded export older than the retention period loses its folder
(``MEDIA_ROOT/exports/<id>/``: data file, codebook, the other files of
the export, any leftover partial file) and becomes ``expired``, with an
audit event. Safe to run twice or concurrently: rows are claimed ``FOR
UPDATE SKIP LOCKED`` and the status moves with a compare-and-set; deleting a
file that is already gone is fine.
The job row (who exported what, when, with which filters) is kept.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from surveys.models import AuditEvent, ExportJob, JobStatus, actor_fields

ACTOR = "system:retention"
BATCH = 200


def _delete_files(job: ExportJob) -> list[str]:
    deleted = []
    names = [f.name for f in (job.file, job.codebook) if f and f.name]
    names += list((job.files or {}).values())  # manifest, JSON codebook, programs
    for name in names:
        if default_storage.exists(name):
            default_storage.delete(name)
        deleted.append(name)
    folder = Path(settings.MEDIA_ROOT) / "exports" / str(job.pk)
    if folder.is_dir():  # partial files of attempts that died, empty stamp folders
        shutil.rmtree(folder, ignore_errors=True)
    return deleted


def expire_exports(*, now: dt.datetime | None = None, days: int | None = None) -> dict[str, Any]:
    """Delete the files of exports older than the retention period; mark them expired."""
    now = now or timezone.now()
    days = settings.EXPORT_RETENTION_DAYS if days is None else days
    expired: list[int] = []
    while True:
        with transaction.atomic():
            batch = list(
                ExportJob.objects.past_retention(now, days)
                .select_for_update(skip_locked=True)
                .order_by("pk")[:BATCH]
            )
            for job in batch:
                files = _delete_files(job)
                moved = ExportJob.objects.filter(pk=job.pk, status=JobStatus.SUCCEEDED).update(
                    status=JobStatus.EXPIRED, file="", codebook="", files={}
                )
                if not moved:
                    continue
                AuditEvent.objects.create(
                    at=now,
                    action=AuditEvent.Action.EXPORT_EXPIRED,
                    reason=f"older than {days} days",
                    details={
                        "export": job.pk,
                        "files": files,
                        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
                    },
                    **actor_fields(ACTOR),
                )
                expired.append(job.pk)
        if len(batch) < BATCH:
            return {"expired": expired, "retention_days": days}
