"""Randomization, going off study (and undoing it), correcting a randomization date,
the missed-assessment reason and schedule edits.

Going off study, undoing it and correcting a randomization date each have a
*plan* (what would change: the forms that move, their windows, the tablet
sessions that end) that a confirmation page shows, and a service that makes
the plan under lock. The page passes the plan's fingerprint back; if the
plan changed in between (a sweep ran, a form was submitted), the service
refuses with :class:`PlanChanged` and the page asks again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from surveys.models import (
    Actor,
    Arm,
    Assessment,
    AuditEvent,
    KioskSession,
    Participant,
    Response,
    Site,
    Trial,
    Visit,
    actor_fields,
)
from surveys.schedule import window_bounds
from surveys.trial.scores import scores_follow_status
from surveys.trial.sessions import kiosk_sessions_end, live_sessions
from surveys.trial.transitions import CLOCK_REASONS, assessment_transition

S = Assessment.Status
WINDOW_FIELDS = ("target_date", "window_start", "window_end", "opens_at", "closes_at")
MAX_REASON = 500


def assessment_build(*, participant: Participant, visit: Visit) -> Assessment:
    """An unsaved assessment with its window computed in the site's time zone."""
    first_day, last_day = visit.window(participant.randomized_on)
    opens_at, closes_at = window_bounds(first_day, last_day, participant.site.tzinfo)
    return Assessment(
        participant=participant,
        visit=visit,
        status=S.SCHEDULED,
        target_date=visit.target_date(participant.randomized_on),
        window_start=first_day,
        window_end=last_day,
        opens_at=opens_at,
        closes_at=closes_at,
        instrument_version=participant.trial.instrument_version,
        language=participant.language,
    )


def assessment_refresh(
    *, assessment: Assessment, now: dt.datetime, actor: Actor = "system"
) -> None:
    """Apply what the clock makes due for one assessment (the sweep does it in bulk)."""
    while (to_status := assessment.due_transition(now)) is not None:
        with transaction.atomic():
            moved = assessment_transition(
                assessment=assessment,
                to_status=to_status,
                at=now,
                actor=actor,
                reason=CLOCK_REASONS[to_status],
            )
            if moved:
                scores_follow_status(assessment_ids=[assessment.pk], to_status=to_status, now=now)
        if not moved:
            assessment.refresh_from_db()


def site_today(site: Site, now: dt.datetime) -> dt.date:
    """The date at the site (randomization dates are the site's calendar days)."""
    return now.astimezone(site.tzinfo).date()


def _required_reason(reason: str, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": f"give the reason for {what}"})
    if len(reason) > MAX_REASON:
        raise ValidationError({"reason": f"at most {MAX_REASON} characters"})
    return reason


# --- randomization ------------------------------------------------------------------------


@transaction.atomic
def participant_randomize(
    *,
    trial: Trial,
    study_id: str,
    site: Site,
    arm: Arm,
    randomized_on: dt.date,
    language: str,
    actor: Actor,
    now: dt.datetime,
) -> Participant:
    """Register a randomized participant and create one assessment per visit.

    Refused (ValidationError, nothing stored) when the study id does not match
    the trial's pattern or is taken (also when another request takes it at
    the same moment), when the date precedes the trial's start or is in the
    future at the site, or when the arm is not the trial's.
    """
    if arm.trial_id != trial.pk:
        raise ValidationError({"arm": f"arm {arm.code} is not an arm of {trial}"})
    if problem := trial.randomization_date_error(randomized_on, today=site_today(site, now)):
        raise ValidationError({"randomized_on": problem})
    if problem := trial.study_id_error(study_id):
        raise ValidationError({"study_id": problem})
    taken = {"study_id": f"a participant with study id {study_id} already exists"}
    if Participant.objects.filter(trial=trial, study_id=study_id).exists():
        raise ValidationError(taken)
    participant = Participant(
        trial=trial,
        study_id=study_id,
        site=site,
        arm=arm,
        randomized_on=randomized_on,
        language=language,
    )
    participant.full_clean()
    try:
        with transaction.atomic():
            participant.save()
    except IntegrityError:
        # Two registrations of one study id at the same moment: both passed the
        # uniqueness check, the database let one through.
        if Participant.objects.filter(trial=trial, study_id=study_id).exists():
            raise ValidationError(taken) from None
        raise
    AuditEvent.objects.create(
        at=now,
        action=AuditEvent.Action.RANDOMIZED,
        participant=participant,
        details={"arm": arm.code, "randomized_on": randomized_on.isoformat()},
        **actor_fields(actor),
    )
    assessments = Assessment.objects.bulk_create(
        assessment_build(participant=participant, visit=visit) for visit in trial.visits.all()
    )
    for assessment in assessments:
        assessment_refresh(assessment=assessment, now=now, actor=actor)
    return participant


# --- plans: what a change to her record would do to her forms ---------------------------


@dataclass(frozen=True)
class AssessmentChange:
    """One form a plan changes: its status, and (a corrected date) its window."""

    assessment: Assessment
    to_status: str
    #: the new window (a corrected randomization date): WINDOW_FIELDS -> value
    new_window: dict[str, Any] | None = None

    @property
    def window(self) -> tuple[dt.date, dt.date] | None:
        """The new first and last day, when the window moves."""
        if self.new_window is None:
            return None
        return self.new_window["window_start"], self.new_window["window_end"]

    @property
    def from_status(self) -> str:
        return self.assessment.status

    @property
    def from_label(self) -> str:
        return S(self.from_status).label

    @property
    def to_label(self) -> str:
        return S(self.to_status).label

    @property
    def status_changes(self) -> bool:
        return self.to_status != self.from_status


@dataclass(frozen=True)
class Plan:
    """What a change to a participant's record would do; shown before it is made."""

    changes: list[AssessmentChange] = field(default_factory=list)
    sessions: list[KioskSession] = field(default_factory=list)

    def fingerprint(self) -> str:
        """Identifies the plan: the confirmation page sends it back with the decision."""
        parts = [
            f"{c.assessment.pk}:{c.from_status}>{c.to_status}:{c.window}" for c in self.changes
        ]
        parts += [f"kiosk:{s.pk}" for s in self.sessions]
        return hashlib.sha256("|".join(sorted(parts)).encode()).hexdigest()[:32]


class PlanChanged(ValidationError):
    """The record changed since the confirmation page was shown: confirm again."""


def _check_plan(plan: Plan, expected: str | None) -> None:
    if expected is not None and plan.fingerprint() != expected:
        raise PlanChanged(
            "her forms changed since this page was shown (a window opened or closed, or a form "
            "was submitted): check the changes below and confirm again"
        )


def _with_answered(participant: Participant, *, lock: bool) -> list[Assessment]:
    """Her assessments (visit order) with ``answered``: whether any answer is stored."""
    qs = participant.assessments.select_related("visit").annotate(
        answered=Exists(Response.objects.filter(assessment=OuterRef("pk")))
    )
    if lock:
        qs = qs.select_for_update(of=("self",))
    return list(qs.order_by("visit__number"))


def _answered(assessment: Assessment) -> bool:
    return bool(getattr(assessment, "answered", False))


def _apply(
    plan: Plan,
    *,
    actor: Actor,
    now: dt.datetime,
    reason: str,
    reversal: bool,
    session_end: str = "",
    session_reason: str = "",
) -> dict[str, int]:
    """Make a plan computed under lock: windows, statuses (audited), scores, tablet sessions.

    Returns how many forms went to each status, and ``sessions_ended``.
    """
    counts: dict[str, int] = {}
    for change in plan.changes:
        assessment = change.assessment
        if change.new_window is not None:
            Assessment.objects.filter(pk=assessment.pk).update(updated_at=now, **change.new_window)
            for name, value in change.new_window.items():
                setattr(assessment, name, value)
        if not change.status_changes:
            continue
        fields = {}
        if change.from_status == S.MISSED:
            # Not missed any more: the reason recorded for it goes (the audit trail keeps it).
            fields = {
                "missed_reason": "",
                "missed_reason_text": "",
                "missed_reason_by": None,
                "missed_reason_at": None,
            }
        moved = assessment_transition(
            assessment=assessment,
            to_status=change.to_status,
            at=now,
            actor=actor,
            reason=reason,
            reversal=reversal,
            details={"window": [d.isoformat() for d in change.window]} if change.window else None,
            **fields,
        )
        if not moved:  # impossible under the row locks; never half-apply a plan
            raise PlanChanged("a form changed while the change was being made: try again")
        scores_follow_status(assessment_ids=[assessment.pk], to_status=change.to_status, now=now)
        counts[change.to_status] = counts.get(change.to_status, 0) + 1
    ended = (
        kiosk_sessions_end(
            assessment_ids=[s.assessment_id for s in plan.sessions],
            end_reason=session_end,
            reason=session_reason,
            actor=actor,
            now=now,
        )
        if plan.sessions
        else []
    )
    counts["sessions_ended"] = len(ended)
    return counts


# --- going off study ----------------------------------------------------------------------


def off_study_problems(
    *, participant: Participant, off_study_on: dt.date, reason: str, note: str, now: dt.datetime
) -> dict[str, str]:
    """What is wrong with this off-study record (empty when nothing is)."""
    problems: dict[str, str] = {}
    if not participant.on_study:
        problems["__all__"] = "this participant is already off study"
    if reason not in Participant.OffStudyReason.values:
        problems["reason"] = f"unknown off-study reason {reason!r}"
    if off_study_on < participant.randomized_on:
        problems["off_study_on"] = "the date is before randomization"
    elif off_study_on > site_today(participant.site, now):
        problems["off_study_on"] = "the date is in the future"
    if reason == Participant.OffStudyReason.OTHER and not note.strip():
        problems["note"] = "describe the reason when it is 'other'"
    return problems


def off_study_plan(*, participant: Participant, off_study_on: dt.date, lock: bool = False) -> Plan:
    """What taking her off study on that day would change (nothing is written)."""
    changes = []
    assessments = _with_answered(participant, lock=lock)
    for assessment in assessments:
        to_status = assessment.status_when_off_study(off_study_on)
        if to_status is not None:
            changes.append(AssessmentChange(assessment, to_status))
    return Plan(changes=changes, sessions=live_sessions(a.pk for a in assessments))


def participant_view_record(*, participant: Participant, actor: Actor, via: str) -> None:
    """Audit that *actor* opened *participant*'s record (her page, or the API's detail)."""
    AuditEvent.objects.create(
        at=timezone.now(),
        action=AuditEvent.Action.RECORD_VIEW,
        participant=participant,
        details={"via": via},
        **actor_fields(actor),
    )


@transaction.atomic
def participant_go_off_study(
    *,
    participant: Participant,
    off_study_on: dt.date,
    reason: str,
    note: str = "",
    actor: Actor,
    now: dt.datetime,
    expected_plan: str | None = None,
) -> dict[str, int]:
    """Take her off study: her unfinished forms are no longer expected (or missed, or partial).

    A form whose window was still open on the off-study day is not expected; one
    whose window had closed before was missed; a started form keeps her answers
    (partial, scored). A live tablet session of hers is ended (audited).
    *expected_plan* is the fingerprint of the plan she confirmed: if the plan
    changed since, :class:`PlanChanged`. Returns how many forms went to each
    status, and ``sessions_ended``.
    """
    participant = (
        Participant.objects.select_for_update().select_related("site").get(pk=participant.pk)
    )
    if problems := off_study_problems(
        participant=participant, off_study_on=off_study_on, reason=reason, note=note, now=now
    ):
        raise ValidationError(problems)
    plan = off_study_plan(participant=participant, off_study_on=off_study_on, lock=True)
    _check_plan(plan, expected_plan)
    participant.off_study_on = off_study_on
    participant.off_study_reason = reason
    participant.off_study_note = note.strip()
    participant.save(update_fields=["off_study_on", "off_study_reason", "off_study_note"])
    AuditEvent.objects.create(
        at=now,
        action=AuditEvent.Action.OFF_STUDY,
        participant=participant,
        reason=reason,
        details={
            "off_study_on": off_study_on.isoformat(),
            "note": note,
            "changes": {str(c.assessment.pk): c.to_status for c in plan.changes},
        },
        **actor_fields(actor),
    )
    counts = {S.NOT_EXPECTED.value: 0, S.MISSED.value: 0, S.PARTIAL.value: 0}
    counts.update(
        _apply(
            plan,
            actor=actor,
            now=now,
            reason=f"off study: {participant.get_off_study_reason_display()}",
            reversal=False,
            session_end=KioskSession.EndReason.OFF_STUDY,
            session_reason="participant taken off study",
        )
    )
    return counts


# --- undoing an off-study record ----------------------------------------------------------


def undo_off_study_plan(*, participant: Participant, now: dt.datetime, lock: bool = False) -> Plan:
    """What undoing her off-study record would change: each form back where the clock puts it.

    A window still open now is open again (in progress if she had started);
    a window that closed while she was recorded off study was expected after
    all, so it is missed (partial with answers); one not yet open is scheduled.
    """
    changes = []
    for assessment in _with_answered(participant, lock=lock):
        if assessment.status == S.COMPLETED:
            continue
        to_status = assessment.settled_status(
            now, answered=_answered(assessment), off_study_on=None
        )
        if to_status != assessment.status:
            changes.append(AssessmentChange(assessment, to_status))
    return Plan(changes=changes)


@transaction.atomic
def participant_undo_off_study(
    *,
    participant: Participant,
    reason: str,
    actor: Actor,
    now: dt.datetime,
    expected_plan: str | None = None,
) -> dict[str, int]:
    """Undo a wrong off-study record (reason required, audited); see :func:`undo_off_study_plan`.

    Returns how many forms went to each status.
    """
    reason = _required_reason(reason, "undoing the off-study record")
    participant = (
        Participant.objects.select_for_update().select_related("site").get(pk=participant.pk)
    )
    if participant.on_study:
        raise ValidationError("this participant is on study: there is nothing to undo")
    plan = undo_off_study_plan(participant=participant, now=now, lock=True)
    _check_plan(plan, expected_plan)
    AuditEvent.objects.create(
        at=now,
        action=AuditEvent.Action.OFF_STUDY_UNDONE,
        participant=participant,
        reason=reason,
        details={
            "off_study_on": participant.off_study_on.isoformat()
            if participant.off_study_on
            else None,
            "off_study_reason": participant.off_study_reason,
            "off_study_note": participant.off_study_note,
            "changes": {str(c.assessment.pk): c.to_status for c in plan.changes},
        },
        **actor_fields(actor),
    )
    participant.off_study_on = None
    participant.off_study_reason = ""
    participant.off_study_note = ""
    participant.save(update_fields=["off_study_on", "off_study_reason", "off_study_note"])
    return _apply(
        plan,
        actor=actor,
        now=now,
        reason=f"off-study record undone: {reason}",
        reversal=True,
    )


# --- correcting the randomization date -----------------------------------------------------


def randomization_problems(
    *, participant: Participant, randomized_on: dt.date, now: dt.datetime
) -> dict[str, str]:
    """What is wrong with correcting her randomization date to *randomized_on*."""
    problems: dict[str, str] = {}
    if randomized_on == participant.randomized_on:
        problems["randomized_on"] = "this is already her randomization date"
    elif problem := participant.trial.randomization_date_error(
        randomized_on, today=site_today(participant.site, now)
    ):
        problems["randomized_on"] = problem
    elif participant.off_study_on is not None and participant.off_study_on < randomized_on:
        problems["randomized_on"] = (
            f"she went off study on {participant.off_study_on.isoformat()}, before that date"
        )
    return problems


def randomization_plan(
    *, participant: Participant, randomized_on: dt.date, now: dt.datetime, lock: bool = False
) -> Plan:
    """What correcting her randomization date would change (nothing is written).

    Every form not completed gets the window of the new date and the status
    the clock, her answers and her off-study date give it there
    (:meth:`Assessment.settled_status`); completed forms are never touched.
    A live tablet session of a form that no longer takes answers is ended.
    """
    corrected = Participant(
        pk=participant.pk,
        trial=participant.trial,
        site=participant.site,
        randomized_on=randomized_on,
        language=participant.language,
        off_study_on=participant.off_study_on,
    )
    changes: list[AssessmentChange] = []
    stop_taking: list[int] = []
    for assessment in _with_answered(participant, lock=lock):
        if assessment.status == S.COMPLETED:
            continue
        fresh = assessment_build(participant=corrected, visit=assessment.visit)
        new_window = {name: getattr(fresh, name) for name in WINDOW_FIELDS}
        moved = Assessment(**new_window, status=assessment.status)
        to_status = moved.settled_status(
            now, answered=_answered(assessment), off_study_on=participant.off_study_on
        )
        moved.status = to_status
        if assessment.is_answerable(now) and not moved.is_answerable(now):
            stop_taking.append(assessment.pk)
        same_window = all(getattr(assessment, n) == v for n, v in new_window.items())
        if not same_window or to_status != assessment.status:
            changes.append(
                AssessmentChange(assessment, to_status, None if same_window else new_window)
            )
    return Plan(changes=changes, sessions=live_sessions(stop_taking))


@transaction.atomic
def participant_correct_randomization(
    *,
    participant: Participant,
    randomized_on: dt.date,
    reason: str,
    actor: Actor,
    now: dt.datetime,
    expected_plan: str | None = None,
) -> dict[str, int]:
    """Correct a wrongly entered randomization date (reason required, audited).

    Recomputes the window of every form not completed and re-settles its
    status (:func:`randomization_plan`). Returns how many forms went to each
    status, ``windows_moved`` and ``sessions_ended``.
    """
    reason = _required_reason(reason, "the correction")
    participant = (
        Participant.objects.select_for_update()
        .select_related("site", "trial")
        .get(pk=participant.pk)
    )
    if problems := randomization_problems(
        participant=participant, randomized_on=randomized_on, now=now
    ):
        raise ValidationError(problems)
    plan = randomization_plan(
        participant=participant, randomized_on=randomized_on, now=now, lock=True
    )
    _check_plan(plan, expected_plan)
    previous = participant.randomized_on
    participant.randomized_on = randomized_on
    participant.save(update_fields=["randomized_on"])
    AuditEvent.objects.create(
        at=now,
        action=AuditEvent.Action.RANDOMIZATION_CORRECTED,
        participant=participant,
        reason=reason,
        details={
            "from": previous.isoformat(),
            "to": randomized_on.isoformat(),
            "changes": {
                str(c.assessment.pk): {
                    "status": c.to_status,
                    "window": [d.isoformat() for d in c.window] if c.window else None,
                }
                for c in plan.changes
            },
        },
        **actor_fields(actor),
    )
    counts = _apply(
        plan,
        actor=actor,
        now=now,
        reason=f"randomization date corrected: {reason}",
        reversal=True,
        session_end=KioskSession.EndReason.WINDOW_MOVED,
        session_reason="randomization date corrected: this form no longer takes answers",
    )
    counts["windows_moved"] = sum(1 for c in plan.changes if c.window is not None)
    return counts


@transaction.atomic
def assessment_record_missed_reason(
    *,
    assessment: Assessment,
    reason: str,
    text: str = "",
    actor: User,
    now: dt.datetime,
) -> Assessment:
    """Record (or amend) why a missed assessment was missed; audited each time."""
    assessment = Assessment.objects.select_for_update().get(pk=assessment.pk)
    if assessment.status != S.MISSED:
        raise ValidationError("a reason can only be recorded for a missed assessment")
    if reason not in Assessment.MissedReason.values:
        raise ValidationError({"reason": f"unknown missed reason {reason!r}"})
    text = text.strip()
    if reason == Assessment.MissedReason.OTHER and not text:
        raise ValidationError({"text": "describe the reason when it is 'other'"})
    previous = assessment.missed_reason
    assessment.missed_reason = reason
    assessment.missed_reason_text = text
    assessment.missed_reason_by = actor
    assessment.missed_reason_at = now
    assessment.save(
        update_fields=[
            "missed_reason",
            "missed_reason_text",
            "missed_reason_by",
            "missed_reason_at",
            "updated_at",
        ]
    )
    AuditEvent.objects.create(
        at=now,
        action=AuditEvent.Action.MISSED_REASON,
        participant_id=assessment.participant_id,
        assessment=assessment,
        reason=reason,
        details={"text": text, "previous": previous},
        **actor_fields(actor),
    )
    return assessment


@transaction.atomic
def visit_reschedule(*, visit: Visit) -> int:
    """Recompute windows of not-yet-open assessments after a schedule edit."""
    changed = 0
    pending = visit.assessments.select_related("participant__site", "participant__trial")
    for assessment in pending.filter(status=S.SCHEDULED).select_for_update(of=("self",)):
        fresh = assessment_build(participant=assessment.participant, visit=visit)
        for name in ("target_date", "window_start", "window_end", "opens_at", "closes_at"):
            setattr(assessment, name, getattr(fresh, name))
        assessment.save(
            update_fields=["target_date", "window_start", "window_end", "opens_at", "closes_at"]
        )
        changed += 1
    return changed
