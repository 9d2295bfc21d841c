"""Ending the live tablet sessions of forms that stop taking answers under them.

A form stops taking answers when she goes off study, when staff submit it as
answered, or when a corrected randomization date moves its window: the
tablet that holds it must not keep collecting answers the server would then
refuse. Each ended session gets a ``kiosk_end`` audit event; its tablet shows
"session ended" at its next request. Call with the assessment rows already
locked (lock order everywhere: the assessment row, then kiosk session rows).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from surveys.models import Actor, AuditEvent, KioskSession, actor_fields


def live_sessions(assessment_ids: Iterable[int]) -> list[KioskSession]:
    """The live tablet sessions of these assessments (at most one each), for a preview."""
    return list(
        KioskSession.objects.filter(assessment_id__in=list(assessment_ids), ended_at__isnull=True)
        .select_related("assessment__visit")
        .order_by("pk")
    )


def kiosk_sessions_end(
    *,
    assessment_ids: Iterable[int],
    end_reason: str,
    reason: str,
    actor: Actor,
    now: dt.datetime,
) -> list[KioskSession]:
    """End every live session of these assessments; return the sessions ended."""
    ended = []
    live = (
        KioskSession.objects.select_for_update(of=("self",))
        .select_related("assessment")
        .filter(assessment_id__in=list(assessment_ids), ended_at__isnull=True)
        .order_by("pk")
    )
    for session in live:
        session.ended_at, session.end_reason = now, end_reason
        session.save(update_fields=["ended_at", "end_reason"])
        AuditEvent.objects.create(
            at=now,
            action=AuditEvent.Action.KIOSK_END,
            participant_id=session.assessment.participant_id,
            assessment_id=session.assessment_id,
            reason=reason,
            details={"kiosk_session": session.pk, "end_reason": end_reason},
            **actor_fields(actor),
        )
        ended.append(session)
    return ended
