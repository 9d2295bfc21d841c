"""Trial set-up in the Django admin (trial admins only).

The admin never bypasses the trial's services: a participant's arm,
randomization date and off-study record are read-only here (correcting the
date, taking her off study and undoing it go through the audited services,
on the coordinator pages the admin links to); assessments, the audit trail
and jobs are read-only; participants are created by randomization only.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html_join
from simple_history.admin import SimpleHistoryAdmin

from surveys.accounts.roles import signed_in
from surveys.accounts.tokens import api_token_revoke
from surveys.models import (
    AnalysisRun,
    AnswerTap,
    ApiToken,
    Arm,
    Assessment,
    AuditEvent,
    ExportJob,
    LoginAttempt,
    Message,
    OdmOid,
    Participant,
    PreservedAnswer,
    ReminderPolicy,
    ReminderRule,
    Site,
    TaskRun,
    Trial,
    Visit,
)
from surveys.models.trial import validate_study_id_pattern
from surveys.trial.audit import describe
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


class OdmOidInline(admin.TabularInline):
    """The OIDs of the target Rave study, used by the ODM export (defaults without a row)."""

    model = OdmOid
    extra = 0
    fields = ("kind", "key", "oid")


class TrialForm(forms.ModelForm):
    """A start date and study-id pattern every participant already registered satisfies."""

    class Meta:
        model = Trial
        fields = (
            "protocol_id",
            "title",
            "sponsor",
            "registry_id",
            "participants_sex",
            "study_day_reference",
            "start_date",
            "study_id_pattern",
            "instrument_codes",
            "instrument_version",
            "needs_call_days",
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.instance.pk:
            return data
        participants = Participant.objects.filter(trial=self.instance)
        start = data.get("start_date")
        if start is not None:
            early = participants.filter(randomized_on__lt=start).order_by("randomized_on")
            if first := early.first():
                self.add_error(
                    "start_date",
                    f"{early.count()} participant(s) were randomized before this date "
                    f"(the first: {first.study_id} on {first.randomized_on:%Y-%m-%d})",
                )
        pattern = data.get("study_id_pattern")
        try:
            validate_study_id_pattern(pattern or "")
        except ValidationError:
            pattern = None  # the field's own validator reports it
        if pattern:
            probe = Trial(protocol_id=self.instance.protocol_id, study_id_pattern=pattern)
            wrong = [
                study_id
                for study_id in participants.values_list("study_id", flat=True)
                if probe.study_id_error(study_id)
            ]
            if wrong:
                self.add_error(
                    "study_id_pattern",
                    f"{len(wrong)} registered study id(s) do not match it, e.g. "
                    + ", ".join(wrong[:3]),
                )
        return data


@admin.register(Trial)
class TrialAdmin(SimpleHistoryAdmin):
    form = TrialForm
    list_display = (
        "protocol_id",
        "title",
        "start_date",
        "study_id_pattern",
        "registry_id",
        "instrument_version",
    )
    inlines = [ArmInline, VisitInline, OdmOidInline]

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """A visit edited in the trial's page moves its scheduled windows (as VisitAdmin does)."""
        super().save_formset(request, form, formset, change)
        if formset.model is not Visit:
            return
        moved = sum(visit_reschedule(visit=visit) for visit, _ in formset.changed_objects)
        if formset.changed_objects:
            messages.info(request, f"Recomputed the window of {moved} scheduled assessment(s).")


@admin.register(OdmOid)
class OdmOidAdmin(admin.ModelAdmin):
    list_display = ("trial", "kind", "key", "oid")
    list_filter = ("trial", "kind")
    search_fields = ("key", "oid")


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
    list_display = ("code", "name", "timezone", "country")
    filter_horizontal = ("coordinators",)
    search_fields = ("code", "name")


class ParticipantForm(forms.ModelForm):
    """Study id and language; the trial's pattern is checked by ``Participant.clean``."""

    class Meta:
        model = Participant
        fields = ("study_id", "language")

    def clean_study_id(self) -> str:
        # The (trial, study_id) constraint is not checked by the form itself: the trial
        # is read-only here, and Django validates a constraint only over the form's fields.
        study_id = str(self.cleaned_data["study_id"]).strip()
        taken = Participant.objects.filter(trial_id=self.instance.trial_id, study_id=study_id)
        if taken.exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("A participant with this study id already exists.")
        return study_id


@admin.register(Participant)
class ParticipantAdmin(SimpleHistoryAdmin):
    """Study id (checked against the trial's pattern) and language only; the rest via services."""

    form = ParticipantForm
    list_display = ("study_id", "trial", "site", "arm", "randomized_on", "language", "off_study_on")
    list_filter = ("trial", "site", "arm", "language")
    search_fields = ("study_id",)
    #: What changes assessments, windows or the analysis population goes through a service.
    readonly_fields = (
        "trial",
        "site",
        "arm",
        "randomized_on",
        "off_study_on",
        "off_study_reason",
        "off_study_note",
        "created_at",
        "corrections",
    )
    fields = ("study_id", "language", *readonly_fields)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Randomization creates assessments: use the coordinator form or the API.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Her assessments, answers and audit trail are kept; take her off study instead.
        return False

    @admin.display(description="Audited changes")
    def corrections(self, obj: Participant) -> str:
        if obj.pk is None:
            return ""
        off = (
            ("coordinator:off_study_undo", "Undo the off-study record")
            if obj.off_study_on
            else ("coordinator:participant", "Take her off study (her page)")
        )
        links = [
            ("coordinator:correct_randomization", "Correct the randomization date"),
            off,
        ]
        return format_html_join(
            " · ",
            '<a href="{}">{}</a>',
            ((reverse(name, args=[obj.pk]), label) for name, label in links),
        )


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
    """The audit trail in words, as the coordinator's pages show it (never raw codes)."""

    list_display = ("at", "actor_label", "action", "participant", "change", "detail")
    list_filter = ("action",)
    list_select_related = ("participant", "site")
    search_fields = ("participant__study_id", "actor_label")

    @admin.display(description="Change")
    def change(self, obj: AuditEvent) -> str:
        return describe(obj).change

    @admin.display(description="Details")
    def detail(self, obj: AuditEvent) -> str:
        return describe(obj).detail


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


# --- reminders (docs/reminders.md) -----------------------------------------------------------
# Contact details and the demo's outbox are not in the admin: only coordinators of her site
# see them, on her page.


class ReminderRuleInline(admin.TabularInline):
    model = ReminderRule
    extra = 0
    fields = ("kind", "days", "email", "sms", "active")


@admin.register(ReminderPolicy)
class ReminderPolicyAdmin(SimpleHistoryAdmin):
    """A trial's reminders; every change applies at the next run (nothing is pre-scheduled)."""

    list_display = ("trial", "enabled", "send_at", "stale_after_hours")
    inlines = [ReminderRuleInline]


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "participant", "assessment", "rule_label", "channel", "status")
    list_filter = ("status", "channel")
