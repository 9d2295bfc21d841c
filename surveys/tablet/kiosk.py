"""Tablet kiosk sessions: hand-off, answers through the kiosk, lock, unlock, leave, submit.

A coordinator hands one open assessment over on a tablet: ``kiosk_start``
creates the only live session for it (ending any earlier one, e.g. on a
tablet that lost its network) with a PIN hashed by Django's password
hashers. Every answer and the submission go through the session: the
assessment row is locked first and the session re-read under that lock, so
an answer from a tablet whose session was just replaced is refused, never
half-stored. Idle tablets lock; the PIN (or a coordinator's login) unlocks
or leaves the kiosk; submission ends the session.

Lock order everywhere: the assessment row, then kiosk session rows.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.models import User
from django.db import transaction

from surveys.accounts.roles import is_coordinator, visible_sites
from surveys.models import Actor, Assessment, AuditEvent, KioskSession, actor_fields
from surveys.tablet.answers import AnswerRejected, SaveResult, assessment_submit, response_save

PIN_RE = re.compile(r"^[0-9]{4,8}$")
#: Activity is written at most this often (every answer would otherwise be a second UPDATE).
TOUCH_EVERY = dt.timedelta(seconds=15)
#: Time on one page visit counts at most this long (a tablet left alone is not "reading").
MAX_PAGE_SECONDS = 30 * 60

End = KioskSession.EndReason


class KioskDenied(Exception):
    """The request's kiosk session may not act on this assessment (HTTP 403)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def validate_pin(pin: str) -> None:
    if not PIN_RE.match(pin or ""):
        raise AnswerRejected("the PIN must be 4 to 8 digits", code="pin")


def kiosk_get(token: str | None) -> KioskSession | None:
    """The session for a token (live or ended), with its assessment; None if unknown."""
    if not token:
        return None
    return (
        KioskSession.objects.select_related("assessment", "assessment__participant")
        .filter(token=token)
        .first()
    )


def _audit_end(session: KioskSession, *, now: dt.datetime, actor: Actor, reason: str) -> None:
    AuditEvent.objects.create(
        at=now,
        action=AuditEvent.Action.KIOSK_END,
        participant_id=session.assessment.participant_id,
        assessment_id=session.assessment_id,
        reason=reason,
        details={"kiosk_session": session.pk, "end_reason": session.end_reason},
        **actor_fields(actor),
    )


@transaction.atomic
def kiosk_start(
    *,
    assessment_id: int,
    started_by: User,
    pin: str,
    assistance: str,
    language: str | None = None,
    now: dt.datetime,
) -> KioskSession:
    """Hand the assessment over: end any live session for it and start a new one.

    The coordinator's level of assistance is recorded on the assessment. The
    language changes only while no answer has been saved (it is pinned once
    she has started). Raises AnswerRejected when the assessment takes no answers.
    """
    validate_pin(pin)
    if assistance not in Assessment.Assistance.values:
        raise AnswerRejected(f"unknown assistance level {assistance!r}", code="assistance")
    assessment = Assessment.objects.select_for_update().get(pk=assessment_id)
    if not assessment.is_answerable(now):
        raise AnswerRejected(
            f"this assessment is {assessment.get_status_display().lower()} and takes no answers",
            code="status",
        )
    for old in KioskSession.objects.select_for_update().filter(
        assessment=assessment, ended_at__isnull=True
    ):
        old.ended_at, old.end_reason = now, End.COORDINATOR
        old.save(update_fields=["ended_at", "end_reason"])
        _audit_end(old, now=now, actor=started_by, reason="replaced by a new tablet hand-off")
    changes: dict[str, Any] = {"assistance": assistance}
    known_languages = {code for code, _ in settings.LANGUAGES}
    if language and language != assessment.language:
        if language not in known_languages:
            raise AnswerRejected(f"unknown language {language!r}", code="language")
        if not assessment.responses.exists():
            changes["language"] = language
    Assessment.objects.filter(pk=assessment.pk).update(updated_at=now, **changes)
    for name, value in changes.items():
        setattr(assessment, name, value)
    session = KioskSession.objects.create(
        token=secrets.token_urlsafe(32),
        assessment=assessment,
        started_by=started_by,
        started_at=now,
        last_activity_at=now,
        pin_hash=make_password(pin),
    )
    AuditEvent.objects.create(
        at=now,
        action=AuditEvent.Action.KIOSK_START,
        participant_id=assessment.participant_id,
        assessment=assessment,
        details={
            "kiosk_session": session.pk,
            "assistance": assessment.assistance,
            "language": assessment.language,
        },
        **actor_fields(started_by),
    )
    return session


def _live_session_for(token: str, assessment_id: int) -> KioskSession:
    """Re-read the session (call with the assessment row locked) and check it may act."""
    session = KioskSession.objects.filter(token=token).first()
    if session is None:
        raise KioskDenied("no questionnaire is open on this tablet", code="kiosk_missing")
    if session.assessment_id != assessment_id:
        raise KioskDenied(
            "this tablet session is for another questionnaire", code="kiosk_other_assessment"
        )
    if not session.is_live:
        raise KioskDenied("this tablet session has ended", code="kiosk_ended")
    return session


def kiosk_touch(session: KioskSession, *, now: dt.datetime) -> None:
    """Record activity (throttled: at most one write every TOUCH_EVERY)."""
    if now - session.last_activity_at >= TOUCH_EVERY:
        KioskSession.objects.filter(pk=session.pk, ended_at__isnull=True).update(
            last_activity_at=now
        )
        session.last_activity_at = now


def kiosk_answer(
    *,
    token: str,
    assessment_id: int,
    item_code: str,
    value: int | None,
    declined: bool = False,
    idempotency_key: str = "",
    now: dt.datetime,
) -> SaveResult:
    """Save one answer tapped on the tablet whose session is *token*.

    KioskDenied (nothing stored) when the session is absent, ended or for
    another assessment; AnswerRejected (nothing stored) for a bad value, an
    unknown item, or an assessment that is not open or in progress. A locked
    session still takes answers: they were tapped before the screen locked
    and wait in the tablet's queue.

    The session is checked inside ``response_save``'s transaction, with the
    assessment row locked (the lock ``kiosk_start`` takes to end sessions),
    so a tablet whose session was just replaced cannot slip an answer in.
    """

    def guard(assessment: Assessment) -> None:
        session = _live_session_for(token, assessment.pk)
        kiosk_touch(session, now=now)

    try:
        return response_save(
            assessment_id=assessment_id,
            item_code=item_code,
            value=value,
            declined=declined,
            idempotency_key=idempotency_key,
            now=now,
            guard=guard,
        )
    except Assessment.DoesNotExist:
        raise KioskDenied(
            "this tablet session is for another questionnaire", code="kiosk_other_assessment"
        ) from None


@transaction.atomic
def kiosk_submit(*, token: str, now: dt.datetime) -> tuple[Assessment, bool]:
    """Complete and score the session's assessment, then end the session.

    Returns (assessment, completed_now). Submitting again from the same
    tablet after it completed returns ``completed_now=False``.
    """
    found = KioskSession.objects.filter(token=token).first()
    if found is None:
        raise KioskDenied("no questionnaire is open on this tablet", code="kiosk_missing")
    assessment = Assessment.objects.select_for_update().get(pk=found.assessment_id)
    session = KioskSession.objects.get(pk=found.pk)
    if not session.is_live:
        if session.end_reason == End.SUBMITTED and assessment.status == Assessment.Status.COMPLETED:
            return assessment, False
        raise KioskDenied("this tablet session has ended", code="kiosk_ended")
    page_seconds = dict(assessment.page_seconds or {})
    assessment, completed_now = assessment_submit(
        assessment_id=assessment.pk,
        now=now,
        page_seconds=page_seconds,
        assistance=assessment.assistance,
    )
    session.ended_at, session.end_reason, session.last_activity_at = now, End.SUBMITTED, now
    session.save(update_fields=["ended_at", "end_reason", "last_activity_at"])
    session.assessment = assessment
    _audit_end(session, now=now, actor="kiosk", reason="assessment submitted")
    return assessment, completed_now


def kiosk_lock_if_idle(session: KioskSession, *, now: dt.datetime) -> bool:
    """Lock a live session that has been idle too long; True when it is (now) locked."""
    if session.is_live and not session.locked and session.is_idle(now):
        kiosk_lock(session)
    return session.locked


def kiosk_lock(session: KioskSession) -> None:
    """Lock the tablet: the next page is the lock screen until the PIN is given."""
    KioskSession.objects.filter(pk=session.pk, ended_at__isnull=True).update(locked=True)
    session.locked = True


def pin_matches(session: KioskSession, pin: str) -> bool:
    return bool(pin) and check_password(pin, session.pin_hash)


def kiosk_unlock(session: KioskSession, *, pin: str, now: dt.datetime) -> bool:
    """Unlock with the hand-off PIN; False (and still locked) when the PIN is wrong."""
    if not session.is_live or not pin_matches(session, pin):
        return False
    KioskSession.objects.filter(pk=session.pk, ended_at__isnull=True).update(
        locked=False, last_activity_at=now
    )
    session.locked, session.last_activity_at = False, now
    return True


def may_release(user: Any, session: KioskSession) -> bool:
    """Can this staff login take the tablet back (coordinator of the participant's site)?"""
    if not user.is_authenticated:
        return False
    site_id = session.assessment.participant.site_id
    if not (user.is_superuser or is_coordinator(user)):
        return False
    return visible_sites(user).filter(pk=site_id).exists()


@transaction.atomic
def kiosk_end(
    session: KioskSession,
    *,
    now: dt.datetime,
    actor: Actor,
    reason: str = "ended by the coordinator",
) -> None:
    """End a live session (a coordinator took the tablet back). Answers stay saved."""
    Assessment.objects.select_for_update().filter(pk=session.assessment_id).exists()
    ended = KioskSession.objects.filter(pk=session.pk, ended_at__isnull=True).update(
        ended_at=now, end_reason=End.COORDINATOR
    )
    if ended:
        session.ended_at, session.end_reason = now, End.COORDINATOR
        _audit_end(session, now=now, actor=actor, reason=reason)


@transaction.atomic
def kiosk_add_page_time(
    session: KioskSession, *, page: str, seconds: float, now: dt.datetime
) -> None:
    """Add time spent on one page to the assessment's time-per-page record."""
    if not session.is_live or seconds <= 0:
        return
    assessment = Assessment.objects.select_for_update().get(pk=session.assessment_id)
    if assessment.status not in Assessment.ACTIVE:
        return
    spent = dict(assessment.page_seconds or {})
    spent[page] = round(float(spent.get(page, 0)) + min(seconds, MAX_PAGE_SECONDS), 1)
    Assessment.objects.filter(pk=assessment.pk).update(page_seconds=spent)
    session.assessment.page_seconds = spent
