"""Staff submitting a started form as answered, on her behalf.

She started the form on the tablet but cannot finish it (she had to leave for
treatment, she is too tired): while the window is open a coordinator may
submit what she answered. The form is completed with her stored answers
only (nothing is added on her behalf), scored where the FACIT rules allow,
and records who submitted it, why and how the answers were collected (the
mode); a live tablet session for it is ended. Without this, the answers
would wait for the window to close and the form would be kept as partial.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from surveys import instrumentation
from surveys.models import Assessment, KioskSession
from surveys.trial.participants import MAX_REASON
from surveys.trial.scores import assessment_score
from surveys.trial.sessions import kiosk_sessions_end
from surveys.trial.transitions import assessment_transition

S = Assessment.Status


def submit_as_answered_problem(assessment: Assessment, now: dt.datetime) -> str | None:
    """Why staff may not submit this form as answered now, or None."""
    if assessment.status == S.OPEN:
        return "she has not answered any question yet: there is nothing to submit"
    if assessment.status != S.IN_PROGRESS:
        return f"this form is {assessment.get_status_display().lower()}, not in progress"
    if not assessment.is_answerable(now):
        return "its window has closed: the answers are kept as a partial form"
    return None


@transaction.atomic
def assessment_submit_as_answered(
    *, assessment: Assessment, reason: str, actor: User, now: dt.datetime
) -> Assessment:
    """Complete an in-progress form with the answers she gave (staff, reason required).

    Audited (the status change carries the staff member, the reason and how
    many items she answered); the form is scored and its tablet session ended.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "give the reason for submitting on her behalf"})
    if len(reason) > MAX_REASON:
        raise ValidationError({"reason": f"at most {MAX_REASON} characters"})
    assessment = Assessment.objects.select_for_update().get(pk=assessment.pk)
    if problem := submit_as_answered_problem(assessment, now):
        raise ValidationError(problem)
    answered = assessment.responses.filter(value__isnull=False).count()
    items = len(instrumentation.items(assessment.instrument_version))
    assessment_transition(
        assessment=assessment,
        to_status=S.COMPLETED,
        at=now,
        actor=actor,
        reason=f"submitted as answered by staff: {reason}",
        details={"submitted_as_answered": True, "answered": answered, "items": items},
        completed_at=now,
        # the mode her answers were given in (recorded by the sessions), the tablet if none
        mode=assessment.mode or Assessment.Mode.TABLET,
        assistance=assessment.assistance or Assessment.Assistance.NONE,
        submitted_by=actor,
        submitted_reason=reason,
    )
    kiosk_sessions_end(
        assessment_ids=[assessment.pk],
        end_reason=KioskSession.EndReason.STAFF_SUBMITTED,
        reason="form submitted as answered by staff",
        actor=actor,
        now=now,
    )
    assessment_score(assessment=assessment, now=now)
    return assessment
