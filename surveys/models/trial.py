"""Trial set-up: trials, arms, sites, the visit schedule and participants."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from simple_history.models import HistoricalRecords

from surveys.schedule import add_months


def validate_timezone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"{value!r} is not an IANA time zone") from exc


def validate_country(value: str) -> None:
    if len(value) != 3 or not value.isalpha() or not value.isupper():
        raise ValidationError(f"{value!r} is not an ISO 3166-1 alpha-3 code (e.g. USA)")


class Trial(models.Model):
    class StudyDayReference(models.TextChoices):
        RANDOMIZATION = "randomization", "Randomization date"
        BASELINE = "baseline", "Date of the baseline form (randomization date without one)"

    class Sex(models.TextChoices):
        FEMALE = "F", "Women only"
        MALE = "M", "Men only"
        ANY = "", "Not restricted"

    protocol_id = models.CharField(max_length=32, unique=True)
    title = models.CharField(max_length=300)
    sponsor = models.CharField(
        max_length=200, blank=True, help_text="Clinical study sponsor (CDISC TS SPONSOR)."
    )
    registry_id = models.CharField(
        max_length=32, blank=True, help_text="ClinicalTrials.gov id, e.g. NCT01242800 (TS REGID)."
    )
    participants_sex = models.CharField(
        max_length=1,
        choices=Sex.choices,
        blank=True,
        help_text="Sex enrolled by protocol: DM.SEX (U when not restricted; sex is not collected).",
    )
    study_day_reference = models.CharField(
        max_length=16,
        choices=StudyDayReference.choices,
        default=StudyDayReference.RANDOMIZATION,
        help_text="DM.RFSTDTC in the CDISC package: day 1 of QSDY, DSSTDY and ADY.",
    )
    instrument_codes = models.JSONField(
        default=list, help_text='Instruments given at every visit, e.g. ["FACT-B", "E2108-LR"].'
    )
    instrument_version = models.CharField(
        max_length=64,
        default="FACT-B@4+E2108-LR@draft-1",
        help_text="Pinned on each assessment when it is created.",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["protocol_id"]

    def __str__(self) -> str:
        return self.protocol_id


class Arm(models.Model):
    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="arms")
    code = models.CharField(max_length=8)
    label = models.CharField(max_length=200)

    class Meta:
        ordering = ["trial", "code"]
        constraints = [models.UniqueConstraint(fields=["trial", "code"], name="arm_code_unique")]

    def __str__(self) -> str:
        return f"{self.code}: {self.label}"


class Site(models.Model):
    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    timezone = models.CharField(
        max_length=64,
        default="America/New_York",
        validators=[validate_timezone],
        help_text="Windows open and close at midnight in this time zone.",
    )
    country = models.CharField(
        max_length=3,
        default="USA",
        validators=[validate_country],
        help_text="ISO 3166-1 alpha-3 country code (CDISC DM.COUNTRY).",
    )
    coordinators = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="coordinated_sites", blank=True
    )
    history = HistoricalRecords(m2m_fields=[coordinators])

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class Visit(models.Model):
    """One scheduled time point: target = randomization + N calendar months."""

    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="visits")
    code = models.SlugField(max_length=32)
    label = models.CharField(max_length=100)
    number = models.PositiveSmallIntegerField(help_text="VISITNUM in exports; also the order.")
    months_after_randomization = models.PositiveSmallIntegerField()
    window_before_days = models.PositiveSmallIntegerField()
    window_after_days = models.PositiveSmallIntegerField()
    is_baseline = models.BooleanField(default=False)
    history = HistoricalRecords()

    class Meta:
        ordering = ["trial", "number"]
        constraints = [
            models.UniqueConstraint(fields=["trial", "code"], name="visit_code_unique"),
            models.UniqueConstraint(fields=["trial", "number"], name="visit_number_unique"),
        ]

    def __str__(self) -> str:
        return self.label

    def target_date(self, randomized_on: dt.date) -> dt.date:
        return add_months(randomized_on, self.months_after_randomization)

    def window(self, randomized_on: dt.date) -> tuple[dt.date, dt.date]:
        """First and last calendar day (inclusive) on which the visit may be done."""
        target = self.target_date(randomized_on)
        return (
            target - dt.timedelta(days=self.window_before_days),
            target + dt.timedelta(days=self.window_after_days),
        )


class Participant(models.Model):
    class Language(models.TextChoices):
        ENGLISH = "en", "English"
        SPANISH = "es", "Español"

    class OffStudyReason(models.TextChoices):
        DEATH = "death", "Death"
        WITHDRAWAL = "withdrawal", "Withdrew consent"
        LOST = "lost_to_follow_up", "Lost to follow-up"
        OTHER = "other", "Other"

    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="participants")
    study_id = models.CharField(max_length=32, help_text="Protocol study id; no names.")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="participants")
    arm = models.ForeignKey(Arm, on_delete=models.PROTECT, related_name="participants")
    randomized_on = models.DateField()
    language = models.CharField(max_length=2, choices=Language.choices, default=Language.ENGLISH)
    off_study_on = models.DateField(null=True, blank=True)
    off_study_reason = models.CharField(max_length=32, choices=OffStudyReason.choices, blank=True)
    off_study_note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["trial", "study_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["trial", "study_id"], name="participant_study_id_unique"
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(off_study_on__isnull=True, off_study_reason="")
                    | (models.Q(off_study_on__isnull=False) & ~models.Q(off_study_reason=""))
                ),
                name="participant_off_study_date_and_reason_together",
            ),
        ]

    def __str__(self) -> str:
        return self.study_id

    @property
    def on_study(self) -> bool:
        return self.off_study_on is None


class OdmOid(models.Model):
    """The OID a trial's metadata object has in the ODM export (a Rave study's OIDs).

    Without a row the export uses its default OID (shown in docs/cdisc.md); a
    data manager enters the OIDs of the target Rave study here, in the admin.
    """

    class Kind(models.TextChoices):
        STUDY = "study", "Study"
        EVENT = "event", "StudyEvent (visit code)"
        FORM = "form", "Form"
        ITEM_GROUP = "item_group", "ItemGroup (section code)"
        ITEM = "item", "Item (item code)"
        CODELIST = "codelist", "CodeList"

    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="odm_oids")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    key = models.CharField(
        max_length=32, help_text="Visit, section or item code; 'QS' for the form."
    )
    oid = models.CharField(
        max_length=64,
        validators=[
            RegexValidator(r"^[A-Za-z_][A-Za-z0-9_.\-]*$", "letters, digits, '.', '_' and '-'")
        ],
    )

    class Meta:
        ordering = ["trial", "kind", "key"]
        verbose_name = "ODM OID"
        constraints = [
            models.UniqueConstraint(fields=["trial", "kind", "key"], name="odm_oid_unique_key"),
            models.UniqueConstraint(fields=["trial", "kind", "oid"], name="odm_oid_unique_oid"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.key} = {self.oid}"
