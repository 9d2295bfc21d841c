"""A tablet hand-off: one kiosk session serves exactly one assessment; what its tablet delivered."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models

from surveys.models.assessment import Assessment


class KioskSession(models.Model):
    """One assessment being answered: on the clinic tablet, at home by link, or by phone.

    The mode is the assessment's mode of administration when this session
    submits it. A home session has no staff member (``started_by`` is empty,
    ``home_link`` the link she opened); a phone session is started by the
    coordinator who reads the items.
    """

    #: The modes of administration (the assessment's own choices).
    Mode = Assessment.Mode

    class EndReason(models.TextChoices):
        SUBMITTED = "submitted", "Assessment submitted"
        COORDINATOR = "coordinator", "Ended by the coordinator"
        OFF_STUDY = "off_study", "Participant taken off study"
        STAFF_SUBMITTED = "staff_submitted", "Submitted as answered by staff"
        WINDOW_MOVED = "window_moved", "Window moved by a corrected randomization date"
        REPLACED = "replaced", "Replaced by a hand-off on another tablet"

    token = models.CharField(max_length=64, unique=True)
    assessment = models.ForeignKey(
        "surveys.Assessment", on_delete=models.PROTECT, related_name="kiosk_sessions"
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The coordinator who handed it over (tablet) or reads the items (phone).",
    )
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.TABLET)
    home_link = models.ForeignKey(
        "surveys.HomeLink",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="kiosk_sessions",
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


class AnswerTapQuerySet(models.QuerySet["AnswerTap"]):
    def preserved(self) -> AnswerTapQuerySet:
        return self.filter(outcome=AnswerTap.Outcome.PRESERVED)


class AnswerTap(models.Model):
    """One answer as a tablet delivered it, and what the server did with it.

    Every answer saved through ``surveys.tablet.answers`` leaves one row: the
    item and value she tapped, when she tapped it (``tapped_at``, bounded by
    the server, see ``docs/tablet.md``), the kiosk session whose tablet sent
    it, its idempotency key (unique per assessment: a key names one tap for
    ever) and the outcome. Rows are never changed. An answer that arrived
    after the assessment stopped taking answers is *preserved* here (outcome
    ``preserved`` with the reason) and shown to the coordinator; it never
    changes the form's answers.
    """

    class Outcome(models.TextChoices):
        CREATED = "created", "Stored: first answer to the item"
        CHANGED = "changed", "Stored: changed the answer"
        UNCHANGED = "unchanged", "Same as the stored answer"
        OLDER = "older", "Not applied: a later tap is stored"
        PRESERVED = "preserved", "Kept for the coordinator: the assessment took no more answers"

    class ClosedReason(models.TextChoices):
        COMPLETED = "completed", "The questionnaire had already been sent"
        WINDOW_CLOSED = "window_closed", "The assessment window had closed"
        NOT_EXPECTED = "not_expected", "The participant had gone off study"

    assessment = models.ForeignKey(
        "surveys.Assessment", on_delete=models.PROTECT, related_name="answer_taps"
    )
    kiosk_session = models.ForeignKey(
        KioskSession, null=True, blank=True, on_delete=models.PROTECT, related_name="answer_taps"
    )
    from_ended_session = models.BooleanField(
        default=False, help_text="Delivered by a tablet whose kiosk session had already ended."
    )
    item_code = models.CharField(max_length=8)
    value = models.PositiveSmallIntegerField(null=True, blank=True)
    declined = models.BooleanField(default=False)
    idempotency_key = models.CharField(max_length=64, blank=True)
    tapped_at = models.DateTimeField(help_text="When she tapped it (bounded by the server).")
    received_at = models.DateTimeField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    closed_reason = models.CharField(max_length=16, choices=ClosedReason.choices, blank=True)

    objects = AnswerTapQuerySet.as_manager()

    class Meta:
        ordering = ["received_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["assessment", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="answer_tap_key_once_per_assessment",
            ),
            models.CheckConstraint(
                condition=models.Q(outcome="preserved", closed_reason__gt="")
                | (~models.Q(outcome="preserved") & models.Q(closed_reason="")),
                name="answer_tap_preserved_has_a_reason",
            ),
        ]
        indexes = [
            models.Index(
                fields=["assessment"],
                name="answer_tap_preserved",
                condition=models.Q(outcome="preserved"),
            )
        ]

    def __str__(self) -> str:
        shown = "declined" if self.declined else self.value
        return f"{self.item_code}={shown} tapped {self.tapped_at:%Y-%m-%d %H:%M:%S}: {self.outcome}"


class PreservedAnswer(AnswerTap):
    """The answers kept for the coordinator, as the admin lists them (the preserved rows)."""

    class Meta:
        proxy = True
        verbose_name = "preserved answer"


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
