"""Reaching patients outside the clinic: contact details, reminder policies, messages.

Contact details are personal data held only to remind her: encrypted at rest
(:class:`~surveys.models.crypto.EncryptedTextField`), never exported, erased when she
withdraws consent to be contacted or some time after she leaves the study. The
services live in ``surveys.outreach``; docs/reminders.md tells the whole story.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from surveys.models.crypto import EncryptedTextField


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "Text message (SMS)"


class ContactDetails(models.Model):
    """How to reach one participant, given by her to her coordinator (encrypted at rest)."""

    class Language(models.TextChoices):
        ENGLISH = "en", "English"
        SPANISH = "es", "Español"

    participant = models.OneToOneField(
        "surveys.Participant", on_delete=models.PROTECT, related_name="contact"
    )
    email = EncryptedTextField(blank=True)
    mobile = EncryptedTextField(blank=True, help_text="E.164, e.g. +15555550123.")
    preferred_channel = models.CharField(
        max_length=8, choices=Channel.choices, default=Channel.EMAIL
    )
    language = models.CharField(max_length=2, choices=Language.choices, default=Language.ENGLISH)
    quiet_start = models.TimeField(
        null=True, blank=True, help_text="No message from this local time (her site's zone)."
    )
    quiet_end = models.TimeField(null=True, blank=True, help_text="... until this local time.")
    consent = models.BooleanField(
        default=False, help_text="She agreed to be contacted by email or text message."
    )
    consent_at = models.DateTimeField(null=True, blank=True)
    consent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    consent_withdrawn_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField()
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    off_study_noticed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the erasure job first saw her off study: the grace period runs from here.",
    )
    erased_at = models.DateTimeField(null=True, blank=True)
    erased_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name_plural = "contact details"

    def __str__(self) -> str:
        return f"contact details of participant {self.participant_id}"

    def address(self, channel: str) -> str:
        return self.email if channel == Channel.EMAIL else self.mobile

    def channels(self) -> list[str]:
        """Channels she can be reached on, her preferred one first."""
        held = [c for c in (Channel.EMAIL, Channel.SMS) if self.address(c)]
        return sorted(held, key=lambda c: c != self.preferred_channel)

    def in_quiet_hours(self, local: dt.time) -> bool:
        """Whether the local wall-clock time *local* is in her quiet hours (may span midnight)."""
        start, end = self.quiet_start, self.quiet_end
        if start is None or end is None or start == end:
            return False
        if start < end:
            return start <= local < end
        return local >= start or local < end


class ReminderPolicy(models.Model):
    """When and how a trial reminds its participants of an open questionnaire."""

    trial = models.OneToOneField(
        "surveys.Trial", on_delete=models.CASCADE, related_name="reminder_policy"
    )
    enabled = models.BooleanField(default=True)
    send_at = models.TimeField(
        default=dt.time(10, 0),
        help_text="Local time of day (the participant's site) at which a reminder falls due.",
    )
    stale_after_hours = models.PositiveSmallIntegerField(
        default=24,
        help_text="A reminder not sent within this many hours of falling due (after her quiet "
        "hours) is dropped rather than sent late.",
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "reminder policies"

    def __str__(self) -> str:
        return f"reminder policy of {self.trial_id}"


class ReminderRule(models.Model):
    class Kind(models.TextChoices):
        ON_OPEN = "on_open", "When the window opens"
        AFTER_OPEN = "after_open", "N days after it opened, if not started"
        BEFORE_CLOSE = "before_close", "N days before it closes, if not submitted"

    policy = models.ForeignKey(ReminderPolicy, on_delete=models.CASCADE, related_name="rules")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    days = models.PositiveSmallIntegerField(default=0, help_text="N (0 for 'when it opens').")
    email = models.BooleanField(default=True)
    sms = models.BooleanField(default=True)
    active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["policy", "kind", "days"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "kind", "days"], name="reminder_rule_unique"),
            models.CheckConstraint(
                condition=models.Q(email=True) | models.Q(sms=True),
                name="reminder_rule_has_a_channel",
            ),
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.ON_OPEN:
            return "when the window opens"
        if self.kind == self.Kind.AFTER_OPEN:
            return f"{self.days} days after it opened, if not started"
        return f"{self.days} days before it closes"

    def allowed(self) -> list[str]:
        return [c for c, on in ((Channel.EMAIL, self.email), (Channel.SMS, self.sms)) if on]


class Message(models.Model):
    """One reminder sent (or attempted) to one participant: the log on her page.

    At most one per (assessment, rule): the row is inserted before anything is sent
    and the unique constraint refuses a second one, however many beats run at once.
    The address and the text are not kept (the outbox of the demo keeps them,
    encrypted).
    """

    class Status(models.TextChoices):
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SUPERSEDED = "superseded", "Not sent: a later reminder was due at the same time"

    participant = models.ForeignKey(
        "surveys.Participant", on_delete=models.PROTECT, related_name="messages"
    )
    assessment = models.ForeignKey(
        "surveys.Assessment", on_delete=models.PROTECT, related_name="messages"
    )
    rule = models.ForeignKey(
        ReminderRule, null=True, on_delete=models.SET_NULL, related_name="messages"
    )
    rule_label = models.CharField(max_length=100)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    language = models.CharField(max_length=2)
    template = models.CharField(max_length=100)
    due_at = models.DateTimeField()
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SENDING)
    error = models.CharField(max_length=500, blank=True)
    provider_id = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["assessment", "rule"], name="message_one_per_reminder")
        ]
        indexes = [models.Index(fields=["participant", "created_at"], name="message_participant")]

    def __str__(self) -> str:
        return f"{self.channel} reminder {self.rule_label} ({self.status})"


class OutboxMessage(models.Model):
    """A message the demo delivered to its outbox instead of a mail server or SMS provider."""

    channel = models.CharField(max_length=8, choices=Channel.choices)
    to = EncryptedTextField()
    subject = models.CharField(max_length=300, blank=True)
    body = EncryptedTextField()
    created_at = models.DateTimeField()
    participant = models.ForeignKey(
        "surveys.Participant",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="outbox_messages",
    )
    message = models.OneToOneField(
        Message, null=True, blank=True, on_delete=models.CASCADE, related_name="outbox"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.channel} to outbox at {self.created_at:%Y-%m-%d %H:%M}"
