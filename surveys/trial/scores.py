"""Scores of a received form (completed or partial), computed by ``scoring/``.

A completed form is scored when it is submitted and again after an answer is
corrected (the scores it had are kept as a ``ScoreRevision``, with the
scoring version that computed them); a partial one when its window closes
(or she leaves the study) with answers stored. Each score is blank where
the FACIT rules do not allow it (too few items of its subscale answered), so
a form with a handful of answers is kept but yields few or no scores.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from scoring.facit import SCORING_VERSION, score_form
from surveys import instrumentation
from surveys.models import (
    SCORE_FIELDS,
    Assessment,
    AuditEvent,
    Response,
    ResponseCorrection,
    Score,
    ScoreRevision,
)


def answers_of(assessment: Assessment) -> dict[str, int | None]:
    """Item code -> value for every item of the form (None when unanswered or declined)."""
    stored = dict(assessment.responses.values_list("item_code", "value"))
    return {code: stored.get(code) for code in instrumentation.items(assessment.instrument_version)}


def score_values(answers: dict[str, int | None], now: dt.datetime) -> dict[str, Any]:
    """The columns of a Score row for one form's answers (every item of the form as a key)."""
    scores = score_form(answers)
    values: dict[str, Any] = {
        "items_answered": sum(value is not None for value in answers.values()),
        "items_total": len(answers),
        "scoring_version": SCORING_VERSION,
        "computed_at": now,
    }
    for field in SCORE_FIELDS:
        values[field] = scores.get(field.upper())
        values[f"{field}_n"] = scores.get(f"{field.upper()}_N") or 0
    return values


def score_store(*, assessment: Assessment, now: dt.datetime) -> Score:
    """(Re)compute and store the scores of a received assessment, and its completeness."""
    score, _ = Score.objects.update_or_create(
        assessment=assessment, defaults=score_values(answers_of(assessment), now)
    )
    return score


def assessments_score(*, assessment_ids: list[int], now: dt.datetime) -> int:
    """Score many forms just received (a sweep's batch) in a few queries, audited; a count."""
    forms = list(
        Assessment.objects.filter(pk__in=assessment_ids).values_list(
            "pk", "participant_id", "instrument_version", "status"
        )
    )
    stored: dict[int, dict[str, int | None]] = defaultdict(dict)
    for assessment_id, code, value in Response.objects.filter(
        assessment_id__in=assessment_ids
    ).values_list("assessment_id", "item_code", "value"):
        stored[assessment_id][code] = value
    scores, events = [], []
    for pk, participant_id, pinned, status in forms:
        answers = {code: stored[pk].get(code) for code in instrumentation.items(pinned)}
        score = Score(assessment_id=pk, **score_values(answers, now))
        scores.append(score)
        events.append(
            AuditEvent(
                at=now,
                action=AuditEvent.Action.SCORED,
                participant_id=participant_id,
                assessment_id=pk,
                actor_label="system:scoring",
                details={
                    "scoring_version": score.scoring_version,
                    "toi": score.toi,
                    "status": status,
                },
            )
        )
    Score.objects.filter(assessment_id__in=assessment_ids).delete()
    Score.objects.bulk_create(scores)
    AuditEvent.objects.bulk_create(events)
    return len(scores)


def assessment_score(*, assessment: Assessment, now: dt.datetime) -> Score:
    """Score a form that has just been received and audit it (``scored``)."""
    score = score_store(assessment=assessment, now=now)
    AuditEvent.objects.create(
        at=now,
        action=AuditEvent.Action.SCORED,
        participant_id=assessment.participant_id,
        assessment=assessment,
        actor_label="system:scoring",
        details={
            "scoring_version": score.scoring_version,
            "toi": score.toi,
            "status": assessment.status,
        },
    )
    return score


def scores_follow_status(*, assessment_ids: list[int], to_status: str, now: dt.datetime) -> None:
    """Keep scores for received forms only, after these forms moved to *to_status*.

    A form that became partial is scored; one taken back to in progress (its
    window is open again) loses its scores until it is received again. A
    completed form is scored by whoever completed it (it may need more than
    a status: the tablet's page times, the staff member who submitted it).
    """
    if to_status == Assessment.Status.PARTIAL:
        assessments_score(assessment_ids=assessment_ids, now=now)
    elif to_status in Assessment.UNFINISHED:
        Score.objects.filter(assessment_id__in=assessment_ids).delete()


#: The scores named in a re-scoring's audit event (before and after).
AUDITED_SCORES = ("toi", "factb", "factg", "bcs")


def assessment_rescore(
    *, assessment: Assessment, now: dt.datetime, correction: ResponseCorrection | None = None
) -> tuple[Score, ScoreRevision | None]:
    """Recompute the scores of a received form whose answers changed; keep the old ones.

    The scores it had become a :class:`ScoreRevision` (with the scoring
    version that computed them), the new ones are computed by ``scoring/``
    and a ``scored`` audit event names both. Call inside the transaction
    that changed the answers.
    """
    old = Score.objects.select_for_update().filter(assessment=assessment).first()
    revision = None
    if old is not None:
        revision = ScoreRevision.objects.create(
            assessment=assessment, superseded_at=now, superseded_by=correction, **old.values()
        )
    score = score_store(assessment=assessment, now=now)
    AuditEvent.objects.create(
        at=now,
        action=AuditEvent.Action.SCORED,
        participant_id=assessment.participant_id,
        assessment=assessment,
        actor_label="system:scoring",
        reason="answers corrected" if correction is not None else "answers changed",
        details={
            "scoring_version": score.scoring_version,
            "status": assessment.status,
            "rescored": True,
            "correction": correction.pk if correction is not None else None,
            "score_revision": revision.pk if revision is not None else None,
            "previous_scoring_version": old.scoring_version if old is not None else None,
            "before": {name: getattr(old, name) for name in AUDITED_SCORES} if old else None,
            "after": {name: getattr(score, name) for name in AUDITED_SCORES},
        },
    )
    return score, revision
