"""Downloads of stored files (export files and codebooks, snapshots, plots): pages and API.

Every download is in the audit trail: who fetched which export's file (or
codebook) or which analysis run's file, when, and through which door.
"""

from __future__ import annotations

from typing import Any

from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404
from django.utils import timezone

from surveys.models import AnalysisRun, AuditEvent, ExportJob, actor_fields


def stored_file_response(field: FieldFile, filename: str, content_type: str) -> FileResponse:
    """The stored file as an attachment; 404 when there is none or it is gone from storage."""
    if not field:
        raise Http404("no file")
    try:
        handle = field.open("rb")
    except FileNotFoundError:
        raise Http404("the file is gone from storage") from None
    return FileResponse(handle, as_attachment=True, filename=filename, content_type=content_type)


def export_download_record(*, job: ExportJob, file: str, actor: Any, via: str) -> None:
    """Audit a download of an export's ``data`` file, its ``codebook`` or another file of it."""
    AuditEvent.objects.create(
        at=timezone.now(),
        action=AuditEvent.Action.EXPORT_DOWNLOAD,
        details={
            "export": job.pk,
            "file": file,
            "kind": job.kind,
            "format": job.format,
            "rows": job.row_count,
            "via": via,
        },
        **actor_fields(actor),
    )


def run_file_download_record(*, run: AnalysisRun, name: str, actor: Any, via: str) -> None:
    """Audit a download of one of an analysis run's files (snapshot, plot, tables)."""
    AuditEvent.objects.create(
        at=timezone.now(),
        action=AuditEvent.Action.RUN_FILE_DOWNLOAD,
        details={"run": run.pk, "file": name, "snapshot_hash": run.snapshot_hash, "via": via},
        **actor_fields(actor),
    )
