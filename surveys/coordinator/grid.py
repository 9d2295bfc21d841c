"""The status grid: one row per participant of her sites, one column per visit.

Where every participant stands at a glance (REDCap's record status
dashboard, Castor's visit grid): each cell is one assessment with its status
as an icon *and* words, the days left in an open window, the questions
answered so far in a form in progress. Filtered, searched and sorted in SQL
and paged on the server: a fixed number of queries whatever the number of
participants (the page of participants with its count, the page's
assessments, the visits).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.core.paginator import Page, Paginator
from django.db.models import Exists, F, OuterRef, QuerySet, Subquery

from surveys import instrumentation
from surveys.coordinator.selectors import TABS, WORKLIST_TABS, answered_subquery
from surveys.models import Assessment, Participant, Site, Visit

S = Assessment.Status
GRID_PAGE_SIZE = 50

#: Participant filters "has a form that is …", from the worklist's tabs (one rule each).
GRID_STATUS_FILTERS: Mapping[str, str] = {
    tab.key: f"Has a form: {tab.label.lower()}" for tab in WORKLIST_TABS if tab.key != "all"
}
GRID_SORTS: Mapping[str, tuple[str, ...]] = {
    "study_id": ("study_id", "pk"),
    "-study_id": ("-study_id", "-pk"),
    "site": ("site__code", "study_id"),
    "-site": ("-site__code", "study_id"),
    "arm": ("arm__code", "study_id"),
    "-arm": ("-arm__code", "study_id"),
    "randomized": ("randomized_on", "study_id"),
    "-randomized": ("-randomized_on", "study_id"),
    # the participant whose open window closes soonest first; no open window last
    "urgent": ("next_close", "study_id"),
    "-urgent": ("-next_close", "study_id"),
}

#: Icon shown with each status (never alone: the cell also says the status in words).
ICONS: Mapping[str, str] = {
    S.SCHEDULED: "○",
    S.OPEN: "●",
    S.IN_PROGRESS: "◐",
    S.COMPLETED: "✓",
    S.PARTIAL: "◑",
    S.MISSED: "✗",
    S.NOT_EXPECTED: "–",
}


@dataclass(frozen=True)
class GridFilters:
    site: str = ""
    arm: str = ""
    #: a key of GRID_STATUS_FILTERS
    status: str = ""
    #: "on", "off" or "" (both)
    study: str = ""
    q: str = ""
    sort: str = "study_id"

    @property
    def order(self) -> str:
        return self.sort if self.sort in GRID_SORTS else "study_id"


@dataclass(frozen=True)
class Cell:
    """One assessment in the grid."""

    assessment: Assessment
    icon: str
    label: str
    #: urgency or progress in words: "3 days left", "32 of 46 answered", "opens in 12 days"
    note: str
    overdue: bool
    needs_reason: bool


@dataclass
class GridRow:
    participant: Participant
    cells: list[Cell | None] = field(default_factory=list)


@dataclass
class Grid:
    visits: list[tuple[int, str]]
    page: Page[Participant]
    rows: list[GridRow]


def grid_participants(
    *, sites: QuerySet[Site], now: dt.datetime, filters: GridFilters
) -> QuerySet[Participant]:
    """Her participants matching *filters*, in the chosen order (one query per page)."""
    qs = Participant.objects.filter(site__in=sites).select_related("site", "arm")
    if filters.site:
        qs = qs.filter(site__code=filters.site)
    if filters.arm:
        qs = qs.filter(arm__code=filters.arm)
    if filters.study == "on":
        qs = qs.filter(off_study_on__isnull=True)
    elif filters.study == "off":
        qs = qs.filter(off_study_on__isnull=False)
    if filters.q.strip():
        qs = qs.filter(study_id__icontains=filters.q.strip())
    if filters.status in GRID_STATUS_FILTERS:
        forms = Assessment.objects.filter(participant=OuterRef("pk")).filter(
            TABS[filters.status].rule(now)
        )
        qs = qs.filter(Exists(forms))
    order = GRID_SORTS[filters.order]
    if "next_close" in order or "-next_close" in order:
        soonest = (
            Assessment.objects.filter(participant=OuterRef("pk"))
            .filter(TABS["open"].rule(now))
            .order_by("closes_at")
            .values("closes_at")[:1]
        )
        qs = qs.annotate(next_close=Subquery(soonest))
        soonest_first = order[0] == "next_close"
        key = F("next_close")
        return qs.order_by(
            key.asc(nulls_last=True) if soonest_first else key.desc(nulls_last=True), *order[1:]
        )
    return qs.order_by(*order)


def status_grid(
    *, sites: QuerySet[Site], now: dt.datetime, filters: GridFilters, page: str | int | None
) -> Grid:
    """One page of the grid (a fixed number of queries)."""
    participants = grid_participants(sites=sites, now=now, filters=filters)
    current = Paginator(participants, GRID_PAGE_SIZE).get_page(page)
    people = list(current.object_list)
    visits = list(
        Visit.objects.filter(
            trial__in=Participant.objects.filter(site__in=sites).values("trial_id")
        )
        .order_by("number")
        .values_list("number", "label")
        .distinct()
    )
    forms = (
        Assessment.objects.filter(participant__in=[p.pk for p in people])
        .select_related("visit")
        .annotate(answered=answered_subquery())
    )
    by_participant: dict[int, dict[int, Assessment]] = {}
    for form in forms:
        by_participant.setdefault(form.participant_id, {})[form.visit.number] = form
    rows = []
    for person in people:
        mine = by_participant.get(person.pk, {})
        rows.append(
            GridRow(
                participant=person,
                cells=[
                    _cell(mine[number], person, now) if number in mine else None
                    for number, _ in visits
                ],
            )
        )
    return Grid(visits=visits, page=current, rows=rows)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _cell(form: Assessment, person: Participant, now: dt.datetime) -> Cell:
    tz = person.site.tzinfo
    status = form.status
    label = form.get_status_display()
    note = ""
    days_left = form.days_left(now, tz)
    if status == S.IN_PROGRESS or status == S.PARTIAL:
        total = len(instrumentation.items(form.instrument_version))
        note = f"{getattr(form, 'answered', 0) or 0} of {total} answered"
    if days_left is not None:
        left = "last day" if days_left == 1 else f"{days_left} days left"
        note = f"{note}, {left}" if note else left
    elif form.due_transition(now) is not None:
        # closed or opened since the last sweep: say where it is going
        label = f"{label} (window {'opened' if form.due_transition(now) == S.OPEN else 'closed'})"
    elif (opens := form.days_until_open(now, tz)) is not None:
        note = "opens tomorrow" if opens == 1 else f"opens in {_plural(opens, 'day')}"
    elif status == S.MISSED and not form.missed_reason:
        note = "no reason yet"
    return Cell(
        assessment=form,
        icon=ICONS.get(status, "?"),
        label=label,
        note=note,
        overdue=form.is_overdue(now),
        needs_reason=form.needs_missed_reason,
    )
