"""Randomization, going off study, and the missed-assessment reason."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from surveys.models import (
    Actor,
    Arm,
    Assessment,
    AuditEvent,
    Participant,
    Site,
    Trial,
    Visit,
    actor_fields,
)
from surveys.schedule import window_bounds
from surveys.trial.transitions import assessment_transition

S = Assessment.Status


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
        reason = "window closed" if to_status == S.MISSED else "window opened"
        if not assessment_transition(
            assessment=assessment, to_status=to_status, at=now, actor=actor, reason=reason
        ):
            assessment.refresh_from_db()


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
    """Register a randomized participant and create one assessment per visit."""
    if arm.trial_id != trial.pk:
        raise ValidationError({"arm": f"arm {arm.code} is not an arm of {trial}"})
    participant = Participant(
        trial=trial,
        study_id=study_id,
        site=site,
        arm=arm,
        randomized_on=randomized_on,
        language=language,
    )
    participant.full_clean()
    participant.save()
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
) -> dict[str, int]:
    """Take her off study; unfinished assessments become not expected (or missed).

    Returns how many assessments went to each status.
    """
    participant = Participant.objects.select_for_update().get(pk=participant.pk)
    if not participant.on_study:
        raise ValidationError("this participant is already off study")
    if reason not in Participant.OffStudyReason.values:
        raise ValidationError({"reason": f"unknown off-study reason {reason!r}"})
    if off_study_on < participant.randomized_on:
        raise ValidationError({"off_study_on": "the date is before randomization"})
    if off_study_on > now.date() + dt.timedelta(days=1):
        raise ValidationError({"off_study_on": "the date is in the future"})
    if reason == Participant.OffStudyReason.OTHER and not note.strip():
        raise ValidationError({"note": "describe the reason when it is 'other'"})
    participant.off_study_on = off_study_on
    participant.off_study_reason = reason
    participant.off_study_note = note.strip()
    participant.save(update_fields=["off_study_on", "off_study_reason", "off_study_note"])
    AuditEvent.objects.create(
        at=now,
        action=AuditEvent.Action.OFF_STUDY,
        participant=participant,
        reason=reason,
        details={"off_study_on": off_study_on.isoformat(), "note": note},
        **actor_fields(actor),
    )
    counts = {S.NOT_EXPECTED.value: 0, S.MISSED.value: 0}
    unfinished = participant.assessments.select_for_update().filter(
        status__in=[*Assessment.UNFINISHED, S.MISSED]
    )
    for assessment in unfinished:
        to_status = assessment.status_when_off_study(off_study_on)
        if to_status and assessment_transition(
            assessment=assessment,
            to_status=to_status,
            at=now,
            actor=actor,
            reason=f"off study: {participant.get_off_study_reason_display()}",
        ):
            counts[to_status] += 1
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
