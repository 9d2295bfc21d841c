"""Export jobs: create one, run it exactly once (in a worker or in the request), find its files.

``run_export_job`` is safe to call any number of times, from any number of
workers: it goes through the one job runner (:mod:`surveys.jobs.runner`),
whose first call claims the row, builds the dataset, writes the file and its
codebook under ``MEDIA_ROOT/exports/<id>/`` and stores them with a
compare-and-set on its claim; every other call returns without doing
anything, unless the claimer died.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage

from surveys.jobs.claims import Outcome
from surveys.jobs.dispatch import enqueue
from surveys.jobs.runner import Done, execute
from surveys.models import Assessment, ExportJob
from surveys.statistician.exports.datasets import codebook_context
from surveys.statistician.exports.filters import ExportFilters
from surveys.statistician.exports.kinds import KINDS, build_dataset
from surveys.statistician.exports.writers import (
    EXTENSIONS,
    FORMATS,
    codebook,
    write_codebook,
    write_dataset,
)

#: Exports up to this many output rows are built in the request; larger ones by a worker.
SYNC_ROW_LIMIT = 60_000
#: Export files and their folders: the service account only (trial data leave no copy
#: any other local account could read). Deleted after EXPORT_RETENTION_DAYS.
PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700


def export_create(
    *, user: Any, kind: str, fmt: str, filters: Mapping[str, Any] | None = None
) -> ExportJob:
    """Validate and record an export request (queued). Raises ``ValidationError``."""
    if kind not in KINDS:
        raise ValidationError({"kind": f"unknown export kind {kind!r}"})
    if fmt not in FORMATS:
        raise ValidationError({"format": f"unknown format {fmt!r}"})
    parsed = ExportFilters.from_dict(filters)
    return ExportJob.objects.create(
        kind=kind, format=fmt, filters=parsed.as_dict(), created_by=user
    )


def estimated_rows(job: ExportJob) -> int:
    """A quick upper bound of the output rows (one COUNT query)."""
    filters = ExportFilters.from_dict(job.filters)
    qs = Assessment.objects.filter(status=Assessment.Status.COMPLETED)
    if filters.trial:
        qs = qs.filter(participant__trial__protocol_id=filters.trial)
    if filters.visits:
        qs = qs.filter(visit__code__in=filters.visits)
    if filters.sites:
        qs = qs.filter(participant__site__code__in=filters.sites)
    if filters.arms:
        qs = qs.filter(participant__arm__code__in=filters.arms)
    if filters.cutoff:
        qs = qs.filter(participant__randomized_on__lte=filters.cutoff)
    forms = qs.count()
    if job.kind == "sdtm_qs":
        forms += Assessment.objects.filter(status=Assessment.Status.MISSED).count()
    return forms * KINDS[job.kind].rows_per_form


def export_start(job: ExportJob) -> bool:
    """Run a small export now, enqueue a large one. True when it ran in this call."""
    if estimated_rows(job) <= SYNC_ROW_LIMIT:
        run_export_job(job.pk)
        return True
    enqueue(job)
    return False


def file_name(job: ExportJob, *, codebook_file: bool = False) -> str:
    """What a download of the job's file (or codebook) is called."""
    stem = f"{KINDS[job.kind].spec.name.lower()}_{job.pk}"
    if codebook_file:
        return f"{stem}_codebook.csv"
    return f"{stem}.{EXTENSIONS[job.format]}"


def _write_files(job: ExportJob, stamp: str) -> tuple[str, str, int]:
    filters = ExportFilters.from_dict(job.filters)
    frame = build_dataset(job.kind, filters)
    book = codebook(job.kind, frame, codebook_context(filters))
    folder = f"exports/{job.pk}/{stamp}"
    data_name = f"{folder}/{file_name(job)}"
    book_name = f"{folder}/{file_name(job, codebook_file=True)}"
    data_path = Path(default_storage.path(data_name))
    _private_folder(data_path.parent)
    partial = data_path.with_name(data_path.name + ".partial")
    write_dataset(frame, job.format, partial, kind=job.kind)
    os.chmod(partial, PRIVATE_FILE)
    os.replace(partial, data_path)
    book_path = default_storage.path(book_name)
    write_codebook(book, book_path)
    os.chmod(book_path, PRIVATE_FILE)
    return data_name, book_name, len(frame)


def _private_folder(folder: Path) -> None:
    """``exports/<id>/<stamp>/`` readable by the service account only (files inside: 0600)."""
    media = Path(default_storage.path(""))
    folder.mkdir(parents=True, exist_ok=True, mode=PRIVATE_FOLDER)
    for part in (folder, *folder.parents):
        if part == media or media not in part.parents:
            break
        os.chmod(part, PRIVATE_FOLDER)


def _build(job: ExportJob, claimed_at: dt.datetime) -> Done:
    data_name, book_name, rows = _write_files(job, claimed_at.strftime("%Y%m%dT%H%M%S%f"))
    return Done(
        fields={"file": data_name, "codebook": book_name, "row_count": rows},
        audit={
            "export": job.pk,
            "kind": job.kind,
            "format": job.format,
            "filters": job.filters,
            "rows": rows,
        },
    )


def run_export_job(job_id: int, *, now: dt.datetime | None = None) -> Outcome:
    """Build and store the export, once. Returns what this call did."""
    return execute(ExportJob, job_id, work=_build, now=now)
