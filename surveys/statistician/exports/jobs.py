"""Export jobs: create one, run it exactly once (in a worker or in the request), find its files.

``run_export_job`` is safe to call any number of times, from any number of
workers: it goes through the one job runner (:mod:`surveys.jobs.runner`),
whose first call claims the row, builds the dataset (or the CDISC package, or the
ODM file), writes the file, its codebooks (CSV and JSON), its SAS/R/Stata programs
and its manifest in a temporary folder, saves them through Django's storage under
``exports/<id>/<claim time>/`` and records them with a
compare-and-set on its claim; every other call returns without doing
anything, unless the claimer died.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404
from django.utils import timezone

from surveys.jobs.claims import Outcome
from surveys.jobs.dispatch import enqueue
from surveys.jobs.runner import Done, execute
from surveys.models import Assessment, ExportJob
from surveys.statistician.exports.codebooks import codebook, codebook_json, write_dataset
from surveys.statistician.exports.datasets import codebook_context
from surveys.statistician.exports.filters import ExportFilters
from surveys.statistician.exports.kinds import KINDS, build_dataset
from surveys.statistician.exports.manifest import MANIFEST_NAME, manifest, write_manifest
from surveys.statistician.exports.programs import write_programs
from surveys.statistician.exports.writers import (
    CONTENT_TYPES,
    EXTENSIONS,
    write_codebook,
    write_json,
)
from surveys.statistician.files import stored_file_response

#: Exports up to this many output rows are built in the request; larger ones by a worker.
SYNC_ROW_LIMIT = 60_000


def export_create(
    *, user: Any, kind: str, fmt: str | None = None, filters: Mapping[str, Any] | None = None
) -> ExportJob:
    """Validate and record an export request (queued). Raises ``ValidationError``.

    A kind with one format (the CDISC package: zip; ODM: xml) takes it when *fmt* is
    blank; the package always includes calendar dates.
    """
    if kind not in KINDS:
        raise ValidationError({"kind": f"unknown export kind {kind!r}"})
    allowed = KINDS[kind].formats
    if not fmt and len(allowed) == 1:
        fmt = allowed[0]
    if fmt not in allowed:
        raise ValidationError(
            {"format": f"{kind} exports come as {', '.join(allowed)}, not {fmt!r}"}
        )
    parsed = ExportFilters.from_dict(filters)
    if kind == ExportJob.Kind.CDISC_PACKAGE:
        parsed = dataclasses.replace(parsed, include_dates=True)
    return ExportJob.objects.create(
        kind=kind, format=fmt, filters=parsed.as_dict(), created_by=user
    )


def estimated_rows(job: ExportJob) -> int:
    """A quick upper bound of the output rows (one COUNT query)."""
    filters = ExportFilters.from_dict(job.filters)
    qs = Assessment.objects.filter(status__in=Assessment.RECEIVED)
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
    if job.kind == ExportJob.Kind.SDTM_QS:
        forms += Assessment.objects.filter(status=Assessment.Status.MISSED).count()
    return forms * KINDS[job.kind].rows_per_form


def export_start(job: ExportJob) -> bool:
    """Run a small dataset export now; enqueue a large one and every file kind (the CDISC
    package and the ODM file are always built by a worker). True when it ran in this call."""
    if KINDS[job.kind].is_dataset and estimated_rows(job) <= SYNC_ROW_LIMIT:
        run_export_job(job.pk)
        return True
    enqueue(job)
    return False


def file_stem(job: ExportJob) -> str:
    kind = KINDS[job.kind]
    name = kind.spec.name.lower() if kind.spec is not None else job.kind
    return f"{name}_{job.pk}"


def file_name(job: ExportJob, *, codebook_file: bool = False) -> str:
    """What a download of the job's file (or codebook) is called."""
    stem = file_stem(job)
    if codebook_file:
        return f"{stem}_codebook.csv"
    return f"{stem}.{EXTENSIONS[job.format]}"


def _store(name: str, local: Path) -> str:
    """Save a finished local file in Django's storage under *name*; the stored name.

    The storage writes it 0600 in 0700 folders (``FILE_UPLOAD_PERMISSIONS``,
    ``FILE_UPLOAD_DIRECTORY_PERMISSIONS``): trial data leave no copy another
    local account could read. Deleted after ``EXPORT_RETENTION_DAYS``.
    """
    with local.open("rb") as fh:
        return default_storage.save(name, File(fh, name=local.name))


def _dataset_files(job: ExportJob, work: Path) -> tuple[Path, Path | None, dict[str, Path], int]:
    filters = ExportFilters.from_dict(job.filters)
    frame = build_dataset(job.kind, filters)
    spec = KINDS[job.kind].dataset_spec()
    context = codebook_context(filters)
    stem = file_stem(job)
    data = work / file_name(job)
    write_dataset(frame, job.format, data, kind=job.kind)
    book = work / file_name(job, codebook_file=True)
    write_codebook(codebook(job.kind, frame, context), book)
    extra: dict[str, Path] = {}
    book_json = work / f"{stem}_codebook.json"
    write_json(codebook_json(job.kind, frame, context), book_json)
    extra[book_json.name] = book_json
    if job.format == ExportJob.Format.CSV:
        for program in write_programs(frame, spec, data.name, work, stem):
            extra[program.name] = program
    listed: list[tuple[Path, int | None]] = [(data, len(frame)), (book, len(frame.columns))]
    listed += [(p, None) for p in extra.values()]
    manifest_path = work / f"{stem}_{MANIFEST_NAME}"
    write_manifest(manifest(work, listed, filters, timezone.now()), manifest_path)
    extra[manifest_path.name] = manifest_path
    return data, book, extra, len(frame)


def _kind_files(job: ExportJob, work: Path) -> tuple[Path, Path | None, dict[str, Path], int]:
    filters = ExportFilters.from_dict(job.filters)
    write = KINDS[job.kind].write
    assert write is not None
    result = write(filters, work)
    stem = file_stem(job)
    listed: list[tuple[Path, int | None]] = [(result.path, result.rows)]
    manifest_path = work / f"{stem}_{MANIFEST_NAME}"
    write_manifest(manifest(work, listed, filters, timezone.now()), manifest_path)
    return result.path, None, {manifest_path.name: manifest_path}, result.rows


def _build(job: ExportJob, claimed_at: dt.datetime) -> Done:
    folder = f"exports/{job.pk}/{claimed_at.strftime('%Y%m%dT%H%M%S%f')}"
    with tempfile.TemporaryDirectory(prefix=f"export-{job.pk}-") as tmp:
        work = Path(tmp)
        if KINDS[job.kind].is_dataset:
            data, book, extra, rows = _dataset_files(job, work)
        else:
            data, book, extra, rows = _kind_files(job, work)
        data_name = _store(f"{folder}/{file_name(job)}", data)
        book_name = _store(f"{folder}/{book.name}", book) if book is not None else ""
        files = {name: _store(f"{folder}/{name}", path) for name, path in extra.items()}
    return Done(
        fields={"file": data_name, "codebook": book_name, "row_count": rows, "files": files},
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


def stored_extra_file(job: ExportJob, name: str) -> FileResponse:
    """One of the job's other files (manifest, JSON codebook, programs); 404 if it has none."""
    stored = (job.files or {}).get(name)
    if not stored:
        raise Http404("no such file in this export")
    ext = name.rsplit(".", 1)[-1].lower()
    field = ExportJob._meta.get_field("file")
    return stored_file_response(
        FieldFile(job, field, stored),
        name,
        CONTENT_TYPES.get(ext, "text/plain"),
    )
