"""Reads of the coordinator workspace: the worklist, its counts, her participants.

Every function here runs a fixed number of queries whatever the number of
participants (the tests count them).
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, QuerySet

from surveys.models import AnswerTap, Assessment, Participant, Site
from surveys.models.assessment import (
    OVERDUE_DAYS,
    answerable_q,
    missing_reason_q,
    opening_within_q,
    overdue_q,
)

S = Assessment.Status
UPCOMING_DAYS = 30

WORKLIST_VIEWS = {
    "open": "Open now",
    "overdue": f"Overdue (last {OVERDUE_DAYS} days of the window)",
    "missed": "Missed without a reason",
    "upcoming": f"Opening in the next {UPCOMING_DAYS} days",
    "all": "All assessments",
}
SORTS = {
    "closes": ("closes_at", "pk"),
    "-closes": ("-closes_at", "-pk"),
    "opens": ("opens_at", "pk"),
    "-opens": ("-opens_at", "-pk"),
    "study_id": ("participant__study_id", "visit__number"),
    "-study_id": ("-participant__study_id", "visit__number"),
    "site": ("participant__site__code", "closes_at"),
    "-site": ("-participant__site__code", "closes_at"),
    "visit": ("visit__number", "closes_at"),
    "-visit": ("-visit__number", "closes_at"),
    "arm": ("participant__arm__code", "closes_at"),
    "-arm": ("-participant__arm__code", "closes_at"),
    "status": ("status", "closes_at"),
    "-status": ("-status", "closes_at"),
}


def participants_for_sites(sites: QuerySet[Site]) -> QuerySet[Participant]:
    return Participant.objects.filter(site__in=sites).select_related("site", "arm", "trial")


def worklist(
    *,
    sites: QuerySet[Site],
    now: dt.datetime,
    view: str = "open",
    site: str = "",
    visit: str = "",
    arm: str = "",
    status: str = "",
    sort: str = "closes",
) -> QuerySet[Assessment]:
    """Assessments a coordinator should act on, filtered and sorted."""
    qs = Assessment.objects.filter(participant__site__in=sites).select_related(
        "participant__site", "participant__arm", "visit"
    )
    if view == "open":
        qs = qs.answerable(now)
    elif view == "overdue":
        qs = qs.overdue(now)
    elif view == "missed":
        qs = qs.missing_reason()
    elif view == "upcoming":
        qs = qs.opening_within(now, UPCOMING_DAYS)
    if site:
        qs = qs.filter(participant__site__code=site)
    if visit:
        qs = qs.filter(visit__code=visit)
    if arm:
        qs = qs.filter(participant__arm__code=arm)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by(*SORTS.get(sort, SORTS["closes"]))


def worklist_counts(*, sites: QuerySet[Site], now: dt.datetime) -> dict[str, int]:
    """How many rows each worklist tab holds (one query)."""
    return Assessment.objects.filter(participant__site__in=sites).aggregate(
        open=Count("pk", filter=answerable_q(now)),
        overdue=Count("pk", filter=overdue_q(now)),
        missed=Count("pk", filter=missing_reason_q()),
        upcoming=Count("pk", filter=opening_within_q(now, UPCOMING_DAYS)),
        all=Count("pk"),
    )


def preserved_answers(participant: Participant) -> QuerySet[AnswerTap]:
    """Answers a tablet delivered after her assessment had closed: kept, never applied."""
    return (
        AnswerTap.objects.preserved()
        .filter(assessment__participant=participant)
        .select_related("assessment__visit")
        .order_by("assessment__visit__number", "item_code", "tapped_at", "pk")
    )
