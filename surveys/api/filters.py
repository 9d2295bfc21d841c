"""Query filters of the API (django-filter): by site, arm, visit, status, participant."""

from __future__ import annotations

import django_filters as filters

from surveys.models import AnalysisRun, Assessment, ExportJob, Participant, Response, Score
from surveys.security.dates import BoundedDateFilter, BoundedDateTimeFilter


class ParticipantFilter(filters.FilterSet):
    site = filters.CharFilter(field_name="site__code", help_text="Site code.")
    arm = filters.CharFilter(field_name="arm__code", help_text="Arm code.")
    study_id = filters.CharFilter(lookup_expr="icontains", help_text="Part of the study id.")
    on_study = filters.BooleanFilter(
        field_name="off_study_on", lookup_expr="isnull", help_text="Still on study."
    )
    randomized_after = BoundedDateFilter(field_name="randomized_on", lookup_expr="gte")
    randomized_before = BoundedDateFilter(field_name="randomized_on", lookup_expr="lte")

    class Meta:
        model = Participant
        fields = ["site", "arm", "study_id", "on_study", "language"]


class AssessmentFilter(filters.FilterSet):
    participant = filters.CharFilter(field_name="participant__study_id", help_text="Study id.")
    site = filters.CharFilter(field_name="participant__site__code", help_text="Site code.")
    arm = filters.CharFilter(field_name="participant__arm__code", help_text="Arm code.")
    visit = filters.CharFilter(field_name="visit__code", help_text="Visit code.")
    completed_after = BoundedDateTimeFilter(field_name="completed_at", lookup_expr="gte")
    completed_before = BoundedDateTimeFilter(field_name="completed_at", lookup_expr="lte")

    class Meta:
        model = Assessment
        fields = ["status", "participant", "site", "arm", "visit"]


class ResponseFilter(filters.FilterSet):
    participant = filters.CharFilter(
        field_name="assessment__participant__study_id", help_text="Study id."
    )
    visit = filters.CharFilter(field_name="assessment__visit__code", help_text="Visit code.")
    site = filters.CharFilter(field_name="assessment__participant__site__code")

    class Meta:
        model = Response
        fields = ["assessment", "item_code", "declined", "participant", "visit", "site"]


class ScoreFilter(filters.FilterSet):
    participant = filters.CharFilter(
        field_name="assessment__participant__study_id", help_text="Study id."
    )
    visit = filters.CharFilter(field_name="assessment__visit__code", help_text="Visit code.")
    site = filters.CharFilter(field_name="assessment__participant__site__code")
    arm = filters.CharFilter(field_name="assessment__participant__arm__code")

    class Meta:
        model = Score
        fields = ["assessment", "participant", "visit", "site", "arm", "scoring_version"]


class ExportJobFilter(filters.FilterSet):
    class Meta:
        model = ExportJob
        fields = ["status", "kind", "format"]


class AnalysisRunFilter(filters.FilterSet):
    class Meta:
        model = AnalysisRun
        fields = ["status"]
