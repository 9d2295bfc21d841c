"""Home links and the participant's access code: issue, revoke, resolve, check.

A link is ``/r/<token>``: 20 URL-safe characters from :mod:`secrets` (120
bits), short enough for an SMS. Only the token's SHA-256 is stored (a hash
that cannot be reversed; a slow password hasher adds nothing for a random
token of this length, and the lookup stays one indexed query). Every link
issued for an assessment stays valid (each reminder carries its own) until
it is revoked, the window closes or the form is submitted.

Opening a link asks for her **access code**: six digits, given to her on
paper at enrollment and stored with Django's password hashers. Each wrong
code counts against *her* (not the link, nor the browser): after
``MAX_CODE_FAILURES`` her home access locks, with an audit event, until her
coordinator issues a new code (which is shown once and never stored).

Every change writes an :class:`~surveys.models.AuditEvent`; the clock is
passed in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets

from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F

from surveys.models import (
    Actor,
    Assessment,
    AuditEvent,
    HomeAccess,
    HomeLink,
    Participant,
    actor_fields,
)

#: Bytes of randomness in a token (20 URL-safe characters).
TOKEN_BYTES = 15
#: What a token may look like before it is even hashed (anything else is unknown).
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
CODE_DIGITS = 6
CODE_RE = re.compile(r"^[0-9]{6}$")
#: Wrong access codes before her home access locks.
MAX_CODE_FAILURES = 5
LINK_PREFIX = "/r/"


class LinkRefused(Exception):
    """A home link that opens nothing. ``code`` names why; ``status`` is the HTTP status."""

    code = "refused"
    status = 404

    def __init__(self, message: str, link: HomeLink | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.link = link


class LinkUnknown(LinkRefused):
    """No such link (mistyped, tampered with, or never issued)."""

    code = "unknown"
    status = 404


class LinkRevoked(LinkRefused):
    code = "revoked"
    status = 410


class LinkNotOpen(LinkRefused):
    """The window has not opened yet."""

    code = "not_open"
    status = 403


class LinkWindowClosed(LinkRefused):
    """The window closed (or she left the study) before the form was submitted."""

    code = "closed"
    status = 410


class LinkAlreadySubmitted(LinkRefused):
    code = "submitted"
    status = 410


class LinkLocked(LinkRefused):
    """Too many wrong access codes: her coordinator must issue a new code."""

    code = "locked"
    status = 403


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def link_url(token: str) -> str:
    return f"{LINK_PREFIX}{token}"


def _audit(
    action: str,
    *,
    participant_id: int,
    assessment_id: int | None,
    actor: Actor,
    now: dt.datetime,
    reason: str = "",
    details: dict[str, object] | None = None,
) -> None:
    AuditEvent.objects.create(
        at=now,
        action=action,
        participant_id=participant_id,
        assessment_id=assessment_id,
        reason=reason,
        details=details or {},
        **actor_fields(actor),
    )


# --------------------------------------------------------------------------- links
@transaction.atomic
def issue_link(assessment: Assessment, *, actor: User | None, now: dt.datetime) -> str:
    """A new link to *assessment*; returns its relative URL ``/r/<token>`` (shown once).

    Earlier links for the assessment stay valid. Audited (never the token).
    """
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link = HomeLink.objects.create(
        assessment=assessment, token_hash=token_hash(token), issued_at=now, issued_by=actor
    )
    _audit(
        AuditEvent.Action.HOME_LINK_ISSUED,
        participant_id=assessment.participant_id,
        assessment_id=assessment.pk,
        actor=actor or "system:reminders",
        now=now,
        details={"home_link": link.pk},
    )
    return link_url(token)


@transaction.atomic
def revoke_links(assessment: Assessment, *, actor: Actor, now: dt.datetime) -> int:
    """Revoke every live link of *assessment*; returns how many (audited when any)."""
    live = HomeLink.objects.filter(assessment=assessment, revoked_at__isnull=True)
    ids = list(live.values_list("pk", flat=True))
    if not ids:
        return 0
    by = actor if isinstance(actor, User) else None
    HomeLink.objects.filter(pk__in=ids).update(revoked_at=now, revoked_by=by)
    _audit(
        AuditEvent.Action.HOME_LINKS_REVOKED,
        participant_id=assessment.participant_id,
        assessment_id=assessment.pk,
        actor=actor,
        now=now,
        details={"home_links": ids},
    )
    return len(ids)


def resolve_link(token: str, *, now: dt.datetime) -> HomeLink:
    """The live link for *token*, with its assessment and participant; else a LinkRefused.

    Refused, in this order: unknown or malformed (:class:`LinkUnknown`),
    revoked, submitted, window not open yet, window closed (or she left the
    study), her home access locked. Reads only.
    """
    if not isinstance(token, str) or not TOKEN_RE.match(token):
        raise LinkUnknown("This link is not valid.")
    link = (
        HomeLink.objects.select_related("assessment__participant__site", "assessment__visit")
        .filter(token_hash=token_hash(token))
        .first()
    )
    if link is None:
        raise LinkUnknown("This link is not valid.")
    if link.is_revoked:
        raise LinkRevoked("This link has been cancelled.", link)
    assessment = link.assessment
    S = Assessment.Status
    if assessment.status in Assessment.RECEIVED:
        raise LinkAlreadySubmitted("This questionnaire has already been sent.", link)
    if assessment.status == S.SCHEDULED and now < assessment.opens_at:
        raise LinkNotOpen("This questionnaire is not open yet.", link)
    if not assessment.is_answerable(now):
        raise LinkWindowClosed("This questionnaire is closed.", link)
    access = HomeAccess.objects.filter(participant_id=assessment.participant_id).first()
    if access is None or access.is_locked:
        raise LinkLocked("This link is locked.", link)
    return link


# --------------------------------------------------------------------------- access code
def new_access_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


@transaction.atomic
def issue_access_code(
    participant: Participant, *, actor: User | None, now: dt.datetime, code: str | None = None
) -> str:
    """(Re)issue her access code and unlock her home access; returns the code (shown once).

    *code* lets the demo seed print a known code; everyone else gets a random one.
    """
    code = code if code is not None else new_access_code()
    if not CODE_RE.match(code):
        raise ValueError("an access code is six digits")
    existed = HomeAccess.objects.select_for_update().filter(participant=participant).exists()
    HomeAccess.objects.update_or_create(
        participant=participant,
        defaults={
            "code_hash": make_password(code),
            "issued_at": now,
            "issued_by": actor,
            "failed_attempts": 0,
            "locked_at": None,
        },
    )
    _audit(
        AuditEvent.Action.HOME_CODE_ISSUED,
        participant_id=participant.pk,
        assessment_id=None,
        actor=actor or "system",
        now=now,
        reason="new access code (the earlier one no longer works)" if existed else "",
    )
    return code


def check_access_code(link: HomeLink, code: str, *, now: dt.datetime) -> bool:
    """True when *code* is her access code. A wrong one counts; the last allowed one locks.

    Raises :class:`LinkLocked` when her access is (or becomes) locked (the
    lock and its audit event are committed first). The participant's access
    row is locked so that concurrent guesses count one by one.
    """
    verdict = _check_access_code(link, code, now=now)
    if verdict == "locked":
        raise LinkLocked("This link is locked.", link)
    return verdict == "ok"


@transaction.atomic
def _check_access_code(link: HomeLink, code: str, *, now: dt.datetime) -> str:
    assessment = link.assessment
    access = (
        HomeAccess.objects.select_for_update()
        .filter(participant_id=assessment.participant_id)
        .first()
    )
    if access is None or access.is_locked:
        return "locked"
    if isinstance(code, str) and CODE_RE.match(code) and check_password(code, access.code_hash):
        if access.failed_attempts:
            HomeAccess.objects.filter(pk=access.pk).update(failed_attempts=0)
        return "ok"
    HomeAccess.objects.filter(pk=access.pk).update(failed_attempts=F("failed_attempts") + 1)
    access.refresh_from_db(fields=["failed_attempts"])
    _audit(
        AuditEvent.Action.HOME_CODE_FAILED,
        participant_id=assessment.participant_id,
        assessment_id=assessment.pk,
        actor="home",
        now=now,
        details={"home_link": link.pk, "failed_attempts": access.failed_attempts},
    )
    if access.failed_attempts >= MAX_CODE_FAILURES:
        HomeAccess.objects.filter(pk=access.pk).update(locked_at=now)
        _audit(
            AuditEvent.Action.HOME_LOCKED,
            participant_id=assessment.participant_id,
            assessment_id=assessment.pk,
            actor="home",
            now=now,
            reason=f"{MAX_CODE_FAILURES} wrong access codes",
            details={"home_link": link.pk},
        )
        return "locked"
    return "wrong"


def attempts_left(participant_id: int) -> int:
    access = HomeAccess.objects.filter(participant_id=participant_id).first()
    if access is None:
        return 0
    return max(0, MAX_CODE_FAILURES - access.failed_attempts)
