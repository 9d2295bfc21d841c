"""Reads of the coordinator workspace: the worklist, its counts, her participants.

Every function here runs a fixed number of queries whatever the number of
participants (the tests count them).
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q, QuerySet

from surveys.models import Assessment, Participant, Site, Visit

S = Assessment.Status
UPCOMING_DAYS = 30

WORKLIST_VIEWS = {
    "open": "Open now",
    "overdue": "Overdue (last 7 days of the window)",
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
        qs = qs.filter(status__in=Assessment.ACTIVE, closes_at__gt=now)
    elif view == "overdue":
        qs = qs.filter(
            status__in=Assessment.ACTIVE,
            closes_at__gt=now,
            closes_at__lte=now + dt.timedelta(days=7),
        )
    elif view == "missed":
        qs = qs.filter(status=S.MISSED, missed_reason="")
    elif view == "upcoming":
        qs = qs.filter(
            status=S.SCHEDULED,
            opens_at__gt=now,
            opens_at__lte=now + dt.timedelta(days=UPCOMING_DAYS),
        )
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
    active = Q(status__in=Assessment.ACTIVE, closes_at__gt=now)
    return Assessment.objects.filter(participant__site__in=sites).aggregate(
        open=Count("pk", filter=active),
        overdue=Count("pk", filter=active & Q(closes_at__lte=now + dt.timedelta(days=7))),
        missed=Count("pk", filter=Q(status=S.MISSED, missed_reason="")),
        upcoming=Count(
            "pk",
            filter=Q(
                status=S.SCHEDULED,
                opens_at__gt=now,
                opens_at__lte=now + dt.timedelta(days=UPCOMING_DAYS),
            ),
        ),
        all=Count("pk"),
    )


def visits_for_sites(sites: QuerySet[Site]) -> QuerySet[Visit]:
    return Visit.objects.filter(trial__participants__site__in=sites).distinct().order_by("number")
