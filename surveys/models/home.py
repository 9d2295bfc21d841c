"""Answering away from the clinic: home links, the patient's access code, coordinators' calls.

A :class:`HomeLink` is one unguessable link (``/r/<token>``) to one
assessment; only a hash of its token is stored. Each reminder gets its own
link; all stay valid until revoked, until the window closes or until the form
is submitted. Opening a link asks for the participant's :class:`HomeAccess`
code (given to her on paper at enrollment, hashed with Django's password
hashers); too many wrong codes lock her home access until her coordinator
issues a new code. A :class:`CallAttempt` is one phone call a coordinator
made about an open assessment, with its outcome.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class HomeAccess(models.Model):
    """Her access code for home links (one per participant), and its lock-out state."""

    participant = models.OneToOneField(
        "surveys.Participant", on_delete=models.PROTECT, related_name="home_access"
    )
    code_hash = models.CharField(max_length=200)
    issued_at = models.DateTimeField()
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    locked_at = models.DateTimeField(
        null=True, blank=True, help_text="Locked after too many wrong codes; a new code unlocks."
    )

    class Meta:
        verbose_name = "home access code"

    def __str__(self) -> str:
        return f"home access of {self.participant_id}"

    @property
    def is_locked(self) -> bool:
        return self.locked_at is not None


class HomeLink(models.Model):
    """One link to answer one assessment at home; the token itself is never stored."""

    assessment = models.ForeignKey(
        "surveys.Assessment", on_delete=models.PROTECT, related_name="home_links"
    )
    token_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the token.")
    issued_at = models.DateTimeField()
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    opened_at = models.DateTimeField(
        null=True, blank=True, help_text="Last time she opened it with her access code."
    )

    class Meta:
        ordering = ["-issued_at", "-id"]
        indexes = [models.Index(fields=["assessment", "revoked_at"], name="home_link_live")]

    def __str__(self) -> str:
        return f"home link {self.pk} for assessment {self.assessment_id}"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class CallAttempt(models.Model):
    """A coordinator's phone call about an open assessment, and how it went."""

    class Outcome(models.TextChoices):
        COMPLETED_BY_PHONE = "completed_by_phone", "Reached: completing by phone now"
        WILL_COMPLETE_AT_HOME = "will_complete_at_home", "Reached: will complete at home"
        CALL_BACK = "call_back", "Call back"
        REFUSED = "refused", "Refused"
        UNREACHABLE = "unreachable", "Unreachable"

    assessment = models.ForeignKey(
        "surveys.Assessment", on_delete=models.PROTECT, related_name="call_attempts"
    )
    called_at = models.DateTimeField()
    called_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    outcome = models.CharField(max_length=24, choices=Outcome.choices)
    call_back_on = models.DateField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-called_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(outcome="call_back", call_back_on__isnull=False)
                | ~models.Q(outcome="call_back"),
                name="call_attempt_call_back_has_a_date",
            )
        ]

    def __str__(self) -> str:
        return f"call about {self.assessment_id} at {self.called_at:%Y-%m-%d %H:%M}: {self.outcome}"
