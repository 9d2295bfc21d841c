"""Saving answers and submitting an assessment.

Every answer carries its item, value, idempotency key and the time it was
tapped, and leaves one :class:`~surveys.models.AnswerTap` row saying what
became of it. The rules (``docs/tablet.md``):

* **A key names one tap for ever.** The same key with the same answer is a
  replay: nothing changes and the first outcome is reported again (a retry
  after a dropped connection, a double send from the offline queue). The same
  key with another item or value is refused (:class:`KeyConflict`, HTTP 409)
  and changes nothing.
* **The latest tap wins**, by tap time, whichever tablet delivers it first: a
  tap older than the stored answer's is recorded (outcome ``older``) but
  changes nothing; the same value tapped again later moves the stored tap
  time forward, so an older, different tap arriving afterwards cannot win.
* **An assessment that takes no answers** refuses them (AnswerRejected,
  ``status``), unless the caller asks to *preserve* them: the tablet's late
  answers are then kept as ``preserved`` rows with the reason, for the
  coordinator, and the form's answers are not touched.

Submission scores the form through ``scoring/`` and completes the assessment
exactly once, however many times it is posted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from scoring.instruments import RESPONSE_VALUES
from surveys import instrumentation
from surveys.models import (
    Actor,
    AnswerTap,
    Assessment,
    AuditEvent,
    KioskSession,
    Response,
    ResponseCorrection,
    actor_fields,
)
from surveys.trial.scores import assessment_rescore, assessment_score
from surveys.trial.transitions import assessment_transition

S = Assessment.Status
Outcome = AnswerTap.Outcome
MAX_KEY_LENGTH = 64


class AnswerRejected(ValidationError):
    """A save or submission the server refuses; nothing was stored."""


class KeyConflict(AnswerRejected):
    """An idempotency key already used for another answer (HTTP 409); nothing was stored."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="key_conflict")


@dataclass(frozen=True)
class SaveResult:
    """What became of one delivered answer.

    *response* is the form's answer to the item as it now stands (None when the
    answer was preserved without one); *tap* the log row of this delivery (for
    a replay, the row of the first delivery).
    """

    response: Response | None
    tap: AnswerTap
    replay: bool = False

    @property
    def outcome(self) -> str:
        return self.tap.outcome

    @property
    def created(self) -> bool:
        return not self.replay and self.tap.outcome == Outcome.CREATED

    @property
    def changed(self) -> bool:
        return not self.replay and self.tap.outcome in (Outcome.CREATED, Outcome.CHANGED)

    @property
    def preserved(self) -> bool:
        return self.tap.outcome == Outcome.PRESERVED


def _check_answer(assessment: Assessment, item_code: str, value: Any, declined: bool) -> None:
    items = instrumentation.items(assessment.instrument_version)
    if item_code not in items:
        raise AnswerRejected(f"{item_code!r} is not an item of this questionnaire", code="item")
    if declined:
        if value is not None:
            raise AnswerRejected("a declined item has no value", code="value")
        if not items[item_code].optional:
            raise AnswerRejected(f"{item_code} has no 'prefer not to answer' option", code="value")
        return
    if isinstance(value, bool) or not isinstance(value, int) or value not in RESPONSE_VALUES:
        raise AnswerRejected(
            f"{value!r} is not an answer: choose a whole number from 0 to 4", code="value"
        )


def closed_reason(assessment: Assessment) -> str:
    """Why an assessment that takes no answers takes none (an AnswerTap.ClosedReason)."""
    if assessment.status == S.COMPLETED:
        return AnswerTap.ClosedReason.COMPLETED
    if assessment.status == S.NOT_EXPECTED:
        return AnswerTap.ClosedReason.NOT_EXPECTED
    return AnswerTap.ClosedReason.WINDOW_CLOSED  # missed, or still open after its window closed


def _earlier_tap(
    assessment: Assessment, key: str, item_code: str, value: int | None, declined: bool
) -> AnswerTap | None:
    """The tap this key already names (a replay), or None; KeyConflict for another answer."""
    if not key:
        return None
    tap = AnswerTap.objects.filter(assessment=assessment, idempotency_key=key).first()
    if tap is None:
        return None
    if (tap.item_code, tap.value, tap.declined) != (item_code, value, declined):
        raise KeyConflict(
            f"the idempotency key {key!r} was already used for another answer "
            f"({tap.item_code}={'declined' if tap.declined else tap.value}); nothing was stored"
        )
    return tap


def _store(
    assessment: Assessment,
    *,
    item_code: str,
    value: int | None,
    declined: bool,
    key: str,
    tapped_at: dt.datetime,
    now: dt.datetime,
    actor: Actor,
) -> tuple[Response, str]:
    """Apply one tap to the form's answer by the latest-tap-wins rule; (answer, outcome)."""
    existing = Response.objects.filter(assessment=assessment, item_code=item_code).first()
    if existing is None:
        response = Response.objects.create(
            assessment=assessment,
            item_code=item_code,
            value=value,
            declined=declined,
            saved_at=now,
            tapped_at=tapped_at,
            idempotency_key=key,
        )
        if assessment.status == S.OPEN:
            assessment_transition(
                assessment=assessment,
                to_status=S.IN_PROGRESS,
                at=now,
                actor=actor,
                reason="first answer saved",
                started_at=now,
            )
        return response, Outcome.CREATED
    stored_tap = existing.tapped_at or existing.saved_at
    if tapped_at < stored_tap:
        return existing, Outcome.OLDER
    if existing.value == value and existing.declined == declined:
        if tapped_at > stored_tap:  # tapped again later: an older, different tap must not win
            existing.tapped_at = tapped_at
            existing.save(update_fields=["tapped_at"])
        return existing, Outcome.UNCHANGED
    existing.value, existing.declined = value, declined
    existing.saved_at, existing.tapped_at, existing.idempotency_key = now, tapped_at, key
    existing.revision += 1
    existing.save(
        update_fields=["value", "declined", "saved_at", "tapped_at", "idempotency_key", "revision"]
    )
    return existing, Outcome.CHANGED


def answer_record(
    *,
    assessment: Assessment,
    item_code: str,
    value: int | None,
    declined: bool = False,
    idempotency_key: str = "",
    tapped_at: dt.datetime | None = None,
    now: dt.datetime,
    actor: Actor = "kiosk",
    kiosk_session: KioskSession | None = None,
    from_ended_session: bool = False,
    preserve_when_closed: bool = False,
) -> SaveResult:
    """Record one answer on an assessment row the caller has locked (``select_for_update``).

    Raises AnswerRejected (nothing stored) for a bad item, value or key, a key
    already used for another answer (KeyConflict), or, unless
    *preserve_when_closed*, an assessment that takes no answers. *tapped_at*
    defaults to *now* and is never after it.
    """
    if len(idempotency_key) > MAX_KEY_LENGTH:
        raise AnswerRejected("idempotency key too long", code="key")
    _check_answer(assessment, item_code, value, declined)
    earlier = _earlier_tap(assessment, idempotency_key, item_code, value, declined)
    if earlier is not None:
        current = Response.objects.filter(assessment=assessment, item_code=item_code).first()
        return SaveResult(current, earlier, replay=True)
    tapped = min(tapped_at or now, now)
    tap = AnswerTap(
        assessment=assessment,
        kiosk_session=kiosk_session,
        from_ended_session=from_ended_session,
        item_code=item_code,
        value=value,
        declined=declined,
        idempotency_key=idempotency_key,
        tapped_at=tapped,
        received_at=now,
    )
    if not assessment.is_answerable(now):
        if not preserve_when_closed:
            raise AnswerRejected(
                f"this assessment is {assessment.get_status_display().lower()} "
                "and takes no answers",
                code="status",
            )
        tap.outcome, tap.closed_reason = Outcome.PRESERVED, closed_reason(assessment)
        tap.save()
        current = Response.objects.filter(assessment=assessment, item_code=item_code).first()
        return SaveResult(current, tap)
    response, tap.outcome = _store(
        assessment,
        item_code=item_code,
        value=value,
        declined=declined,
        key=idempotency_key,
        tapped_at=tapped,
        now=now,
        actor=actor,
    )
    tap.save()
    return SaveResult(response, tap)


@transaction.atomic
def response_save(
    *,
    assessment_id: int,
    item_code: str,
    value: int | None,
    declined: bool = False,
    idempotency_key: str = "",
    tapped_at: dt.datetime | None = None,
    now: dt.datetime,
    actor: Actor = "kiosk",
) -> SaveResult:
    """Store one answer (insert or change), once. Raises AnswerRejected.

    The tablet goes through ``surveys.tablet.kiosk.kiosk_answer`` (its kiosk
    session, late answers, tap-time bounds); this is the plain save.
    """
    assessment = Assessment.objects.select_for_update().get(pk=assessment_id)
    return answer_record(
        assessment=assessment,
        item_code=item_code,
        value=value,
        declined=declined,
        idempotency_key=idempotency_key,
        tapped_at=tapped_at,
        now=now,
        actor=actor,
    )


#: The reason of the status change on submission, per mode (``surveys.trial.audit`` words it).
SUBMITTED_REASONS: dict[str, str] = {
    Assessment.Mode.TABLET: "submitted",
    Assessment.Mode.HOME: "submitted at home",
    Assessment.Mode.PHONE: "submitted by phone",
}


@transaction.atomic
def assessment_submit(
    *,
    assessment_id: int,
    now: dt.datetime,
    page_seconds: dict[str, float] | None = None,
    assistance: str = "",
    actor: Actor = "kiosk",
    mode: str = Assessment.Mode.TABLET,
    phone_staff: User | None = None,
) -> tuple[Assessment, bool]:
    """Complete and score the assessment. Returns (assessment, completed_now).

    *mode* is how it was answered (tablet, home, phone); for the phone, the
    staff member who recorded her answers is *phone_staff*.

    A second submission of a completed assessment is not an error: it
    returns ``completed_now=False`` and changes nothing.
    """
    assessment = Assessment.objects.select_for_update().get(pk=assessment_id)
    if assessment.status == S.COMPLETED:
        return assessment, False
    if not assessment.is_answerable(now):
        raise AnswerRejected(
            f"this assessment is {assessment.get_status_display().lower()} and cannot be submitted",
            code="status",
        )
    if assessment.status != S.IN_PROGRESS:
        raise AnswerRejected("answer at least one question before submitting", code="empty")
    if assistance and assistance not in Assessment.Assistance.values:
        raise AnswerRejected(f"unknown assistance level {assistance!r}", code="assistance")
    if mode not in Assessment.Mode.values:
        raise AnswerRejected(f"unknown mode {mode!r}", code="mode")
    if (mode == Assessment.Mode.PHONE) != (phone_staff is not None):
        raise AnswerRejected("the staff member is recorded for the phone mode only", code="staff")
    assessment_transition(
        assessment=assessment,
        to_status=S.COMPLETED,
        at=now,
        actor=actor,
        reason=SUBMITTED_REASONS[mode],
        completed_at=now,
        mode=mode,
        phone_staff=phone_staff,
        page_seconds={k: round(float(v), 1) for k, v in (page_seconds or {}).items()},
        assistance=assistance or assessment.assistance or Assessment.Assistance.NONE,
    )
    assessment_score(assessment=assessment, now=now)
    return assessment, True


def correction_reason(reason_code: str, text: str) -> str:
    """The reason in words for a coded correction reason; AnswerRejected when incomplete."""
    Reason = ResponseCorrection.Reason
    if reason_code not in Reason.values:
        raise AnswerRejected({"reason_code": "choose why the answer is corrected"}, code="reason")
    text = " ".join(text.split())
    if reason_code == Reason.OTHER and not text:
        raise AnswerRejected({"reason_text": "describe the reason when it is 'Other'"})
    label = str(Reason(reason_code).label)
    reason = f"{label}: {text}" if text else label
    if len(reason) > MAX_CORRECTION_REASON:
        raise AnswerRejected(
            {"reason_text": f"keep the reason under {MAX_CORRECTION_REASON} characters"}
        )
    return reason


MAX_CORRECTION_REASON = 500


@transaction.atomic
def response_correct(
    *,
    assessment_id: int,
    item_code: str,
    value: int | None,
    declined: bool = False,
    reason_code: str,
    reason_text: str = "",
    actor: User,
    now: dt.datetime,
    expected_revision: int | None = None,
) -> ResponseCorrection:
    """Correct an answer of a completed form: a new audited record, the old value kept.

    *value* None (and not *declined*) clears the answer. The reason is coded
    (``ResponseCorrection.Reason``; "other" needs *reason_text*). The answer
    row keeps the current value, the correction the one it replaced; the
    form's scores are recomputed through ``scoring/`` and the old ones kept
    (``assessment_rescore``); the change is audited (``response_correction``).
    *expected_revision* is the answer's revision the confirmation page showed
    (0 for an item with no stored answer): if it changed since, nothing is
    saved (AnswerRejected, code ``changed``). Raises AnswerRejected.
    """
    assessment = Assessment.objects.select_for_update().get(pk=assessment_id)
    if assessment.status != S.COMPLETED:
        raise AnswerRejected("only answers of a completed form are corrected", code="status")
    reason = correction_reason(reason_code, reason_text)
    if value is not None or declined:
        _check_answer(assessment, item_code, value, declined)
    elif item_code not in instrumentation.items(assessment.instrument_version):
        raise AnswerRejected(f"{item_code!r} is not an item of this questionnaire", code="item")
    response = (
        Response.objects.select_for_update()
        .filter(assessment=assessment, item_code=item_code)
        .first()
    )
    current = (None, False) if response is None else (response.value, response.declined)
    revision = 0 if response is None else response.revision
    if expected_revision is not None and expected_revision != revision:
        raise AnswerRejected(
            "this answer was changed by someone else meanwhile: check it again", code="changed"
        )
    if current == (value, declined):
        raise AnswerRejected({"value": "this is already the answer on record"}, code="same")
    if response is None:
        response = Response.objects.create(
            assessment=assessment, item_code=item_code, value=None, saved_at=now, revision=0
        )
    correction = ResponseCorrection.objects.create(
        response=response,
        old_value=current[0],
        old_declined=current[1],
        new_value=value,
        new_declined=declined,
        reason_code=reason_code,
        reason=reason,
        corrected_by=actor,
        corrected_at=now,
    )
    response.value, response.declined, response.saved_at = value, declined, now
    response.revision += 1
    response.save(update_fields=["value", "declined", "saved_at", "revision"])
    score, superseded = assessment_rescore(assessment=assessment, now=now, correction=correction)
    AuditEvent.objects.create(
        at=now,
        action=AuditEvent.Action.RESPONSE_CORRECTION,
        participant_id=assessment.participant_id,
        assessment=assessment,
        reason=reason,
        details={
            "item": item_code,
            "old": current[0],
            "old_declined": current[1],
            "new": value,
            "new_declined": declined,
            "reason_code": reason_code,
            "correction": correction.pk,
            "score_revision": superseded.pk if superseded is not None else None,
            "scoring_version": score.scoring_version,
        },
        **actor_fields(actor),
    )
    return correction
