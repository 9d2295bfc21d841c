"""Saving answers and submitting an assessment.

Every save is idempotent: the same idempotency key (or the same value)
stored twice changes nothing, so a retry after a dropped connection, a
double tap, or a replay from the tablet's offline queue never duplicates an
answer. Submission scores the form through ``scoring/`` and completes the
assessment exactly once, however many times it is posted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from scoring.instruments import RESPONSE_VALUES
from surveys import instrumentation
from surveys.models import (
    Actor,
    Assessment,
    AuditEvent,
    Response,
    ResponseCorrection,
    actor_fields,
)
from surveys.trial.scores import assessment_rescore, assessment_score
from surveys.trial.transitions import assessment_transition

S = Assessment.Status
MAX_KEY_LENGTH = 64


class AnswerRejected(ValidationError):
    """A save or submission the server refuses; nothing was stored."""


@dataclass(frozen=True)
class SaveResult:
    response: Response
    created: bool
    changed: bool


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


def _lock_answerable(
    assessment_id: int, now: dt.datetime, guard: Callable[[Assessment], None] | None = None
) -> Assessment:
    assessment = Assessment.objects.select_for_update().get(pk=assessment_id)
    if guard is not None:
        guard(assessment)
    if not assessment.is_answerable(now):
        raise AnswerRejected(
            f"this assessment is {assessment.get_status_display().lower()} and takes no answers",
            code="status",
        )
    return assessment


@transaction.atomic
def response_save(
    *,
    assessment_id: int,
    item_code: str,
    value: int | None,
    declined: bool = False,
    idempotency_key: str = "",
    now: dt.datetime,
    actor: Actor = "kiosk",
    guard: Callable[[Assessment], None] | None = None,
) -> SaveResult:
    """Store one answer (insert or change), once. Raises AnswerRejected.

    *guard*, if given, is called with the assessment row locked, before any
    other check or write; it raises to refuse the save (the tablet's kiosk
    session check, see ``surveys.tablet.kiosk.kiosk_answer``).
    """
    if len(idempotency_key) > MAX_KEY_LENGTH:
        raise AnswerRejected("idempotency key too long", code="key")
    assessment = _lock_answerable(assessment_id, now, guard)
    _check_answer(assessment, item_code, value, declined)
    existing = Response.objects.filter(assessment=assessment, item_code=item_code).first()
    if existing is not None:
        replay = idempotency_key and existing.idempotency_key == idempotency_key
        same = existing.value == value and existing.declined == declined
        if replay or same:
            return SaveResult(existing, created=False, changed=False)
        existing.value, existing.declined = value, declined
        existing.saved_at, existing.idempotency_key = now, idempotency_key
        existing.revision += 1
        existing.save(
            update_fields=["value", "declined", "saved_at", "idempotency_key", "revision"]
        )
        return SaveResult(existing, created=False, changed=True)
    response = Response.objects.create(
        assessment=assessment,
        item_code=item_code,
        value=value,
        declined=declined,
        saved_at=now,
        idempotency_key=idempotency_key,
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
    return SaveResult(response, created=True, changed=True)


@transaction.atomic
def assessment_submit(
    *,
    assessment_id: int,
    now: dt.datetime,
    page_seconds: dict[str, float] | None = None,
    assistance: str = "",
    actor: Actor = "kiosk",
) -> tuple[Assessment, bool]:
    """Complete and score the assessment. Returns (assessment, completed_now).

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
    assessment_transition(
        assessment=assessment,
        to_status=S.COMPLETED,
        at=now,
        actor=actor,
        reason="submitted",
        completed_at=now,
        mode=Assessment.Mode.TABLET,
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
