"""API representations. Thin: validation here, writing in the services."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from rest_framework import serializers

from surveys.models import (
    AnalysisPreset,
    AnalysisRun,
    Assessment,
    ExportJob,
    JobStatus,
    Participant,
    Response,
    Score,
)
from surveys.statistician.analysis.parameters import KEYS as RUN_PARAMETER_KEYS
from surveys.statistician.analysis.parameters import RunParameters
from surveys.statistician.analysis.presets import check_reference
from surveys.statistician.exports.filters import FILTER_KEYS, ExportFilters

JOB_STATUS_HELP = "One of: " + ", ".join(JobStatus.values) + "."


def _django_errors(exc: DjangoValidationError) -> serializers.ValidationError:
    detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
    return serializers.ValidationError(detail)


class ParticipantSerializer(serializers.ModelSerializer):
    trial = serializers.CharField(source="trial.protocol_id", read_only=True)
    site = serializers.CharField(source="site.code", read_only=True)
    arm = serializers.CharField(source="arm.code", read_only=True)
    on_study = serializers.BooleanField(read_only=True)

    class Meta:
        model = Participant
        fields = [
            "id",
            "study_id",
            "trial",
            "site",
            "arm",
            "randomized_on",
            "language",
            "on_study",
            "off_study_on",
            "off_study_reason",
        ]
        read_only_fields = fields


class RandomizeSerializer(serializers.Serializer):
    """Register a randomized participant (coordinators of the site, trial admins).

    The study id must match the trial's pattern and be new; the date may not
    precede the trial's start or lie in the future at the site.
    """

    # A CharField (not a SlugRelatedField): it refuses NUL bytes before any query.
    trial = serializers.CharField(max_length=32, help_text="Protocol id, e.g. E2108.")
    study_id = serializers.CharField(max_length=32, help_text="Must match the trial's pattern.")
    site = serializers.CharField(max_length=32, help_text="Code of one of your sites.")
    arm = serializers.CharField(max_length=8, help_text="Arm code of the trial.")
    randomized_on = serializers.DateField()
    language = serializers.ChoiceField(choices=Participant.Language.choices)


class AssessmentSerializer(serializers.ModelSerializer):
    study_id = serializers.CharField(source="participant.study_id", read_only=True)
    site = serializers.CharField(source="participant.site.code", read_only=True)
    arm = serializers.CharField(source="participant.arm.code", read_only=True)
    visit = serializers.CharField(source="visit.code", read_only=True)
    visit_number = serializers.IntegerField(source="visit.number", read_only=True)
    submitted_by = serializers.CharField(
        source="submitted_by.username",
        read_only=True,
        allow_null=True,
        default=None,
        help_text="Staff member who submitted it as answered on her behalf; null otherwise.",
    )

    class Meta:
        model = Assessment
        fields = [
            "id",
            "participant",
            "study_id",
            "site",
            "arm",
            "visit",
            "visit_number",
            "status",
            "target_date",
            "window_start",
            "window_end",
            "started_at",
            "completed_at",
            "language",
            "mode",
            "assistance",
            "instrument_version",
            "submitted_by",
            "submitted_reason",
            "missed_reason",
            "missed_reason_text",
        ]
        read_only_fields = fields


class MissedReasonSerializer(serializers.Serializer):
    missed_reason = serializers.ChoiceField(choices=Assessment.MissedReason.choices)
    missed_reason_text = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=500,
        default="",
        help_text="Required when the reason is 'other'.",
    )


class ResponseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Response
        fields = ["id", "assessment", "item_code", "value", "declined", "saved_at", "revision"]
        read_only_fields = fields


class ScoreSerializer(serializers.ModelSerializer):
    study_id = serializers.CharField(source="assessment.participant.study_id", read_only=True)
    site = serializers.CharField(source="assessment.participant.site.code", read_only=True)
    arm_code = serializers.CharField(source="assessment.participant.arm.code", read_only=True)
    visit = serializers.CharField(source="assessment.visit.code", read_only=True)
    visit_number = serializers.IntegerField(source="assessment.visit.number", read_only=True)
    arm_subscale = serializers.FloatField(
        source="arm", read_only=True, allow_null=True, help_text="FACT-B+4 arm subscale."
    )
    arm_subscale_n = serializers.IntegerField(source="arm_n", read_only=True)

    class Meta:
        model = Score
        fields = [
            "id",
            "assessment",
            "study_id",
            "site",
            "arm_code",
            "visit",
            "visit_number",
            "pwb",
            "swb",
            "ewb",
            "fwb",
            "bcs",
            "factg",
            "factb",
            "toi",
            "arm_subscale",
            "pwb_n",
            "swb_n",
            "ewb_n",
            "fwb_n",
            "bcs_n",
            "factg_n",
            "factb_n",
            "toi_n",
            "arm_subscale_n",
            "items_answered",
            "items_total",
            "scoring_version",
            "toi_rule",
            "computed_at",
        ]
        read_only_fields = fields


class ExportJobSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True, help_text=JOB_STATUS_HELP)
    filters = serializers.JSONField(
        required=False,
        default=dict,
        help_text="Keys: " + ", ".join(FILTER_KEYS) + "; lists of codes, cutoff YYYY-MM-DD.",
    )
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    download = serializers.HyperlinkedIdentityField(view_name="api:export-download", read_only=True)
    codebook_download = serializers.HyperlinkedIdentityField(
        view_name="api:export-codebook", read_only=True
    )
    format = serializers.ChoiceField(
        choices=ExportJob.Format.choices,
        required=False,
        allow_blank=True,
        default="",
        help_text="Required for dataset kinds; the CDISC package is a zip, ODM an xml.",
    )
    files = serializers.SerializerMethodField(
        help_text="The export's other files (manifest, JSON codebook, SAS/R/Stata programs): "
        "name -> download URL."
    )

    class Meta:
        model = ExportJob
        fields = [
            "id",
            "kind",
            "format",
            "filters",
            "status",
            "row_count",
            "error",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "download",
            "codebook_download",
            "files",
        ]
        read_only_fields = [
            "id",
            "status",
            "row_count",
            "error",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def validate_filters(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise serializers.ValidationError("an object")
        try:
            return ExportFilters.from_dict(value).as_dict()
        except DjangoValidationError as exc:
            raise _django_errors(exc) from None

    def get_files(self, job: ExportJob) -> dict[str, str]:
        request = self.context.get("request")
        out = {}
        for name in sorted(job.files or {}):
            url = reverse("api:export-file", kwargs={"pk": job.pk, "name": name})
            out[name] = request.build_absolute_uri(url) if request is not None else url
        return out


PARAMETERS_HELP = (
    "Keys: "
    + ", ".join(RUN_PARAMETER_KEYS)
    + ". Defaults: the paper's measures (TOI, FACTB, FACTG, BCS, LR1-LR9), baseline "
    "'baseline', MMRM on, sensitivity analyses of TOI at every follow-up visit, "
    "deterioration TOI-5, TOI-5-confirmed, TOI-5-or-death, FACTB-7, FACTG-5, BCS-2 "
    "(MEASURE-POINTS[-confirmed][-or-death]). Checked against the trial: 400 if the "
    "baseline is not one of its visits or a measure is not collected."
)


class AnalysisRunSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True, help_text=JOB_STATUS_HELP)
    parameters = serializers.JSONField(required=False, default=dict, help_text=PARAMETERS_HELP)
    preset = serializers.PrimaryKeyRelatedField(
        queryset=AnalysisPreset.objects.all(),
        required=False,
        allow_null=True,
        help_text="A preset id: its parameters are the defaults that 'parameters' override, "
        "and the run is shown beside the preset's reference figures.",
    )
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    results = serializers.JSONField(read_only=True)

    class Meta:
        model = AnalysisRun
        fields = [
            "id",
            "status",
            "preset",
            "parameters",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "attempts",
            "snapshot_hash",
            "results",
            "error",
        ]
        read_only_fields = [
            "id",
            "status",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "attempts",
            "snapshot_hash",
            "results",
            "error",
        ]

    def validate_parameters(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise serializers.ValidationError("an object")
        try:
            RunParameters.from_dict(value)
        except DjangoValidationError as exc:
            raise _django_errors(exc) from None
        return value  # as given: a preset's parameters may fill in the rest


class AnalysisRunListSerializer(AnalysisRunSerializer):
    """The list leaves the (large) results out; fetch a run to get them."""

    class Meta(AnalysisRunSerializer.Meta):
        fields = [f for f in AnalysisRunSerializer.Meta.fields if f != "results"]


class AnalysisPresetSerializer(serializers.ModelSerializer):
    trial = serializers.CharField(source="trial.protocol_id", read_only=True, allow_null=True)
    parameters = serializers.JSONField(help_text=PARAMETERS_HELP)
    reference = serializers.JSONField(
        required=False,
        default=dict,
        help_text="Published figures shown beside a run of the preset: source, measure, "
        "randomized, visits (by visit code: reported, significant, mean_a, sd_a, mean_b, sd_b, "
        "p_value, scored_fraction, scored_text), items, survival, bounds, note.",
    )
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, allow_null=True
    )

    class Meta:
        model = AnalysisPreset
        fields = [
            "id",
            "name",
            "description",
            "trial",
            "parameters",
            "reference",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "trial", "created_by", "created_at", "updated_at"]

    def validate_parameters(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise serializers.ValidationError("an object")
        return value

    def validate_reference(self, value: Any) -> dict[str, Any]:
        try:
            return check_reference(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None


class PresetRunSerializer(serializers.Serializer[Any]):
    parameters = serializers.JSONField(
        required=False, default=dict, help_text="Overrides of the preset's parameters."
    )
