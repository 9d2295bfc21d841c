"""A tablet hand-off: one kiosk session serves exactly one assessment."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models


class KioskSession(models.Model):
    class EndReason(models.TextChoices):
        SUBMITTED = "submitted", "Assessment submitted"
        COORDINATOR = "coordinator", "Ended by the coordinator"
        OFF_STUDY = "off_study", "Participant taken off study"
        STAFF_SUBMITTED = "staff_submitted", "Submitted as answered by staff"
        WINDOW_MOVED = "window_moved", "Window moved by a corrected randomization date"

    token = models.CharField(max_length=64, unique=True)
    assessment = models.ForeignKey(
        "surveys.Assessment", on_delete=models.PROTECT, related_name="kiosk_sessions"
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    started_at = models.DateTimeField()
    last_activity_at = models.DateTimeField()
    locked = models.BooleanField(default=False)
    pin_hash = models.CharField(max_length=200)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=16, choices=EndReason.choices, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["assessment"],
                condition=models.Q(ended_at__isnull=True),
                name="one_live_kiosk_session_per_assessment",
            )
        ]

    def __str__(self) -> str:
        return f"kiosk {self.pk} for assessment {self.assessment_id}"

    @property
    def is_live(self) -> bool:
        return self.ended_at is None

    def is_idle(self, now: dt.datetime) -> bool:
        return now - self.last_activity_at >= dt.timedelta(seconds=settings.KIOSK_IDLE_SECONDS)


class InstrumentText(models.Model):
    """Licensed item wording, loaded per instrument version and language.

    The repository never ships FACIT's wording; a licensee loads it with
    ``manage.py load_instrument_text``. Without it the tablet shows our short
    labels, marked as demonstration wording.
    """

    instrument = models.CharField(max_length=32)
    version = models.CharField(max_length=32)
    language = models.CharField(max_length=2)
    item_code = models.CharField(max_length=8)
    text = models.TextField()
    loaded_at = models.DateTimeField()
    source = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["instrument", "version", "language", "item_code"]
        constraints = [
            models.UniqueConstraint(
                fields=["instrument", "version", "language", "item_code"],
                name="instrument_text_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.instrument} {self.version} {self.language} {self.item_code}"
