"""Trial set-up in the Django admin (trial admins only)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from surveys.accounts.roles import signed_in
from surveys.accounts.tokens import api_token_revoke
from surveys.models import (
    AnalysisRun,
    ApiToken,
    Arm,
    Assessment,
    AuditEvent,
    ExportJob,
    LoginAttempt,
    Participant,
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


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    """Every staff member's API tokens (never the secret: only a digest is stored)."""

    list_display = (
        "prefix",
        "name",
        "user",
        "read_only",
        "created_verified",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    )
    list_filter = ("read_only", "created_verified")
    search_fields = ("user__username", "name", "prefix")
    exclude = ("digest",)
    actions = ["revoke"]

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        actor, now = signed_in(request.user), timezone.now()
        for token in queryset:
            api_token_revoke(token_id=token.pk, actor=actor, now=now)
        self.message_user(request, f"{queryset.count()} token(s) revoked.", messages.SUCCESS)


@admin.register(LoginAttempt)
class LoginAttemptAdmin(ReadOnlyAdmin):
    list_display = ("at", "username", "client_ip", "succeeded")
    list_filter = ("succeeded",)
    search_fields = ("username", "client_ip")
