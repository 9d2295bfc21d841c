"""Tablet kiosk sessions: hand-off, answers through the kiosk, lock, unlock, leave, submit.

A coordinator hands one open assessment over on a tablet: ``kiosk_start``
creates the only live session for it (ending any earlier one, e.g. on a
tablet that lost its network) with a PIN hashed by Django's password
hashers. Every answer and the submission go through a session: the
assessment row is locked first and the session re-read under that lock.
Idle tablets lock; the PIN (or a coordinator's login) unlocks or leaves the
kiosk; submission ends the session.

A session that has ended (replaced by a hand-off on another tablet, taken
back, or submitted) shows no more questions, but its tablet may still
deliver the answers she tapped before it knew: they belong to the same
assessment and are stored by the latest-tap-wins rule, or preserved for the
coordinator when the assessment no longer takes answers, each with an audit
event naming the ended session. A session for another assessment, an unknown
token or no session at all is refused and nothing is stored.

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
from django.db.models import Min

from surveys.accounts.roles import is_coordinator, visible_sites
from surveys.models import (
    Actor,
    AnswerTap,
    Assessment,
    AuditEvent,
    HomeLink,
    KioskSession,
    actor_fields,
)
from surveys.tablet.answers import (
    AnswerRejected,
    SaveResult,
    answer_record,
    assessment_submit,
)

PIN_RE = re.compile(r"^[0-9]{4,8}$")
#: Activity is written at most this often (every answer would otherwise be a second UPDATE).
TOUCH_EVERY = dt.timedelta(seconds=15)
#: Time on one page visit counts at most this long (a tablet left alone is not "reading").
MAX_PAGE_SECONDS = 30 * 60
#: A tap time is a whole number of milliseconds since the epoch within these years.
EPOCH_MS_RANGE = (
    dt.datetime(2000, 1, 1, tzinfo=dt.UTC).timestamp() * 1000,
    dt.datetime(2200, 1, 1, tzinfo=dt.UTC).timestamp() * 1000,
)

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
    started_by: User | None,
    pin: str | None,
    assistance: str,
    language: str | None = None,
    now: dt.datetime,
    mode: str = Assessment.Mode.TABLET,
    home_link: HomeLink | None = None,
) -> KioskSession:
    """Hand the assessment over: end any live session for it and start a new one.

    *mode* is how she answers: on the clinic tablet (a coordinator's
    hand-off with a PIN), at home (*home_link* opened with her access code,
    which is the session's PIN; no staff member) or by phone (the
    coordinator *started_by* reads the items on her own screen; no PIN).
    The coordinator's level of assistance is recorded on the assessment. The
    language changes only while no answer has been saved (it is pinned once
    she has started). Raises AnswerRejected when the assessment takes no answers.
    """
    if mode not in Assessment.Mode.values:
        raise AnswerRejected(f"unknown mode {mode!r}", code="mode")
    if mode == Assessment.Mode.PHONE:
        if started_by is None:
            raise AnswerRejected("a phone session needs the staff member", code="staff")
        pin_hash = make_password(None)  # nothing unlocks it: a phone session never locks
    else:
        validate_pin(pin or "")
        pin_hash = make_password(pin)
    if mode == Assessment.Mode.TABLET and started_by is None:
        raise AnswerRejected("a tablet hand-off needs the coordinator", code="staff")
    if assistance not in Assessment.Assistance.values:
        raise AnswerRejected(f"unknown assistance level {assistance!r}", code="assistance")
    actor: Actor = started_by if started_by is not None else "home"
    assessment = Assessment.objects.select_for_update().get(pk=assessment_id)
    if not assessment.is_answerable(now):
        raise AnswerRejected(
            f"this assessment is {assessment.get_status_display().lower()} and takes no answers",
            code="status",
        )
    for old in KioskSession.objects.select_for_update().filter(
        assessment=assessment, ended_at__isnull=True
    ):
        old.ended_at, old.end_reason = now, End.REPLACED
        old.save(update_fields=["ended_at", "end_reason"])
        _audit_end(old, now=now, actor=actor, reason=f"replaced by a new {_MODE_WORDS[mode]}")
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
        pin_hash=pin_hash,
        mode=mode,
        home_link=home_link,
    )
    details: dict[str, Any] = {
        "kiosk_session": session.pk,
        "assistance": assessment.assistance,
        "language": assessment.language,
        "mode": mode,
    }
    if home_link is not None:
        details["home_link"] = home_link.pk
    AuditEvent.objects.create(
        at=now,
        action=AuditEvent.Action.KIOSK_START,
        participant_id=assessment.participant_id,
        assessment=assessment,
        details=details,
        **actor_fields(actor),
    )
    return session


#: A new session of each mode, in words (the reason an earlier session ended).
_MODE_WORDS: dict[str, str] = {
    Assessment.Mode.TABLET: "tablet hand-off",
    Assessment.Mode.HOME: "session at home",
    Assessment.Mode.PHONE: "session by phone",
}


def _session_for(token: str, assessment_id: int) -> KioskSession:
    """Re-read the session (call with the assessment row locked): it must be this assessment's.

    An ended session passes: it may still deliver answers, never show pages.
    """
    session = KioskSession.objects.filter(token=token).first()
    if session is None:
        raise KioskDenied("no questionnaire is open on this tablet", code="kiosk_missing")
    if session.assessment_id != assessment_id:
        raise KioskDenied(
            "this tablet session is for another questionnaire", code="kiosk_other_assessment"
        )
    return session


def kiosk_touch(session: KioskSession, *, now: dt.datetime) -> None:
    """Record activity (throttled: at most one write every TOUCH_EVERY)."""
    if now - session.last_activity_at >= TOUCH_EVERY:
        KioskSession.objects.filter(pk=session.pk, ended_at__isnull=True).update(
            last_activity_at=now
        )
        session.last_activity_at = now


def tap_time_from_client(
    tapped_ms: float | None, sent_ms: float | None, *, now: dt.datetime
) -> dt.datetime | None:
    """The server-clock instant of a tap the tablet timed with its own clock.

    With both the tap time and the send time (milliseconds since the epoch on
    the tablet's clock), the tap's *age* is measured on one clock, so a tablet
    whose clock is wrong still orders its taps correctly against another
    tablet's: tap = now − (sent − tapped), the age never negative. With only
    the tap time it is taken as it is. Bounds come afterwards
    (:func:`bound_tap_time`). None when the tablet sent no tap time.
    """
    if tapped_ms is None:
        return None
    if sent_ms is not None:
        return now - dt.timedelta(milliseconds=max(0.0, sent_ms - tapped_ms))
    return dt.datetime.fromtimestamp(tapped_ms / 1000, tz=dt.UTC)


def bound_tap_time(
    session: KioskSession, tapped_at: dt.datetime | None, *, now: dt.datetime
) -> dt.datetime:
    """The rule for a tablet's tap time: never after the server's now, never before the
    assessment was first handed over.

    The lower bound is the start of the delivering session, or of an earlier
    session of the same assessment when the tap is older than that (taps queued
    on this tablet under a session that was since replaced are delivered with
    the tablet's current one). Without a tap time the tap is *now*.
    """
    if tapped_at is None or tapped_at >= now:
        return now
    if tapped_at >= session.started_at:
        return tapped_at
    first = KioskSession.objects.filter(assessment_id=session.assessment_id).aggregate(
        first=Min("started_at")
    )["first"]
    return max(tapped_at, first or session.started_at)


def _audit_tap(session: KioskSession, result: SaveResult, *, now: dt.datetime) -> None:
    """Audit a delivered answer that was not an ordinary save by the live session."""
    tap = result.tap
    ended = tap.from_ended_session
    if tap.outcome == AnswerTap.Outcome.PRESERVED:
        action = AuditEvent.Action.ANSWER_PRESERVED
        reason = f"kept for the coordinator: {tap.get_closed_reason_display().lower()}"
    elif ended:
        action = AuditEvent.Action.LATE_ANSWER
        reason = f"from an ended tablet session ({session.get_end_reason_display().lower()}): "
        reason += tap.get_outcome_display().lower()
    elif tap.outcome == AnswerTap.Outcome.OLDER:
        action = AuditEvent.Action.OLDER_ANSWER
        reason = "not applied: a later tap of this item is stored"
    else:
        return
    AuditEvent.objects.create(
        at=now,
        action=action,
        participant_id=session.assessment.participant_id,
        assessment_id=session.assessment_id,
        reason=reason,
        details={
            "kiosk_session": session.pk,
            "session_ended": ended,
            "session_end_reason": session.end_reason,
            "item": tap.item_code,
            "value": tap.value,
            "declined": tap.declined,
            "tapped_at": tap.tapped_at.isoformat(),
            "key": tap.idempotency_key,
            "outcome": tap.outcome,
            "answer_tap": tap.pk,
        },
        actor_label="kiosk",
    )


@transaction.atomic
def kiosk_answer(
    *,
    token: str,
    assessment_id: int,
    item_code: str,
    value: int | None,
    declined: bool = False,
    idempotency_key: str = "",
    tapped_at: dt.datetime | None = None,
    now: dt.datetime,
) -> SaveResult:
    """Deliver one answer tapped on the tablet whose session is *token*.

    KioskDenied (nothing stored) when the session is unknown or for another
    assessment; AnswerRejected (nothing stored) for a bad value, an unknown
    item, or an idempotency key already used for another answer. A locked or
    an ended session still delivers: its answers were tapped before the screen
    locked or before the tablet learnt it had been replaced. An assessment
    that no longer takes answers keeps them as preserved answers (the form is
    not touched). The tap time is bounded by :func:`bound_tap_time`.

    The assessment row is locked first (the lock ``kiosk_start`` takes to end
    sessions), then the session re-read, so a replacement cannot interleave.
    """
    try:
        assessment = Assessment.objects.select_for_update().get(pk=assessment_id)
    except Assessment.DoesNotExist:
        raise KioskDenied(
            "this tablet session is for another questionnaire", code="kiosk_other_assessment"
        ) from None
    session = _session_for(token, assessment.pk)
    session.assessment = assessment
    result = answer_record(
        assessment=assessment,
        item_code=item_code,
        value=value,
        declined=declined,
        idempotency_key=idempotency_key,
        tapped_at=bound_tap_time(session, tapped_at, now=now),
        now=now,
        actor="kiosk",
        kiosk_session=session,
        from_ended_session=not session.is_live,
        preserve_when_closed=True,
    )
    if not result.replay:
        _audit_tap(session, result, now=now)
        _note_mode(assessment, session, result)
    if session.is_live:
        kiosk_touch(session, now=now)
    return result


def _note_mode(assessment: Assessment, session: KioskSession, result: SaveResult) -> None:
    """Keep on the form the mode (and phone staff) of the session that last stored an answer.

    Submission records it for good; a form that closes before it is
    submitted (partial) keeps the mode its answers were given in, so that
    received forms count by mode.
    """
    stored = result.tap.outcome in (AnswerTap.Outcome.CREATED, AnswerTap.Outcome.CHANGED)
    if not stored or assessment.status not in Assessment.ACTIVE:
        return
    staff = session.started_by_id if session.mode == Assessment.Mode.PHONE else None
    if assessment.mode == session.mode and assessment.phone_staff_id == staff:
        return
    Assessment.objects.filter(pk=assessment.pk).update(mode=session.mode, phone_staff_id=staff)
    assessment.mode, assessment.phone_staff_id = session.mode, staff


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
    phone = session.mode == Assessment.Mode.PHONE
    actor = session_actor(session)
    assessment, completed_now = assessment_submit(
        assessment_id=assessment.pk,
        now=now,
        page_seconds=page_seconds,
        assistance=assessment.assistance,
        mode=session.mode,
        phone_staff=session.started_by if phone else None,
        actor=actor,
    )
    session.ended_at, session.end_reason, session.last_activity_at = now, End.SUBMITTED, now
    session.save(update_fields=["ended_at", "end_reason", "last_activity_at"])
    session.assessment = assessment
    _audit_end(session, now=now, actor=actor, reason="assessment submitted")
    return assessment, completed_now


def session_actor(session: KioskSession) -> Actor:
    """Who acts through a session: "kiosk" (the tablet), "home", or the phone's staff member."""
    if session.mode == Assessment.Mode.PHONE and session.started_by is not None:
        return session.started_by
    return "home" if session.mode == Assessment.Mode.HOME else "kiosk"


def locks_when_idle(session: KioskSession) -> bool:
    """Only the clinic tablet locks when idle: a home session is on her own device, a
    phone session on the signed-in coordinator's screen (which signs out after inactivity)."""
    return session.mode == Assessment.Mode.TABLET


def kiosk_lock_if_idle(session: KioskSession, *, now: dt.datetime) -> bool:
    """Lock a live session that has been idle too long; True when it is (now) locked."""
    if not locks_when_idle(session):
        return False
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
