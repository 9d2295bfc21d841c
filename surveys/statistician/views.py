"""Statistician workspace: exports (with codebooks) and analysis runs. Read-only on trial data."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View

from scoring.csvsafe import escape_frame
from surveys.accounts.roles import StatisticianRequiredMixin
from surveys.models import AnalysisPreset, AnalysisRun, ExportJob, JobStatus
from surveys.statistician.analysis import present
from surveys.statistician.analysis.presets import preset_save
from surveys.statistician.analysis.runs import TABLES, results_table, run_again, run_start
from surveys.statistician.analysis.snapshot import from_bytes
from surveys.statistician.exports.filters import ExportFilters
from surveys.statistician.exports.jobs import (
    export_create,
    export_start,
    file_name,
    stored_extra_file,
)
from surveys.statistician.exports.kinds import KINDS
from surveys.statistician.exports.writers import CONTENT_TYPES
from surveys.statistician.files import (
    export_download_record,
    run_file_download_record,
    stored_file_response,
)
from surveys.statistician.forms import ExportForm, RunForm

RECENT = 25
KIND_HELP: dict[str, str] = {
    ExportJob.Kind.CDISC_PACKAGE: (
        "A zip laid out as an eCTD module 5 study folder: tabulations/sdtm (DM, DS, TS, QS, "
        "SUPPQS as XPT, Dataset-JSON and CSV, with define.xml), analysis/adam/datasets (ADSL, "
        "ADQS, define.xml), misc/odm.xml and manifest.csv. Check it with "
        "`manage.py check_cdisc FILE.zip`; docs/cdisc.md describes every dataset."
    ),
    ExportJob.Kind.CDISC_ODM: (
        "Every stored answer as CDISC ODM 1.3.2 (Snapshot) for Medidata Rave, with audit "
        "records and the form's metadata; OIDs from the trial's ODM OID table in the admin."
    ),
}


class StatisticianView(StatisticianRequiredMixin, View):
    pass


def _csv_response(frame: Any, filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.write(escape_frame(frame).to_csv(index=False))
    return response


class HomeView(StatisticianView):
    def get(self, request: HttpRequest) -> HttpResponse:
        return render(
            request,
            "statistician/home.html",
            {
                "exports": ExportJob.objects.select_related("created_by")[:RECENT],
                "runs": AnalysisRun.objects.select_related("created_by", "preset")[:RECENT],
                "presets": AnalysisPreset.objects.select_related("trial"),
                "specs": [kind.spec for kind in KINDS.values() if kind.spec is not None],
            },
        )


# --------------------------------------------------------------------------- exports


class ExportCreateView(StatisticianView):
    def get(self, request: HttpRequest) -> HttpResponse:
        initial = {"kind": request.GET.get("kind", "scored"), "format": "csv"}
        return render(
            request, "statistician/export_form.html", {"form": ExportForm(initial=initial)}
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ExportForm(request.POST)
        if form.is_valid():
            try:
                job = export_create(
                    user=request.user,
                    kind=form.cleaned_data["kind"],
                    fmt=form.cleaned_data["format"],
                    filters=form.filters(),
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                if export_start(job):
                    job.refresh_from_db()
                    if job.status == JobStatus.SUCCEEDED:
                        messages.success(request, f"Export ready: {job.row_count:,} rows.")
                    else:
                        messages.error(request, "The export failed; the error is below.")
                else:
                    messages.info(request, "A large export: a worker is building it.")
                return redirect("statistician:export", pk=job.pk)
        return render(request, "statistician/export_form.html", {"form": form}, status=400)


class ExportDetailView(StatisticianView):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = get_object_or_404(ExportJob.objects.select_related("created_by"), pk=pk)
        return render(
            request,
            "statistician/export_detail.html",
            {
                "job": job,
                "spec": KINDS[job.kind].spec,
                "files": sorted(job.files or {}),
                "kind_help": KIND_HELP.get(job.kind, ""),
                "filters": ExportFilters.from_dict(job.filters).describe(),
                "pending": job.is_pending,
                "retention_days": settings.EXPORT_RETENTION_DAYS,
            },
        )


class ExportDownloadView(StatisticianView):
    def get(self, request: HttpRequest, pk: int) -> FileResponse:
        job = get_object_or_404(ExportJob, pk=pk, status=JobStatus.SUCCEEDED)
        response = stored_file_response(job.file, file_name(job), CONTENT_TYPES[job.format])
        export_download_record(job=job, file="data", actor=request.user, via="page")
        return response


class ExportCodebookView(StatisticianView):
    def get(self, request: HttpRequest, pk: int) -> FileResponse:
        job = get_object_or_404(ExportJob, pk=pk, status=JobStatus.SUCCEEDED)
        response = stored_file_response(
            job.codebook, file_name(job, codebook_file=True), "text/csv"
        )
        export_download_record(job=job, file="codebook", actor=request.user, via="page")
        return response


class ExportFileView(StatisticianView):
    """The export's other files: manifest, JSON codebook, SAS/R/Stata programs."""

    def get(self, request: HttpRequest, pk: int, name: str) -> FileResponse:
        job = get_object_or_404(ExportJob, pk=pk, status=JobStatus.SUCCEEDED)
        response = stored_extra_file(job, name)
        export_download_record(job=job, file=name, actor=request.user, via="page")
        return response


# --------------------------------------------------------------------------- analysis runs


class RunCreateView(StatisticianView):
    def get(self, request: HttpRequest) -> HttpResponse:
        preset = None
        if request.GET.get("preset", "").isdigit():
            preset = AnalysisPreset.objects.filter(pk=int(request.GET["preset"])).first()
        form = RunForm.from_preset(preset) if preset else RunForm(trial=request.GET.get("trial"))
        return render(request, "statistician/run_form.html", {"form": form, "preset": preset})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = RunForm(request.POST)
        if form.is_valid():
            try:
                with transaction.atomic():
                    run = run_start(user=request.user, parameters=form.parameters())
                    if name := form.cleaned_data["save_as"].strip():
                        preset_save(name=name, parameters=form.parameters(), user=request.user)
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                messages.info(request, f"Analysis run {run.pk} queued.")
                return redirect("statistician:run", pk=run.pk)
        return render(request, "statistician/run_form.html", {"form": form}, status=400)


def _form_errors(form: RunForm, exc: ValidationError) -> None:
    """A service's errors on the form: on the field they name, else on the form."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for key, errors in exc.message_dict.items():
        form.add_error(key if key in form.fields else None, errors)


class PresetRunView(StatisticianView):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        preset = get_object_or_404(AnalysisPreset, pk=pk)
        try:
            run = run_start(user=request.user, preset=preset)
        except ValidationError as exc:
            messages.error(request, f"Preset '{preset.name}' cannot run: {'; '.join(exc.messages)}")
            return redirect("statistician:home")
        messages.info(request, f"Analysis run {run.pk} of '{preset.name}' queued.")
        return redirect("statistician:run", pk=run.pk)


class RunDetailView(StatisticianView):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        run = get_object_or_404(AnalysisRun.objects.select_related("created_by", "preset"), pk=pk)
        results = run.results or {}
        arm_a, arm_b = present.arm_headers(results)
        code_a, code_b = present.arm_codes(results)
        tables = present.comparison_tables(results)
        return render(
            request,
            "statistician/run_detail.html",
            {
                "run": run,
                "pending": run.is_pending,
                "parameters": [
                    (key, ", ".join(map(str, value)) if isinstance(value, list) else value)
                    for key, value in run.parameters.items()
                ],
                "results": results,
                "sections": present.sections(results),
                "arm_a": arm_a,
                "arm_b": arm_b,
                "code_a": code_a,
                "code_b": code_b,
                "headline": present.headline(results),
                "paper": present.paper_rows(results),
                "paper_items": present.paper_items(results),
                "paper_survival": present.paper_survival(results),
                "scale_tables": [t for t in tables if not t.item],
                "item_tables": [t for t in tables if t.item],
                "completion_arm": present.completion_rows(results, "arm"),
                "completion_site": present.completion_rows(results, "site"),
                "mmrm": present.mmrm_rows(results),
                "sensitivity": present.sensitivity_rows(results),
                "ttd": present.ttd_rows(results),
                "mid": present.mid_rows(results),
                "mixed": present.mixed_rows(results),
                "survival": present.survival_rows(results),
                "table_names": list(TABLES),
            },
        )


class RunRerunView(StatisticianView):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        source = get_object_or_404(AnalysisRun, pk=pk)
        try:
            run = run_again(source=source, user=request.user)
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
            return redirect("statistician:run", pk=source.pk)
        messages.info(request, f"Run {run.pk} re-runs run {source.pk}'s snapshot.")
        return redirect("statistician:run", pk=run.pk)


class RunFileView(StatisticianView):
    FILES = {
        "plot.png": ("plot_png", "image/png"),
        "plot.svg": ("plot_svg", "image/svg+xml"),
        "snapshot.parquet": ("snapshot", CONTENT_TYPES["parquet"]),
    }

    def get(self, request: HttpRequest, pk: int, name: str) -> HttpResponseBase:
        run = get_object_or_404(AnalysisRun, pk=pk, status=JobStatus.SUCCEEDED)
        response = self.file(request, run, name)
        run_file_download_record(run=run, name=name, actor=request.user, via="page")
        return response

    def file(self, request: HttpRequest, run: AnalysisRun, name: str) -> HttpResponseBase:
        if name == "snapshot.csv":
            if not run.snapshot:
                raise Http404("no snapshot")
            with run.snapshot.open("rb") as fh:
                frame = from_bytes(fh.read(), expected_hash=run.snapshot_hash)
            return _csv_response(frame, f"analysis_{run.pk}_snapshot.csv")
        if name == "results.json":
            response = HttpResponse(
                json.dumps(run.results, indent=1), content_type="application/json"
            )
            response["Content-Disposition"] = f'attachment; filename="analysis_{run.pk}.json"'
            return response
        if name.endswith(".csv") and name[:-4] in TABLES:
            return _csv_response(results_table(run, name[:-4]), f"analysis_{run.pk}_{name}")
        if name not in self.FILES:
            raise Http404("no such file")
        field, content_type = self.FILES[name]
        inline = name.startswith("plot.") and request.GET.get("download") is None
        download = stored_file_response(
            getattr(run, field), f"analysis_{run.pk}_{name}", content_type
        )
        if inline:
            download["Content-Disposition"] = "inline"
        return download
