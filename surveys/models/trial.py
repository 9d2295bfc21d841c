"""Trial set-up: trials, arms, sites, the visit schedule and participants."""

from __future__ import annotations

import datetime as dt
import re
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


#: The study-id pattern of a trial that has not set its own: letters, digits, "-", "_" and
#: "." only (no spaces, so no names), starting with a letter or digit, at most 32 characters.
DEFAULT_STUDY_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"


def validate_study_id_pattern(value: str) -> None:
    """A usable regular expression that cannot match an empty study id."""
    try:
        compiled = re.compile(value)
    except re.error as exc:
        raise ValidationError(f"not a regular expression: {exc}") from exc
    if compiled.fullmatch(""):
        raise ValidationError("the pattern must not accept an empty study id")


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
    start_date = models.DateField(
        help_text="The day the trial opened: no randomization date may precede it."
    )
    study_id_pattern = models.CharField(
        max_length=200,
        default=DEFAULT_STUDY_ID_PATTERN,
        validators=[validate_study_id_pattern],
        help_text=(
            r"Regular expression every study id must match in full, e.g. ^E2108-\d{4}$. "
            "Checked on every path: coordinator form, API and admin."
        ),
    )
    instrument_codes = models.JSONField(
        default=list, help_text='Instruments given at every visit, e.g. ["FACT-B", "E2108-LR"].'
    )
    instrument_version = models.CharField(
        max_length=64,
        default="FACT-B@4+E2108-LR@draft-1",
        help_text="Pinned on each assessment when it is created.",
    )
    needs_call_days = models.PositiveSmallIntegerField(
        default=7,
        help_text='The coordinators\' "needs a call" list: open forms whose window closes '
        "within this many days, or started and with no answer for this many days.",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["protocol_id"]

    def __str__(self) -> str:
        return self.protocol_id

    # --- data rules (pure; the services and the model's clean() call them) ----------------

    def study_id_error(self, study_id: str) -> str | None:
        """Why *study_id* is not a study id of this trial, or None when it is."""
        if re.fullmatch(self.study_id_pattern, study_id) is None:
            return (
                f"{study_id!r} is not a study id of {self.protocol_id}: "
                f"it must match {self.study_id_pattern}"
            )
        return None

    def randomization_date_error(self, day: dt.date, *, today: dt.date | None) -> str | None:
        """Why *day* cannot be a randomization date, or None.

        *today* is the site's date; None skips the "not in the future" check
        (model validation has no clock; the services pass theirs).
        """
        if day < self.start_date:
            return (
                f"{day.isoformat()} is before {self.protocol_id} opened "
                f"({self.start_date.isoformat()})"
            )
        if today is not None and day > today:
            return f"{day.isoformat()} is in the future (today is {today.isoformat()})"
        return None


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

    def clean(self) -> None:
        """The trial's study-id pattern and start date (every path runs ``full_clean``).

        That the date is not in the future needs a clock: the services check it.
        """
        super().clean()
        if self.trial_id is None:
            return
        errors: dict[str, str] = {}
        if self.study_id and (problem := self.trial.study_id_error(self.study_id)):
            errors["study_id"] = problem
        if self.randomized_on and (
            problem := self.trial.randomization_date_error(self.randomized_on, today=None)
        ):
            errors["randomized_on"] = problem
        if errors:
            raise ValidationError(errors)


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
