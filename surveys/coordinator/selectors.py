"""Reads of the coordinator workspace: the worklist, its tabs and counts, her participants.

Every function here runs a fixed number of queries whatever the number of
participants (the tests count them).

The worklist's tabs and columns are data (:data:`WORKLIST_TABS`,
:data:`WORKLIST_COLUMNS`): a new tab is one :class:`Tab` (its SQL rule, its
default order); its count, its link and its page follow.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from surveys import instrumentation
from surveys.home.calls import (
    call_outcome_label,
    contact_attempts_subquery,
    last_call_subquery,
    needs_call_q,
)
from surveys.models import AnswerTap, Assessment, Participant, Response, Site
from surveys.models.assessment import (
    OVERDUE_DAYS,
    answerable_q,
    missing_reason_q,
    opening_within_q,
    overdue_q,
)
from surveys.trial.compliance import bucket_q

S = Assessment.Status
UPCOMING_DAYS = 30


@dataclass(frozen=True)
class Tab:
    """One tab of the worklist: which assessments it lists, and in what order by default."""

    key: str
    label: str
    rule: Callable[[dt.datetime], Q]
    default_sort: str = "closes"
    #: what the tab holds, in a sentence (shown under the tabs)
    help: str = ""


WORKLIST_TABS: tuple[Tab, ...] = (
    Tab(
        "open",
        "Open now",
        answerable_q,
        help="Windows open now, not yet submitted; the ones closing soonest first.",
    ),
    Tab(
        "overdue",
        "Overdue",
        overdue_q,
        help=f"Open, in the last {OVERDUE_DAYS} days of the window.",
    ),
    Tab(
        "needs_call",
        "Needs a call",
        needs_call_q,
        help="Open forms at risk: the window closes soon, not started since it opened, or "
        'started with no answer for days (the trial\'s "needs a call" days, 7 by default). '
        "A refusal, or a call-back set for a later day, takes a form off the list.",
    ),
    Tab(
        "missed",
        "Missed without a reason",
        lambda now: missing_reason_q(),
        default_sort="-closes",
        help="The window closed with nothing answered: record why.",
    ),
    Tab(
        "upcoming",
        f"Opening in {UPCOMING_DAYS} days",
        lambda now: opening_within_q(now, UPCOMING_DAYS),
        default_sort="opens",
        help=f"Windows that open in the next {UPCOMING_DAYS} days.",
    ),
    Tab("all", "All assessments", lambda now: Q(), help="Every assessment of your sites."),
)
TABS: Mapping[str, Tab] = {tab.key: tab for tab in WORKLIST_TABS}
#: Kept for callers that want {key: label}.
WORKLIST_VIEWS: Mapping[str, str] = {tab.key: tab.label for tab in WORKLIST_TABS}


@dataclass(frozen=True)
class SortColumn:
    """A column header of the worklist; *sort* is its key in :data:`SORTS` ("" = not sortable)."""

    label: str
    sort: str = ""
    numeric: bool = False


WORKLIST_COLUMNS: tuple[SortColumn, ...] = (
    SortColumn("Study id", "study_id"),
    SortColumn("Site", "site"),
    SortColumn("Arm", "arm"),
    SortColumn("Visit", "visit"),
    SortColumn("Window", "opens"),
    SortColumn("Days left", "closes", numeric=True),
    SortColumn("Status", "status"),
    SortColumn("Actions"),
)
SORTS: Mapping[str, tuple[str, ...]] = {
    "closes": ("closes_at", "pk"),
    "-closes": ("-closes_at", "-pk"),
    "opens": ("opens_at", "pk"),
    "-opens": ("-opens_at", "-pk"),
    "study_id": ("participant__study_id", "visit__number"),
    "-study_id": ("-participant__study_id", "visit__number"),
    "site": ("participant__site__code", "closes_at", "pk"),
    "-site": ("-participant__site__code", "closes_at", "pk"),
    "visit": ("visit__number", "closes_at", "pk"),
    "-visit": ("-visit__number", "closes_at", "pk"),
    "arm": ("participant__arm__code", "closes_at", "pk"),
    "-arm": ("-participant__arm__code", "closes_at", "pk"),
    "status": ("status", "closes_at", "pk"),
    "-status": ("-status", "closes_at", "pk"),
}


def participants_for_sites(sites: QuerySet[Site]) -> QuerySet[Participant]:
    return Participant.objects.filter(site__in=sites).select_related("site", "arm", "trial")


def answered_subquery() -> Subquery:
    """Questions answered on a form (declined counts: she answered it), as the tablet counts."""
    return Subquery(
        Response.objects.filter(assessment=OuterRef("pk"))
        .filter(Q(value__isnull=False) | Q(declined=True))
        .order_by()
        .values("assessment")
        .annotate(n=Count("pk"))
        .values("n"),
        output_field=IntegerField(),
    )


@dataclass(frozen=True)
class WorklistFilters:
    view: str = "open"
    site: str = ""
    visit: str = ""
    arm: str = ""
    status: str = ""
    #: a study id, or part of one
    q: str = ""
    #: a count of the compliance table (``surveys.trial.compliance.bucket_q``)
    bucket: str = ""
    sort: str = ""

    @property
    def tab(self) -> Tab:
        return TABS.get(self.view, TABS["open"])

    @property
    def order(self) -> str:
        return self.sort if self.sort in SORTS else self.tab.default_sort


def worklist(
    *,
    sites: QuerySet[Site],
    now: dt.datetime,
    filters: WorklistFilters | None = None,
    **legacy: str,
) -> QuerySet[Assessment]:
    """Assessments a coordinator should act on, filtered and sorted (one query per page).

    Each row carries ``answered`` (questions answered so far).
    """
    if filters is None:
        filters = WorklistFilters(**legacy)
    qs = (
        Assessment.objects.filter(participant__site__in=sites)
        .filter(filters.tab.rule(now))
        .select_related("participant__site", "participant__arm", "visit")
    )
    if filters.site:
        qs = qs.filter(participant__site__code=filters.site)
    if filters.visit:
        qs = qs.filter(visit__code=filters.visit)
    if filters.arm:
        qs = qs.filter(participant__arm__code=filters.arm)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.q.strip():
        qs = qs.filter(participant__study_id__icontains=filters.q.strip())
    if filters.bucket and (rule := bucket_q(filters.bucket, now)) is not None:
        qs = qs.filter(rule)
    qs = qs.annotate(
        answered=Coalesce(answered_subquery(), 0),
        contact_attempts=contact_attempts_subquery(),
        last_call=last_call_subquery(),
    )
    return qs.order_by(*SORTS[filters.order])


def worklist_counts(*, sites: QuerySet[Site], now: dt.datetime) -> dict[str, int]:
    """How many rows each worklist tab holds (one query)."""
    return Assessment.objects.filter(participant__site__in=sites).aggregate(
        **{tab.key: Count("pk", filter=tab.rule(now)) for tab in WORKLIST_TABS}
    )


def preserved_answers(participant: Participant) -> QuerySet[AnswerTap]:
    """Answers a tablet delivered after her assessment had closed: kept, never applied."""
    return (
        AnswerTap.objects.preserved()
        .filter(assessment__participant=participant)
        .select_related("assessment__visit")
        .order_by("assessment__visit__number", "item_code", "tapped_at", "pk")
    )


@dataclass(frozen=True)
class WorklistRow:
    """An assessment as a worklist row: how urgent, how far along, what can be done."""

    assessment: Assessment
    days_left: int | None
    days_until_open: int | None
    overdue: bool
    answered: int
    items: int
    #: contacts so far: the calls recorded (reminder messages will add theirs)
    contact_attempts: int = 0
    #: the outcome of the latest call, as a label ("" when none)
    last_call: str = ""

    @property
    def answerable(self) -> bool:
        return self.days_left is not None


def worklist_rows(assessments: list[Assessment], now: dt.datetime) -> list[WorklistRow]:
    rows = []
    for a in assessments:
        tz = a.participant.site.tzinfo
        rows.append(
            WorklistRow(
                assessment=a,
                days_left=a.days_left(now, tz),
                days_until_open=a.days_until_open(now, tz),
                overdue=a.is_overdue(now),
                answered=getattr(a, "answered", 0) or 0,
                items=len(instrumentation.items(a.instrument_version)),
                contact_attempts=getattr(a, "contact_attempts", 0) or 0,
                last_call=call_outcome_label(getattr(a, "last_call", "") or ""),
            )
        )
    return rows
