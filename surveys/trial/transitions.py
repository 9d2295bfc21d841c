"""The one place where an assessment changes status.

Each change is a compare-and-set (``UPDATE ... WHERE id = %s AND status =
%s``) plus an audit event in the same transaction, so two workers, or the
same sweep run twice, can never apply a transition twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import transaction

from surveys.models import Actor, Assessment, AuditEvent, actor_fields

S = Assessment.Status

#: Every move an assessment may make. A started form (in progress) never loses its
#: answers: it is completed, or partial when its window closes or she leaves the study.
ALLOWED: dict[str, frozenset[str]] = {
    S.SCHEDULED: frozenset({S.OPEN, S.MISSED, S.NOT_EXPECTED}),
    S.OPEN: frozenset({S.IN_PROGRESS, S.MISSED, S.NOT_EXPECTED, S.SCHEDULED}),
    S.IN_PROGRESS: frozenset({S.COMPLETED, S.PARTIAL}),
    S.COMPLETED: frozenset(),
    S.PARTIAL: frozenset({S.IN_PROGRESS}),
    # Off study recorded late: a window that closed after she left was never expected.
    S.MISSED: frozenset({S.NOT_EXPECTED, S.SCHEDULED, S.OPEN}),
    S.NOT_EXPECTED: frozenset({S.SCHEDULED, S.OPEN, S.IN_PROGRESS, S.MISSED, S.PARTIAL}),
}

#: The moves of ALLOWED that run backwards. Only two audited services make them, with
#: ``reversal=True``: undoing an off-study record (``participant_undo_off_study``) and
#: correcting a randomization date (``participant_correct_randomization``); each puts a
#: form where the clock, her answers and her off-study date now place it
#: (``Assessment.settled_status``). The sweep and the tablet never can.
REVERSALS: frozenset[tuple[str, str]] = frozenset(
    {
        # corrected randomization date: the new window has not opened yet
        (S.OPEN, S.SCHEDULED),
        # corrected randomization date: the new window has not closed yet
        (S.MISSED, S.SCHEDULED),
        (S.MISSED, S.OPEN),
        # her window is open again (off study undone, or a corrected date): she may finish
        (S.PARTIAL, S.IN_PROGRESS),
        # off study undone (or a corrected date puts the window before she left)
        (S.NOT_EXPECTED, S.SCHEDULED),
        (S.NOT_EXPECTED, S.OPEN),
        (S.NOT_EXPECTED, S.MISSED),
        # forms with answers taken off study before partial forms existed
        (S.NOT_EXPECTED, S.IN_PROGRESS),
        (S.NOT_EXPECTED, S.PARTIAL),
    }
)


#: The audit reason of each move the clock makes (the sweep, ``assessment_refresh``).
CLOCK_REASONS: dict[str, str] = {
    S.OPEN: "window opened",
    S.MISSED: "window closed",
    S.PARTIAL: "window closed before submission: answers kept",
}


class TransitionNotAllowed(Exception):
    pass


def check_allowed(from_status: str, to_status: str, *, reversal: bool = False) -> None:
    if to_status not in ALLOWED[from_status]:
        raise TransitionNotAllowed(f"an assessment cannot go from {from_status} to {to_status}")
    if (from_status, to_status) in REVERSALS and not reversal:
        raise TransitionNotAllowed(
            f"{from_status} to {to_status} runs backwards: only an audited correction "
            "or an off-study undo may make it"
        )


def assessment_transition(
    *,
    assessment: Assessment,
    to_status: str,
    at: dt.datetime,
    actor: Actor,
    reason: str = "",
    details: dict[str, Any] | None = None,
    reversal: bool = False,
    **fields: Any,
) -> bool:
    """Move *assessment* from its current status to *to_status*, once.

    Returns False (and changes nothing) when another process moved it first.
    Extra keyword arguments are stored on the row in the same UPDATE. A move
    in REVERSALS needs ``reversal=True`` (the caller may make backward moves)
    and is marked ``"reversal": true`` in its audit event.
    """
    from_status = assessment.status
    check_allowed(from_status, to_status, reversal=reversal)
    if (from_status, to_status) in REVERSALS:
        details = {**(details or {}), "reversal": True}
    with transaction.atomic():
        claimed = Assessment.objects.filter(pk=assessment.pk, status=from_status).update(
            status=to_status, updated_at=at, **fields
        )
        if not claimed:
            return False
        AuditEvent.objects.create(
            at=at,
            action=AuditEvent.Action.STATUS_CHANGE,
            participant_id=assessment.participant_id,
            assessment_id=assessment.pk,
            from_status=from_status,
            to_status=to_status,
            reason=reason,
            details=details or {},
            **actor_fields(actor),
        )
    assessment.status = to_status
    for name, value in fields.items():
        setattr(assessment, name, value)
    return True


def bulk_transition(
    *,
    ids: Iterable[int],
    from_status: str,
    to_status: str,
    at: dt.datetime,
    actor_label: str,
    reason: str = "",
) -> int:
    """Compare-and-set many rows that the caller has locked (FOR UPDATE).

    Rows already locked by the caller's ``select_for_update`` are all
    updated; if the database cannot lock (SQLite) and another process got
    some first, fall back to one compare-and-set per row so that audit
    events are written only for the rows this call actually moved.
    """
    check_allowed(from_status, to_status)
    rows = list(Assessment.objects.filter(pk__in=list(ids)).values("pk", "participant_id"))
    if not rows:
        return 0
    pks = [row["pk"] for row in rows]
    moved = Assessment.objects.filter(pk__in=pks, status=from_status).update(
        status=to_status, updated_at=at
    )
    if moved != len(rows):  # only possible without row locks: find out which we moved
        raise _PartialClaim
    AuditEvent.objects.bulk_create(
        AuditEvent(
            at=at,
            action=AuditEvent.Action.STATUS_CHANGE,
            participant_id=row["participant_id"],
            assessment_id=row["pk"],
            from_status=from_status,
            to_status=to_status,
            reason=reason,
            actor=None,
            actor_label=actor_label,
        )
        for row in rows
    )
    return moved


class _PartialClaim(Exception):
    """Raised inside the caller's transaction to roll a partial bulk claim back."""
