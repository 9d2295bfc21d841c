"""Assessments (participant × visit), their answers and scores.

Each status rule is written once in Python and once in SQL, side by side,
from the same constants: a pure method of :class:`Assessment` that takes the
clock as an argument (``due_transition(now)``, ``is_answerable(now)``,
``is_overdue(now)``, ``needs_missed_reason``) and the matching ``Q`` builder
and :class:`AssessmentQuerySet` method (``due(to_status, now)``,
``answerable(now)``, ``overdue(now)``, ``missing_reason()``).
``tests/trial/test_status_rules.py`` runs its labelled rows through both. The
only code that changes a status is
``surveys.trial.transitions.assessment_transition``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from scoring.instruments import INSTRUMENTS

#: An open assessment is overdue in the last this-many days of its window.
OVERDUE_DAYS = 7


# --- status rules as SQL (each mirrors a pure method of Assessment) ----------------------


def answerable_q(now: dt.datetime) -> Q:
    """:meth:`Assessment.is_answerable`: open or in progress, and the window not closed."""
    return Q(status__in=Assessment.ACTIVE, closes_at__gt=now)


def closing_within_q(now: dt.datetime, days: int) -> Q:
    """:meth:`Assessment.closes_within`: answerable, and the window closes within *days*."""
    return answerable_q(now) & Q(closes_at__lte=now + dt.timedelta(days=days))


def overdue_q(now: dt.datetime) -> Q:
    """:meth:`Assessment.is_overdue`: answerable, in the last OVERDUE_DAYS of the window."""
    return closing_within_q(now, OVERDUE_DAYS)


def opening_within_q(now: dt.datetime, days: int) -> Q:
    """:meth:`Assessment.opens_within`: scheduled, and the window opens within *days*."""
    return Q(
        status=Assessment.Status.SCHEDULED,
        opens_at__gt=now,
        opens_at__lte=now + dt.timedelta(days=days),
    )


def due_q(to_status: str, now: dt.datetime) -> Q:
    """:meth:`Assessment.due_transition` ``== to_status``: what the clock makes due."""
    S = Assessment.Status
    if to_status == S.MISSED:
        return Q(status__in=Assessment.NOT_STARTED, closes_at__lte=now)
    if to_status == S.PARTIAL:
        return Q(status=S.IN_PROGRESS, closes_at__lte=now)
    if to_status == S.OPEN:
        return Q(status=S.SCHEDULED, opens_at__lte=now, closes_at__gt=now)
    return Q(pk__in=[])  # the clock moves an assessment to no other status


def missing_reason_q() -> Q:
    """:attr:`Assessment.needs_missed_reason`: missed, and no reason recorded yet."""
    return Q(status=Assessment.Status.MISSED, missed_reason="")


class AssessmentQuerySet(models.QuerySet["Assessment"]):
    def answerable(self, now: dt.datetime) -> AssessmentQuerySet:
        return self.filter(answerable_q(now))

    def overdue(self, now: dt.datetime) -> AssessmentQuerySet:
        return self.filter(overdue_q(now))

    def closing_within(self, now: dt.datetime, days: int) -> AssessmentQuerySet:
        return self.filter(closing_within_q(now, days))

    def opening_within(self, now: dt.datetime, days: int) -> AssessmentQuerySet:
        return self.filter(opening_within_q(now, days))

    def due(self, to_status: str, now: dt.datetime) -> AssessmentQuerySet:
        return self.filter(due_q(to_status, now))

    def missing_reason(self) -> AssessmentQuerySet:
        return self.filter(missing_reason_q())


class Assessment(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"
        PARTIAL = "partial", "Partially answered"
        MISSED = "missed", "Missed"
        NOT_EXPECTED = "not_expected", "Not expected"

    class MissedReason(models.TextChoices):
        PATIENT_REFUSED = "patient_refused", "Patient refused"
        TOO_ILL = "too_ill", "Patient too ill"
        MISSED_APPOINTMENT = "missed_appointment", "Missed appointment"
        STAFF_OVERSIGHT = "staff_oversight", "Staff oversight"
        LANGUAGE_LITERACY = "language_literacy", "Language or literacy"
        OTHER = "other", "Other"

    class Mode(models.TextChoices):
        TABLET = "tablet", "Clinic tablet"
        HOME = "home", "At home, by secure link"
        PHONE = "phone", "By phone with staff"

    class Assistance(models.TextChoices):
        NONE = "none", "No help: she answered on her own"
        READ_ALOUD = "read_aloud", "Items read aloud"
        STAFF_RECORDED = "staff_recorded", "Answers recorded by staff"

    UNFINISHED = (Status.SCHEDULED, Status.OPEN, Status.IN_PROGRESS)
    #: Unfinished with no answer stored (an answer moves open to in progress).
    NOT_STARTED = (Status.SCHEDULED, Status.OPEN)
    ACTIVE = (Status.OPEN, Status.IN_PROGRESS)
    FINAL = (Status.COMPLETED, Status.PARTIAL, Status.MISSED, Status.NOT_EXPECTED)
    #: Forms whose answers we hold: counted as received, exported and analysed. A partial
    #: form is one whose window closed (or she left the study) before it was submitted.
    RECEIVED = (Status.COMPLETED, Status.PARTIAL)

    participant = models.ForeignKey(
        "surveys.Participant", on_delete=models.PROTECT, related_name="assessments"
    )
    visit = models.ForeignKey("surveys.Visit", on_delete=models.PROTECT, related_name="assessments")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    target_date = models.DateField()
    window_start = models.DateField(help_text="First day of the window (site-local).")
    window_end = models.DateField(help_text="Last day of the window (site-local), inclusive.")
    opens_at = models.DateTimeField()
    closes_at = models.DateTimeField()
    instrument_version = models.CharField(max_length=64)
    language = models.CharField(max_length=2)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    mode = models.CharField(max_length=16, choices=Mode.choices, blank=True)
    assistance = models.CharField(max_length=16, choices=Assistance.choices, blank=True)
    page_seconds = models.JSONField(default=dict, blank=True)
    missed_reason = models.CharField(max_length=32, choices=MissedReason.choices, blank=True)
    missed_reason_text = models.CharField(max_length=500, blank=True)
    missed_reason_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    missed_reason_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Staff member who submitted the form as answered on her behalf; "
        "blank when she submitted it on the tablet.",
    )
    phone_staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Staff member who read the items and recorded her answers by phone (mode phone).",
    )
    submitted_reason = models.CharField(
        max_length=500, blank=True, help_text="Why staff submitted the form as answered."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AssessmentQuerySet.as_manager()

    class Meta:
        ordering = ["participant", "visit__number"]
        constraints = [
            models.UniqueConstraint(fields=["participant", "visit"], name="assessment_unique"),
        ]
        indexes = [
            # Sweeps look only at unfinished rows: partial indexes on the instants they compare.
            models.Index(
                fields=["opens_at"],
                name="assessment_to_open",
                condition=models.Q(status="scheduled"),
            ),
            models.Index(
                fields=["closes_at"],
                name="assessment_to_close",
                condition=models.Q(status__in=["open", "in_progress"]),
            ),
            models.Index(fields=["status", "window_end"], name="assessment_status_end"),
        ]

    def __str__(self) -> str:
        return f"{self.participant_id}/{self.visit_id} {self.status}"

    # --- status rules (pure, clock as argument; the SQL forms are above) ------------------

    def due_transition(self, now: dt.datetime) -> str | None:
        """The status the clock says this assessment should move to, if any.

        A window that closes on a started form keeps its answers (partial);
        one that closes on a form with no answer is missed.
        """
        if self.status == self.Status.SCHEDULED:
            if now >= self.closes_at:
                return self.Status.MISSED
            if now >= self.opens_at:
                return self.Status.OPEN
        elif self.status == self.Status.OPEN and now >= self.closes_at:
            return self.Status.MISSED
        elif self.status == self.Status.IN_PROGRESS and now >= self.closes_at:
            return self.Status.PARTIAL
        return None

    def is_answerable(self, now: dt.datetime) -> bool:
        return self.status in self.ACTIVE and now < self.closes_at

    def closes_within(self, now: dt.datetime, days: int) -> bool:
        return self.is_answerable(now) and self.closes_at <= now + dt.timedelta(days=days)

    def is_overdue(self, now: dt.datetime) -> bool:
        """Open and inside the last OVERDUE_DAYS days of its window."""
        return self.closes_within(now, OVERDUE_DAYS)

    def days_left(self, now: dt.datetime, tz: dt.tzinfo) -> int | None:
        """Calendar days left to answer, today included (1 on the window's last day).

        Counted in the site's time zone *tz*; None when the form takes no answers.
        Ordering by ``closes_at`` is ordering by this.
        """
        if not self.is_answerable(now):
            return None
        return (self.window_end - now.astimezone(tz).date()).days + 1

    def days_until_open(self, now: dt.datetime, tz: dt.tzinfo) -> int | None:
        """Calendar days until a scheduled window opens (site time zone *tz*); None otherwise."""
        if self.status != self.Status.SCHEDULED or now >= self.opens_at:
            return None
        return (self.window_start - now.astimezone(tz).date()).days

    def opens_within(self, now: dt.datetime, days: int) -> bool:
        return self.status == self.Status.SCHEDULED and now < self.opens_at <= now + dt.timedelta(
            days=days
        )

    def status_when_off_study(self, off_study_on: dt.date) -> str | None:
        """Where an unfinished assessment goes when she leaves the study on that day.

        A window still open on (or after) the off-study day is no longer
        expected, even if a sweep already marked it missed because the
        off-study date was recorded late; a window that had closed before
        she left was missed while she was on study. A started form keeps the
        answers she gave: it becomes partial, wherever its window stands.
        """
        closed_after_leaving = self.window_end >= off_study_on
        if self.status == self.Status.MISSED:
            # Recorded late: the sweep had marked it missed, but she had left already.
            return self.Status.NOT_EXPECTED if closed_after_leaving else None
        if self.status == self.Status.IN_PROGRESS:
            return self.Status.PARTIAL
        if self.status not in self.NOT_STARTED:
            return None
        return self.Status.NOT_EXPECTED if closed_after_leaving else self.Status.MISSED

    def settled_status(
        self, now: dt.datetime, *, answered: bool, off_study_on: dt.date | None
    ) -> str:
        """The status this form should have from scratch, given its window, answers and off study.

        What the clock, her answers and her off-study date make of a form that
        was not submitted: used when its window or her off-study record
        changes under it (a randomization date corrected, an off-study record
        undone). A completed form is never re-settled. It agrees with
        :meth:`due_transition` and :meth:`status_when_off_study` on the
        forward moves; the moves it adds run backwards (see
        ``surveys.trial.transitions.REVERSALS``).
        """
        S = self.Status
        if self.status == S.COMPLETED:
            return S.COMPLETED
        if off_study_on is not None and self.window_end >= off_study_on:
            return S.PARTIAL if answered else S.NOT_EXPECTED
        if now >= self.closes_at:
            return S.PARTIAL if answered else S.MISSED
        if answered:
            return S.IN_PROGRESS
        return S.OPEN if now >= self.opens_at else S.SCHEDULED

    @property
    def needs_missed_reason(self) -> bool:
        return self.status == self.Status.MISSED and not self.missed_reason

    @property
    def is_received(self) -> bool:
        """We hold her answers: completed, or partial (see ``RECEIVED``)."""
        return self.status in self.RECEIVED


class Response(models.Model):
    """One answer; unique per assessment and item. Values 0–4, or declined."""

    assessment = models.ForeignKey(Assessment, on_delete=models.PROTECT, related_name="responses")
    item_code = models.CharField(max_length=8)
    value = models.PositiveSmallIntegerField(null=True, blank=True)
    declined = models.BooleanField(default=False)
    saved_at = models.DateTimeField()
    tapped_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When she tapped the stored value: the latest tap wins, whichever tablet "
        "delivers it first. Empty on rows not stored through the tablet's answer service.",
    )
    idempotency_key = models.CharField(max_length=64, blank=True)
    revision = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["assessment", "id"]
        constraints = [
            models.UniqueConstraint(fields=["assessment", "item_code"], name="response_unique"),
            models.CheckConstraint(
                condition=models.Q(value__isnull=True) | models.Q(value__lte=4),
                name="response_value_0_4",
            ),
            models.CheckConstraint(
                condition=~models.Q(declined=True, value__isnull=False),
                name="response_declined_has_no_value",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item_code}={'declined' if self.declined else self.value}"


class ResponseCorrection(models.Model):
    """A change to an answer of a completed assessment: never edited in place.

    The answer row (:class:`Response`) holds the current value; each
    correction keeps the value it replaced, who changed it, when, and why
    (a coded reason, and the reason as written in the audit trail and the
    ODM export's ``ReasonForChange``).
    """

    class Reason(models.TextChoices):
        TRANSCRIPTION = "transcription_error", "Transcription error"
        CHANGED_AT_REVIEW = "changed_at_review", "Patient changed her mind at review"
        OTHER = "other", "Other"

    response = models.ForeignKey(Response, on_delete=models.PROTECT, related_name="corrections")
    old_value = models.PositiveSmallIntegerField(null=True, blank=True)
    old_declined = models.BooleanField(default=False)
    new_value = models.PositiveSmallIntegerField(null=True, blank=True)
    new_declined = models.BooleanField(default=False)
    reason_code = models.CharField(
        max_length=32,
        choices=Reason.choices,
        help_text="Why the answer was changed (coded).",
    )
    reason = models.CharField(
        max_length=500,
        help_text="The reason in words: the coded reason's label, with the coordinator's "
        "details (required for 'Other').",
    )
    corrected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    corrected_at = models.DateTimeField()

    class Meta:
        ordering = ["corrected_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    reason_code__in=["transcription_error", "changed_at_review", "other"]
                ),
                name="response_correction_reason_coded",
            ),
        ]

    def __str__(self) -> str:
        return f"correction of {self.response_id} by {self.corrected_by_id}"


#: The scores of a FACT-B+4 form, as ``scoring`` defines them (the subscales, FACT-G,
#: FACT-B, TOI, then the arm subscale); :class:`Score` has a column for each (lower case)
#: and its ``_n`` count.
SCORE_CODES: tuple[str, ...] = tuple(score.code for score in INSTRUMENTS["FACT-B+4"].scores)
SCORE_FIELDS: tuple[str, ...] = tuple(code.lower() for code in SCORE_CODES)


class ScoreValues(models.Model):
    """The columns of one form's scores (shared by the current scores and their history)."""

    pwb = models.FloatField(null=True)
    swb = models.FloatField(null=True)
    ewb = models.FloatField(null=True)
    fwb = models.FloatField(null=True)
    bcs = models.FloatField(null=True)
    factg = models.FloatField(null=True)
    factb = models.FloatField(null=True)
    toi = models.FloatField(null=True)
    arm = models.FloatField(null=True)
    pwb_n = models.PositiveSmallIntegerField(default=0)
    swb_n = models.PositiveSmallIntegerField(default=0)
    ewb_n = models.PositiveSmallIntegerField(default=0)
    fwb_n = models.PositiveSmallIntegerField(default=0)
    bcs_n = models.PositiveSmallIntegerField(default=0)
    factg_n = models.PositiveSmallIntegerField(default=0)
    factb_n = models.PositiveSmallIntegerField(default=0)
    toi_n = models.PositiveSmallIntegerField(default=0)
    arm_n = models.PositiveSmallIntegerField(default=0)
    items_answered = models.PositiveSmallIntegerField(
        default=0, help_text="Items of the form answered (declined counts as not answered)."
    )
    items_total = models.PositiveSmallIntegerField(default=0, help_text="Items on the form.")
    scoring_version = models.CharField(max_length=64)
    toi_rule = models.CharField(max_length=16, default="facit")
    computed_at = models.DateTimeField()

    #: The columns a copy of these scores carries (every field above).
    VALUE_FIELDS: tuple[str, ...] = (
        *SCORE_FIELDS,
        *(f"{name}_n" for name in SCORE_FIELDS),
        "items_answered",
        "items_total",
        "scoring_version",
        "toi_rule",
        "computed_at",
    )

    class Meta:
        abstract = True

    def values(self) -> dict[str, Any]:
        """These scores as a dict of :attr:`VALUE_FIELDS`."""
        return {name: getattr(self, name) for name in self.VALUE_FIELDS}


class Score(ScoreValues):
    """Scores computed by ``scoring/`` for one received (completed or partial) assessment.

    Recomputable from the answers; each score is blank where the FACIT rules
    do not allow it (too few items of the subscale answered). When an answer
    is corrected, the scores it replaces are kept as a :class:`ScoreRevision`.
    """

    assessment = models.OneToOneField(Assessment, on_delete=models.PROTECT, related_name="score")

    def __str__(self) -> str:
        return f"scores for {self.assessment_id}"


class ScoreRevision(ScoreValues):
    """Scores an assessment had before they were recomputed (after a corrected answer).

    Append-only history: the scores as they were (with the scoring version
    that computed them and when), when they were replaced, and by which
    correction. The current scores are the assessment's :class:`Score`.
    """

    assessment = models.ForeignKey(
        Assessment, on_delete=models.PROTECT, related_name="score_revisions"
    )
    superseded_at = models.DateTimeField()
    superseded_by = models.ForeignKey(
        ResponseCorrection,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="superseded_scores",
        help_text="The correction whose recomputation replaced these scores.",
    )

    class Meta:
        ordering = ["assessment", "superseded_at", "id"]

    def __str__(self) -> str:
        return f"scores of {self.assessment_id} until {self.superseded_at:%Y-%m-%d %H:%M}"
