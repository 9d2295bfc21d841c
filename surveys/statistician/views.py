"""Statistician workspace: exports (with codebooks) and analysis runs. Read-only on trial data."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View

from scoring.csvsafe import escape_frame
from surveys.accounts.roles import StatisticianRequiredMixin
from surveys.models import AnalysisRun, ExportJob, JobStatus
from surveys.statistician.analysis import present
from surveys.statistician.analysis.runs import TABLES, results_table, run_again, run_start
from surveys.statistician.analysis.snapshot import from_bytes
from surveys.statistician.exports.filters import ExportFilters
from surveys.statistician.exports.jobs import export_create, export_start, file_name
from surveys.statistician.exports.kinds import KINDS
from surveys.statistician.exports.writers import CONTENT_TYPES
from surveys.statistician.files import (
    export_download_record,
    run_file_download_record,
    stored_file_response,
)
from surveys.statistician.forms import ExportForm, RunForm

RECENT = 25


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
                "runs": AnalysisRun.objects.select_related("created_by")[:RECENT],
                "specs": [kind.spec for kind in KINDS.values()],
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


# --------------------------------------------------------------------------- analysis runs


class RunCreateView(StatisticianView):
    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "statistician/run_form.html", {"form": RunForm()})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = RunForm(request.POST)
        if form.is_valid():
            try:
                run = run_start(user=request.user, parameters=form.parameters())
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.info(request, f"Analysis run {run.pk} queued.")
                return redirect("statistician:run", pk=run.pk)
        return render(request, "statistician/run_form.html", {"form": form}, status=400)


class RunDetailView(StatisticianView):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        run = get_object_or_404(AnalysisRun.objects.select_related("created_by"), pk=pk)
        results = run.results or {}
        arm_a, arm_b = present.arm_headers(results)
        code_a, code_b = present.arm_codes(results)
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
                "arm_a": arm_a,
                "arm_b": arm_b,
                "code_a": code_a,
                "code_b": code_b,
                "headline": present.headline(results),
                "tables": present.comparison_tables(results),
                "mid": present.mid_rows(results),
                "mixed": present.mixed_rows(results),
                "compliance_arm": present.compliance_rows(results, "arm"),
                "compliance_site": present.compliance_rows(results, "site"),
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
