"""The periodic sweep: open windows that have opened, close windows that have closed.

A window that closes on a form with no answer makes it missed; on a started
form it keeps her answers and makes it partial, scored where the FACIT rules
allow (in the same transaction as the move).

Safe to run twice or concurrently: rows are claimed ``FOR UPDATE SKIP
LOCKED`` in batches and moved with a compare-and-set on their status, so a
second sweep finds nothing left to do.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Q

from surveys.models import Assessment
from surveys.models.assessment import due_q
from surveys.trial import transitions
from surveys.trial.scores import scores_follow_status

S = Assessment.Status
SWEEP_ACTOR = "system:sweep"
BATCH_SIZE = 2000

# (count key, from status, to status): one compare-and-set per from-status
_STEPS: tuple[tuple[str, str, str], ...] = (
    ("missed", S.SCHEDULED, S.MISSED),
    ("opened", S.SCHEDULED, S.OPEN),
    ("missed", S.OPEN, S.MISSED),
    ("partial", S.IN_PROGRESS, S.PARTIAL),
)


def _due(from_status: str, to_status: str, now: dt.datetime) -> Q:
    """Rows in *from_status* that the clock moves to *to_status* (``due_transition``)."""
    return due_q(to_status, now) & Q(status=from_status)


def _sweep_step(from_status: str, to_status: str, due: Q, now: dt.datetime) -> int:
    reason = transitions.CLOCK_REASONS[to_status]
    moved_total = 0
    while True:
        try:
            with transaction.atomic():
                ids = list(
                    Assessment.objects.select_for_update(skip_locked=True)
                    .filter(due)
                    .order_by("pk")
                    .values_list("pk", flat=True)[:BATCH_SIZE]
                )
                if not ids:
                    return moved_total
                moved_total += transitions.bulk_transition(
                    ids=ids,
                    from_status=from_status,
                    to_status=to_status,
                    at=now,
                    actor_label=SWEEP_ACTOR,
                    reason=reason,
                )
                scores_follow_status(assessment_ids=ids, to_status=to_status, now=now)
        except transitions._PartialClaim:
            # Another sweep won some rows (a database without row locks):
            # move the rest one compare-and-set at a time.
            for assessment in Assessment.objects.filter(due).filter(pk__in=ids):
                with transaction.atomic():
                    if transitions.assessment_transition(
                        assessment=assessment,
                        to_status=to_status,
                        at=now,
                        actor=SWEEP_ACTOR,
                        reason=reason,
                    ):
                        moved_total += 1
                        scores_follow_status(
                            assessment_ids=[assessment.pk], to_status=to_status, now=now
                        )
        if len(ids) < BATCH_SIZE:
            return moved_total


def sweep_assessments(*, now: dt.datetime) -> dict[str, int]:
    """Apply every transition the clock makes due at *now*; return counts."""
    counts = {"opened": 0, "missed": 0, "partial": 0}
    for key, from_status, to_status in _STEPS:
        counts[key] += _sweep_step(from_status, to_status, _due(from_status, to_status, now), now)
    return counts
