"""Trial set-up in the Django admin (trial admins only)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from surveys.models import (
    AnalysisRun,
    AnswerTap,
    Arm,
    Assessment,
    AuditEvent,
    ExportJob,
    Participant,
    PreservedAnswer,
    Site,
    TaskRun,
    Trial,
    Visit,
)
from surveys.trial.participants import visit_reschedule


class ArmInline(admin.TabularInline):
    model = Arm
    extra = 0


class VisitInline(admin.TabularInline):
    model = Visit
    extra = 0
    fields = (
        "number",
        "code",
        "label",
        "months_after_randomization",
        "window_before_days",
        "window_after_days",
        "is_baseline",
    )


@admin.register(Trial)
class TrialAdmin(SimpleHistoryAdmin):
    list_display = ("protocol_id", "title", "instrument_version")
    inlines = [ArmInline, VisitInline]


@admin.register(Visit)
class VisitAdmin(SimpleHistoryAdmin):
    list_display = (
        "trial",
        "number",
        "label",
        "months_after_randomization",
        "window_before_days",
        "window_after_days",
    )
    list_filter = ("trial",)

    def save_model(self, request: HttpRequest, obj: Visit, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change:
            moved = visit_reschedule(visit=obj)
            messages.info(request, f"Recomputed the window of {moved} scheduled assessment(s).")


@admin.register(Site)
class SiteAdmin(SimpleHistoryAdmin):
    list_display = ("code", "name", "timezone")
    filter_horizontal = ("coordinators",)
    search_fields = ("code", "name")


@admin.register(Participant)
class ParticipantAdmin(SimpleHistoryAdmin):
    list_display = ("study_id", "trial", "site", "arm", "randomized_on", "language", "off_study_on")
    list_filter = ("trial", "site", "arm", "language")
    search_fields = ("study_id",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Randomization creates assessments: use the coordinator form or the import command.
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Assessment)
class AssessmentAdmin(ReadOnlyAdmin):
    list_display = ("participant", "visit", "status", "window_start", "window_end", "completed_at")
    list_filter = ("status", "visit__label", "participant__site")
    search_fields = ("participant__study_id",)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = (
        "at",
        "actor_label",
        "action",
        "participant",
        "from_status",
        "to_status",
        "reason",
    )
    list_filter = ("action",)
    search_fields = ("participant__study_id", "actor_label")


@admin.register(TaskRun)
class TaskRunAdmin(ReadOnlyAdmin):
    list_display = ("name", "started_at", "finished_at", "result", "worker")


@admin.register(ExportJob)
class ExportJobAdmin(ReadOnlyAdmin):
    list_display = ("pk", "kind", "format", "status", "created_by", "created_at", "row_count")


@admin.register(AnalysisRun)
class AnalysisRunAdmin(ReadOnlyAdmin):
    list_display = ("pk", "status", "created_by", "created_at", "snapshot_hash")


@admin.register(AnswerTap)
class AnswerTapAdmin(ReadOnlyAdmin):
    """Every answer a tablet delivered and what became of it (read-only)."""

    list_display = (
        "received_at",
        "assessment",
        "item_code",
        "value",
        "declined",
        "tapped_at",
        "outcome",
        "kiosk_session",
        "from_ended_session",
    )
    list_filter = ("outcome", "from_ended_session")
    search_fields = ("assessment__participant__study_id", "idempotency_key")
    list_select_related = ("assessment",)


@admin.register(PreservedAnswer)
class PreservedAnswerAdmin(ReadOnlyAdmin):
    """Answers kept because the assessment took no more answers (read-only)."""

    list_display = (
        "received_at",
        "assessment",
        "item_code",
        "value",
        "declined",
        "tapped_at",
        "closed_reason",
        "kiosk_session",
    )
    list_filter = ("closed_reason",)
    search_fields = ("assessment__participant__study_id",)
    list_select_related = ("assessment",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[PreservedAnswer]:
        return super().get_queryset(request).filter(outcome=AnswerTap.Outcome.PRESERVED)
