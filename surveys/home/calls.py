"""The "needs a call" list and recording a call's outcome.

An open form **needs a call** when it is at risk of being missed (``N`` is the
trial's ``needs_call_days``, 7 by default):

* its window closes within ``N`` days; or
* it is not started ``N`` days after its window opened; or
* it was started and has had no answer for ``N`` days (stalled);

unless a call already settled it for now: she refused, or asked to be
called back on a later day. Every call is a :class:`~surveys.models.CallAttempt`
with its outcome, written with an audit event. "Reached and completed by
phone" then opens the phone session (``surveys.home.sessions``).

``needs_call_q(now)`` is the rule as SQL (one small query reads the trials'
``N``); ``contact_attempts_subquery()`` counts the contact attempts per form: the
calls, and the reminders sent (``surveys.outreach``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from surveys.models import (
    Assessment,
    AuditEvent,
    CallAttempt,
    Message,
    Response,
    Trial,
    actor_fields,
)
from surveys.models.assessment import answerable_q

Outcome = CallAttempt.Outcome
MAX_NOTE = 500


class CallRejected(ValueError):
    """A call outcome that cannot be recorded (HTTP 400); nothing is stored."""


def needs_call_q(now: dt.datetime) -> Q:
    """Open forms at risk (see the module's docstring), for every trial."""
    S = Assessment.Status
    per_trial = Q(pk__in=[])
    for trial_id, days in Trial.objects.values_list("pk", "needs_call_days"):
        since = now - dt.timedelta(days=days)
        recent_answer = Exists(
            Response.objects.filter(assessment=OuterRef("pk"), saved_at__gt=since)
        )
        per_trial |= Q(participant__trial_id=trial_id) & (
            Q(closes_at__lte=now + dt.timedelta(days=days))
            | Q(status=S.OPEN, opens_at__lte=since)
            | Q(Q(status=S.IN_PROGRESS), ~Q(recent_answer))
        )
    settled = Exists(
        CallAttempt.objects.filter(assessment=OuterRef("pk")).filter(
            Q(outcome=Outcome.REFUSED) | Q(outcome=Outcome.CALL_BACK, call_back_on__gt=now.date())
        )
    )
    return answerable_q(now) & per_trial & ~Q(settled)


def contact_attempts_subquery() -> Any:
    """Contact attempts for each form so far: calls recorded plus reminders sent (0 when none)."""

    def count(model: Any, **filters: Any) -> Coalesce:
        return Coalesce(
            Subquery(
                model.objects.filter(assessment=OuterRef("pk"), **filters)
                .order_by()
                .values("assessment")
                .annotate(n=Count("pk"))
                .values("n"),
                output_field=IntegerField(),
            ),
            0,
        )

    return count(CallAttempt) + count(Message, status=Message.Status.SENT)


def last_call_subquery() -> Subquery:
    """The outcome of the latest call about each form (None when none)."""
    return Subquery(
        CallAttempt.objects.filter(assessment=OuterRef("pk"))
        .order_by("-called_at", "-pk")
        .values("outcome")[:1]
    )


def call_outcome_label(outcome: str) -> str:
    try:
        return str(Outcome(outcome).label) if outcome else ""
    except ValueError:
        return outcome


@transaction.atomic
def call_record(
    *,
    assessment: Assessment,
    outcome: str,
    called_by: User,
    now: dt.datetime,
    call_back_on: dt.date | None = None,
    note: str = "",
) -> CallAttempt:
    """Record one call about an open form, with its outcome (audited).

    A call-back needs a day after today; a note is at most 500 characters.
    CallRejected when the outcome is unknown or incomplete.
    """
    if outcome not in Outcome.values:
        raise CallRejected(f"unknown call outcome {outcome!r}")
    note = " ".join((note or "").split())
    if len(note) > MAX_NOTE:
        raise CallRejected(f"keep the note under {MAX_NOTE} characters")
    if outcome == Outcome.CALL_BACK:
        today = now.astimezone(assessment.participant.site.tzinfo).date()
        if call_back_on is None or call_back_on <= today:
            raise CallRejected("give the day to call back (after today)")
    else:
        call_back_on = None
    call = CallAttempt.objects.create(
        assessment=assessment,
        called_at=now,
        called_by=called_by,
        outcome=outcome,
        call_back_on=call_back_on,
        note=note,
    )
    AuditEvent.objects.create(
        at=now,
        action=AuditEvent.Action.CALL_RECORDED,
        participant_id=assessment.participant_id,
        assessment=assessment,
        reason=note,
        details={
            "call": call.pk,
            "outcome": outcome,
            "call_back_on": call_back_on.isoformat() if call_back_on else None,
        },
        **actor_fields(called_by),
    )
    return call
