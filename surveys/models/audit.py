"""The audit trail: append-only, one row per thing that happened.

The application has no update or delete path for it (``save`` refuses an
update, ``delete`` refuses); on PostgreSQL a trigger added in a migration
refuses UPDATE and DELETE from any client.
"""

from __future__ import annotations

from typing import Any, TypeAlias

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import models

#: Who did something: a user (staff, or the anonymous visitor of a request), or a
#: system label such as ``"system:sweep"``, ``"kiosk"``, ``"kiosk:pin"``; None is "system".
Actor: TypeAlias = AbstractBaseUser | AnonymousUser | str | None


def actor_fields(actor: Actor) -> dict[str, Any]:
    """The audit columns (``actor``, ``actor_label``) for *actor*."""
    if actor is None or isinstance(actor, str):
        return {"actor": None, "actor_label": actor or "system"}
    if not actor.is_authenticated:
        return {"actor": None, "actor_label": "anonymous"}
    return {"actor": actor, "actor_label": actor.get_username()}


class AuditTrailIsImmutable(Exception):
    pass


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> int:
        raise AuditTrailIsImmutable("audit events cannot be updated")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditTrailIsImmutable("audit events cannot be deleted")


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        STATUS_CHANGE = "status_change", "Status change"
        MISSED_REASON = "missed_reason", "Missed reason recorded"
        OFF_STUDY = "off_study", "Taken off study"
        OFF_STUDY_UNDONE = "off_study_undone", "Off-study record undone"
        RANDOMIZED = "randomized", "Randomized"
        RANDOMIZATION_CORRECTED = "randomization_corrected", "Randomization date corrected"
        RESPONSE_CORRECTION = "response_correction", "Answer corrected"
        KIOSK_START = "kiosk_start", "Tablet hand-off started"
        KIOSK_END = "kiosk_end", "Tablet session ended"
        LATE_ANSWER = "late_answer", "Answer from an ended tablet session"
        OLDER_ANSWER = "older_answer", "Older tap not applied"
        ANSWER_PRESERVED = "answer_preserved", "Late answer kept for the coordinator"
        SCORED = "scored", "Scored"
        EXPORT = "export", "Data exported"
        ANALYSIS = "analysis", "Analysis run"
        EXPORT_DOWNLOAD = "export_download", "Export file downloaded"
        EXPORT_EXPIRED = "export_expired", "Export files deleted (retention)"
        RUN_FILE_DOWNLOAD = "run_file_download", "Analysis file downloaded"
        RECORD_VIEW = "record_view", "Participant record viewed"
        LOGIN = "login", "Logged in"
        LOGIN_FAILED = "login_failed", "Login failed"
        LOGIN_REFUSED = "login_refused", "Login refused (too many attempts)"
        LOGOUT = "logout", "Logged out"
        SESSION_EXPIRED = "session_expired", "Signed out after inactivity"
        PASSWORD_CHANGED = "password_changed", "Password changed"
        TWO_FACTOR = "two_factor", "Two-factor authentication changed"
        API_TOKEN_CREATED = "api_token_created", "API token created"
        API_TOKEN_REVOKED = "api_token_revoked", "API token revoked"
        API_TOKEN_USED = "api_token_used", "API token used"
        AUDIT_EXPORT = "audit_export", "Audit log exported"
        HOME_LINK_ISSUED = "home_link_issued", "Home link issued"
        HOME_LINKS_REVOKED = "home_links_revoked", "Home links revoked"
        HOME_CODE_ISSUED = "home_code_issued", "Home access code issued"
        HOME_CODE_FAILED = "home_code_failed", "Wrong home access code"
        HOME_LOCKED = "home_locked", "Home access locked (too many wrong codes)"
        CALL_RECORDED = "call_recorded", "Phone call recorded"
        CONTACT_VIEW = "contact_view", "Contact details viewed"
        CONTACT_CHANGE = "contact_change", "Contact details changed"
        CONTACT_ERASED = "contact_erased", "Contact details erased"
        REMINDER = "reminder", "Reminder sent"

    at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(
        max_length=64, help_text='Who or what: a username, "system:sweep", "kiosk".'
    )
    action = models.CharField(max_length=32, choices=Action.choices)
    participant = models.ForeignKey(
        "surveys.Participant",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_events",
    )
    assessment = models.ForeignKey(
        "surveys.Assessment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_events",
    )
    site = models.ForeignKey(
        "surveys.Site",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The site an event with no participant concerns (an export of its audit "
        "log); events of a participant belong to her site.",
    )
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    details = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AuditTrailIsImmutable("audit events cannot be changed once written")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AuditTrailIsImmutable("audit events cannot be deleted")
