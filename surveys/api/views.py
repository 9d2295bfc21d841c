"""API viewsets: trial data scoped by role and site; exports and analysis runs for statisticians."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse
from rest_framework.serializers import BaseSerializer

from surveys.accounts.roles import signed_in, visible_sites
from surveys.api import filters as api_filters
from surveys.api.permissions import StatisticianPermission, TokenScope, TrialDataPermission
from surveys.api.serializers import (
    AnalysisPresetSerializer,
    AnalysisRunListSerializer,
    AnalysisRunSerializer,
    AssessmentSerializer,
    ExportJobSerializer,
    MissedReasonSerializer,
    ParticipantSerializer,
    PresetRunSerializer,
    RandomizeSerializer,
    ResponseSerializer,
    ScoreSerializer,
)
from surveys.models import (
    AnalysisPreset,
    AnalysisRun,
    Assessment,
    ExportJob,
    JobStatus,
    Participant,
    Response,
    Score,
    Trial,
)
from surveys.statistician.analysis.presets import preset_save
from surveys.statistician.analysis.runs import run_start
from surveys.statistician.exports.jobs import (
    export_create,
    export_start,
    file_name,
    stored_extra_file,
)
from surveys.statistician.exports.writers import CONTENT_TYPES
from surveys.statistician.files import (
    export_download_record,
    run_file_download_record,
    stored_file_response,
)
from surveys.trial.participants import (
    assessment_record_missed_reason,
    participant_randomize,
    participant_view_record,
)

BINARY = {(200, "application/octet-stream"): OpenApiTypes.BINARY}


class SiteScopedViewSet(viewsets.ReadOnlyModelViewSet):
    """Rows of the sites the user may see: her own (coordinator) or all (statistician, admin)."""

    permission_classes = [TokenScope, TrialDataPermission]
    site_path = "site"

    def get_queryset(self) -> QuerySet[Any]:
        qs = super().get_queryset()
        user = self.request.user
        if user.is_superuser:
            return qs
        return qs.filter(**{f"{self.site_path}__in": visible_sites(user)})


def _bad_request(exc: DjangoValidationError) -> ValidationError:
    return ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)


@extend_schema_view(
    list=extend_schema(summary="Participants of the sites you may see"),
    retrieve=extend_schema(summary="One participant"),
)
class ParticipantViewSet(mixins.CreateModelMixin, SiteScopedViewSet):
    queryset = Participant.objects.select_related("trial", "site", "arm").order_by("pk")
    serializer_class = ParticipantSerializer
    filterset_class = api_filters.ParticipantFilter
    ordering_fields = ["study_id", "randomized_on", "id"]

    @extend_schema(
        summary="Register a randomized participant (coordinators of the site, trial admins)",
        request=RandomizeSerializer,
        responses={201: ParticipantSerializer},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> ApiResponse:
        payload = RandomizeSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        trial = Trial.objects.filter(protocol_id=data["trial"]).first()
        if trial is None:
            raise ValidationError({"trial": f"no trial {data['trial']!r}"})
        site = visible_sites(request.user).filter(code=data["site"]).first()
        if site is None:  # another site's code is not disclosed
            raise ValidationError({"site": f"{data['site']!r} is not one of your sites"})
        arm = trial.arms.filter(code=data["arm"]).first()
        if arm is None:
            raise ValidationError({"arm": f"{data['arm']!r} is not an arm of {trial}"})
        try:
            participant = participant_randomize(
                trial=trial,
                study_id=data["study_id"],
                site=site,
                arm=arm,
                randomized_on=data["randomized_on"],
                language=data["language"],
                actor=signed_in(request.user),
                now=timezone.now(),
            )
        except DjangoValidationError as exc:
            raise _bad_request(exc) from None
        return ApiResponse(ParticipantSerializer(participant).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> ApiResponse:
        participant = self.get_object()
        participant_view_record(participant=participant, actor=request.user, via="api")
        return ApiResponse(self.get_serializer(participant).data)


@extend_schema_view(
    list=extend_schema(summary="Assessments (participant x visit) of the sites you may see"),
    retrieve=extend_schema(summary="One assessment"),
)
class AssessmentViewSet(SiteScopedViewSet):
    queryset = Assessment.objects.select_related(
        "participant__site", "participant__arm", "visit", "submitted_by"
    ).order_by("pk")
    serializer_class = AssessmentSerializer
    filterset_class = api_filters.AssessmentFilter
    ordering_fields = ["id", "target_date", "completed_at", "window_end"]
    site_path = "participant__site"

    @extend_schema(
        summary="Record why a missed assessment was missed (coordinators)",
        request=MissedReasonSerializer,
        responses={200: AssessmentSerializer},
    )
    @action(detail=True, methods=["post"], url_path="missed-reason")
    def missed_reason(self, request: Request, pk: str | None = None) -> ApiResponse:
        assessment = self.get_object()
        payload = MissedReasonSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            updated = assessment_record_missed_reason(
                assessment=assessment,
                reason=payload.validated_data["missed_reason"],
                text=payload.validated_data["missed_reason_text"],
                actor=signed_in(request.user),
                now=timezone.now(),
            )
        except DjangoValidationError as exc:
            raise ValidationError(
                exc.message_dict if hasattr(exc, "error_dict") else exc.messages
            ) from None
        return ApiResponse(AssessmentSerializer(updated).data)


@extend_schema_view(
    list=extend_schema(summary="Answers (one per assessment and item)"),
    retrieve=extend_schema(summary="One answer"),
)
class ResponseViewSet(SiteScopedViewSet):
    queryset = Response.objects.order_by("pk")
    serializer_class = ResponseSerializer
    filterset_class = api_filters.ResponseFilter
    ordering_fields = ["id", "saved_at"]
    site_path = "assessment__participant__site"


@extend_schema_view(
    list=extend_schema(summary="Scores of completed assessments"),
    retrieve=extend_schema(summary="The scores of one assessment"),
)
class ScoreViewSet(SiteScopedViewSet):
    queryset = Score.objects.select_related(
        "assessment__participant__site", "assessment__participant__arm", "assessment__visit"
    ).order_by("pk")
    serializer_class = ScoreSerializer
    filterset_class = api_filters.ScoreFilter
    ordering_fields = ["id", "computed_at", "toi"]
    site_path = "assessment__participant__site"


class StatisticianJobViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    permission_classes = [TokenScope, StatisticianPermission]


@extend_schema_view(
    list=extend_schema(summary="Exports"),
    retrieve=extend_schema(summary="One export (status, row count, error, download links)"),
    create=extend_schema(
        summary="Request an export",
        description="Small exports are built at once (status succeeded in the response); "
        "large ones by a worker: poll the export until its status is succeeded or failed.",
    ),
)
class ExportJobViewSet(StatisticianJobViewSet):
    queryset = ExportJob.objects.select_related("created_by").order_by("-created_at", "-pk")
    serializer_class = ExportJobSerializer
    filterset_class = api_filters.ExportJobFilter
    ordering_fields = ["id", "created_at"]

    def create(self, request: Request, *args: Any, **kwargs: Any) -> ApiResponse:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            job = export_create(
                user=request.user, kind=data["kind"], fmt=data["format"], filters=data["filters"]
            )
        except DjangoValidationError as exc:
            raise ValidationError(
                exc.message_dict if hasattr(exc, "error_dict") else exc.messages
            ) from None
        export_start(job)
        job.refresh_from_db()
        return ApiResponse(self.get_serializer(job).data, status=status.HTTP_201_CREATED)

    def _finished(self, pk: str | None) -> ExportJob:
        return get_object_or_404(self.get_queryset(), pk=pk, status=JobStatus.SUCCEEDED)

    @extend_schema(summary="Download the export's file", responses=BINARY)
    @action(detail=True, methods=["get"])
    def download(self, request: Request, pk: str | None = None) -> FileResponse:
        job = self._finished(pk)
        response = stored_file_response(job.file, file_name(job), CONTENT_TYPES[job.format])
        export_download_record(job=job, file="data", actor=request.user, via="api")
        return response

    @extend_schema(summary="Download the export's codebook (CSV)", responses=BINARY)
    @action(detail=True, methods=["get"])
    def codebook(self, request: Request, pk: str | None = None) -> FileResponse:
        job = self._finished(pk)
        if not job.codebook:
            raise Http404("this export has no CSV codebook")
        response = stored_file_response(
            job.codebook, file_name(job, codebook_file=True), "text/csv"
        )
        export_download_record(job=job, file="codebook", actor=request.user, via="api")
        return response

    @extend_schema(
        summary="Download one of the export's other files (manifest, JSON codebook, programs)",
        responses=BINARY,
    )
    @action(detail=True, methods=["get"], url_path=r"files/(?P<name>[A-Za-z0-9_.\-]+)")
    def file(self, request: Request, pk: str | None = None, name: str = "") -> FileResponse:
        job = self._finished(pk)
        response = stored_extra_file(job, name)
        export_download_record(job=job, file=name, actor=request.user, via="api")
        return response


def _start_run(
    request: Request, *, parameters: dict[str, Any], preset: AnalysisPreset | None
) -> AnalysisRun:
    try:
        return run_start(user=request.user, parameters=parameters, preset=preset)
    except DjangoValidationError as exc:
        raise ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        ) from None


@extend_schema_view(
    list=extend_schema(summary="Analysis runs (without their results)"),
    retrieve=extend_schema(summary="One analysis run with its results"),
    create=extend_schema(
        summary="Start an analysis run",
        description="Queued for a worker; poll the run until its status is succeeded or failed.",
    ),
)
class AnalysisRunViewSet(StatisticianJobViewSet):
    queryset = AnalysisRun.objects.select_related("created_by").order_by("-created_at", "-pk")
    filterset_class = api_filters.AnalysisRunFilter
    ordering_fields = ["id", "created_at"]

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        return AnalysisRunListSerializer if self.action == "list" else AnalysisRunSerializer

    def create(self, request: Request, *args: Any, **kwargs: Any) -> ApiResponse:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        run = _start_run(request, parameters=data["parameters"], preset=data.get("preset"))
        return ApiResponse(AnalysisRunSerializer(run).data, status=status.HTTP_201_CREATED)

    def _finished(self, pk: str | None) -> AnalysisRun:
        return get_object_or_404(self.get_queryset(), pk=pk, status=JobStatus.SUCCEEDED)

    @extend_schema(summary="The frozen snapshot the run analysed (Parquet)", responses=BINARY)
    @action(detail=True, methods=["get"])
    def snapshot(self, request: Request, pk: str | None = None) -> FileResponse:
        run = self._finished(pk)
        response = stored_file_response(
            run.snapshot, f"analysis_{run.pk}_snapshot.parquet", CONTENT_TYPES["parquet"]
        )
        run_file_download_record(run=run, name="snapshot.parquet", actor=request.user, via="api")
        return response

    @extend_schema(
        summary="Mean score by visit and arm with 95% CI (PNG)",
        responses={(200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY)},
    )
    @action(detail=True, methods=["get"], url_path="plot-png")
    def plot_png(self, request: Request, pk: str | None = None) -> FileResponse:
        run = self._finished(pk)
        response = stored_file_response(run.plot_png, f"analysis_{run.pk}_plot.png", "image/png")
        run_file_download_record(run=run, name="plot.png", actor=request.user, via="api")
        return response

    @extend_schema(
        summary="Mean score by visit and arm with 95% CI (SVG)",
        responses={(200, "image/svg+xml"): OpenApiResponse(OpenApiTypes.BINARY)},
    )
    @action(detail=True, methods=["get"], url_path="plot-svg")
    def plot_svg(self, request: Request, pk: str | None = None) -> FileResponse:
        run = self._finished(pk)
        response = stored_file_response(
            run.plot_svg, f"analysis_{run.pk}_plot.svg", "image/svg+xml"
        )
        run_file_download_record(run=run, name="plot.svg", actor=request.user, via="api")
        return response


@extend_schema_view(
    list=extend_schema(summary="Saved analysis presets"),
    retrieve=extend_schema(summary="One preset (parameters and reference figures)"),
    create=extend_schema(
        summary="Save a preset",
        description="Parameters are checked against the trial as a run's are; a preset of "
        "the same name is replaced.",
    ),
)
class AnalysisPresetViewSet(StatisticianJobViewSet):
    queryset = AnalysisPreset.objects.select_related("trial", "created_by").order_by("name")
    serializer_class = AnalysisPresetSerializer

    def create(self, request: Request, *args: Any, **kwargs: Any) -> ApiResponse:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            preset = preset_save(
                name=data["name"],
                parameters=data["parameters"],
                reference=data.get("reference"),
                description=data.get("description", ""),
                user=request.user,
            )
        except DjangoValidationError as exc:
            raise ValidationError(
                exc.message_dict if hasattr(exc, "error_dict") else exc.messages
            ) from None
        return ApiResponse(self.get_serializer(preset).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Start an analysis run of the preset",
        request=PresetRunSerializer,
        responses={201: AnalysisRunSerializer},
    )
    @action(detail=True, methods=["post"])
    def run(self, request: Request, pk: str | None = None) -> ApiResponse:
        preset = self.get_object()
        payload = PresetRunSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        overrides = payload.validated_data["parameters"]
        if not isinstance(overrides, dict):
            raise ValidationError({"parameters": "an object"})
        run = _start_run(request, parameters=overrides, preset=preset)
        return ApiResponse(AnalysisRunSerializer(run).data, status=status.HTTP_201_CREATED)
