"""The compliance table: where every form of every randomized participant stands, per visit.

Read by the coordinator's compliance page (and its CSV), frozen into every
analysis run's results, and behind the links from each count to the forms
it counts. One aggregate query, whatever the trial's size.

At a visit, each randomized participant's form is in exactly one **state**
(:data:`STATES`, each a SQL rule built from the status rules of
``surveys.models.assessment``, so a window that closed but has not been
swept yet counts where the sweep will put it):

=================  ==================================================================
received           completed (by her, or submitted as answered), or partial (started,
                   the window closed or she left before it was submitted: answers kept)
missed             the window closed while she was on study with nothing answered,
                   by recorded reason (or none recorded yet)
not expected       she left the study before the window closed without starting it:
                   death apart from the other off-study reasons
not yet due        the window has not opened
open now           the window is open and the form is not submitted
=================  ==================================================================

From these, as ``scoring.completion`` defines them (it does the arithmetic
and checks the states add up to the number randomized):

* **expected** = received + missed (on study when the window closed);
* **compliance** = received ÷ expected (the variable denominator);
* **completion** = received ÷ the randomized whose window has closed (the
  fixed denominator over closed windows: not-yet-due and open windows are
  left out, so a visit most participants have not reached yet does not look
  like a failure; once every window has closed it is received ÷ randomized).

Columns are data (:data:`COLUMNS`): to add one (e.g. received by mode), add
its SQL rule to :data:`EXTRA_COUNTS` and a :class:`Column`; the page, the
CSV and the links from each count follow.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from django.db.models import Count, F, Q, QuerySet

from scoring.completion import VisitCounts, completion
from surveys.models import Assessment, Participant, Site
from surveys.models.assessment import answerable_q, due_q, missing_reason_q

S = Assessment.Status
Reason = Assessment.MissedReason
DEATH = Participant.OffStudyReason.DEATH

#: Missed reasons in column order; "unrecorded" = missed with no reason recorded yet.
MISSED_REASON_KEYS = [*Reason.values, "unrecorded"]
MISSED_LABELS = {
    Reason.PATIENT_REFUSED: "Refused",
    Reason.TOO_ILL: "Too ill",
    Reason.MISSED_APPOINTMENT: "Missed visit",
    Reason.STAFF_OVERSIGHT: "Staff over\u00adsight",
    Reason.LANGUAGE_LITERACY: "Lan\u00adguage, lit\u00ader\u00adacy",
    Reason.OTHER: "Other",
    "unrecorded": "No reason yet",
}

QBuilder = Callable[[dt.datetime], Q]


def _missed(reason: str) -> QBuilder:
    if reason == "unrecorded":
        return lambda now: missing_reason_q() | due_q(S.MISSED, now)
    return lambda now: Q(status=S.MISSED, missed_reason=reason)


#: The states a form can be in (mutually exclusive; together: every randomized form).
STATES: dict[str, QBuilder] = {
    "completed": lambda now: Q(status=S.COMPLETED),
    "partial": lambda now: Q(status=S.PARTIAL) | due_q(S.PARTIAL, now),
    **{f"missed_{reason}": _missed(reason) for reason in MISSED_REASON_KEYS},
    "not_expected_death": lambda now: Q(status=S.NOT_EXPECTED, participant__off_study_reason=DEATH),
    "not_expected_other": lambda now: (
        Q(status=S.NOT_EXPECTED) & ~Q(participant__off_study_reason=DEATH)
    ),
    "not_yet_due": lambda now: Q(status=S.SCHEDULED, opens_at__gt=now),
    "still_open": lambda now: answerable_q(now) | due_q(S.OPEN, now),
}


def _received_by(mode: str) -> QBuilder:
    """Received forms answered in *mode* (a partial form keeps the mode its answers were
    given in; one with no recorded mode counts as the clinic tablet, the only mode before)."""
    modes = [mode, ""] if mode == Assessment.Mode.TABLET else [mode]
    return lambda now: (STATES["completed"](now) | STATES["partial"](now)) & Q(mode__in=modes)


#: The modes of administration, in column order.
MODES: tuple[str, ...] = tuple(Assessment.Mode.values)
#: Further counts shown beside the states (sub-counts of one, such as received by mode).
EXTRA_COUNTS: dict[str, QBuilder] = {f"received_{mode}": _received_by(mode) for mode in MODES}
#: Sums of states.
SUMS: dict[str, tuple[str, ...]] = {
    "received": ("completed", "partial"),
    "missed_total": tuple(f"missed_{reason}" for reason in MISSED_REASON_KEYS),
    "expected": ("completed", "partial", *(f"missed_{r}" for r in MISSED_REASON_KEYS)),
    "not_expected": ("not_expected_death", "not_expected_other"),
    "not_closed": ("not_yet_due", "still_open"),
    "randomized": tuple(STATES),
}


def bucket_q(key: str, now: dt.datetime) -> Q | None:
    """The SQL rule of the forms a count counts (a state, an extra count or a sum); None if
    *key* is not a count. The links from the compliance table filter the worklist with it."""
    if key in STATES:
        return STATES[key](now)
    if key in EXTRA_COUNTS:
        return EXTRA_COUNTS[key](now)
    if key in SUMS:
        rule = Q(pk__in=[])
        for state in SUMS[key]:
            rule |= STATES[state](now)
        return rule
    return None


def bucket_label(key: str) -> str:
    """A count's name in words ("Missed, by reason: Too ill")."""
    column = next((c for c in COLUMNS if c.key == key), None)
    if column is None:
        return key
    label = f"{column.group}: {column.label}" if column.group else column.label
    return label.replace("\u00ad", "")


@dataclass(frozen=True)
class Column:
    """One column of the table: a count (linked to its forms) or a rate."""

    key: str
    label: str
    #: the header over several columns this one sits under ("" for none)
    group: str = ""
    kind: Literal["count", "rate"] = "count"
    #: a longer description (the header's title and the page's legend)
    help: str = ""


COLUMNS: tuple[Column, ...] = (
    Column("randomized", "Random\u00adized", help="Every randomized participant: one form each"),
    Column("not_yet_due", "Not yet due", "Window not closed", help="The window has not opened"),
    Column("still_open", "Open now", "Window not closed", help="Open, not yet submitted"),
    Column("not_expected_death", "Died", "Not expected", help="Died before the window closed"),
    Column(
        "not_expected_other",
        "Off study",
        "Not expected",
        help="Left the study for another reason before the window closed",
    ),
    Column("expected", "Ex\u00adpected", help="On study when the window closed: received + missed"),
    Column("received", "All", "Received", help="Completed or partially answered"),
    Column(
        "partial",
        "of which par\u00adtial",
        "Received",
        help="Started, window closed before it was submitted (answers kept)",
    ),
    Column("received_tablet", "Tablet", "Received, by mode", help="Answered on the clinic tablet"),
    Column("received_home", "Home", "Received, by mode", help="Answered at home by secure link"),
    Column("received_phone", "Phone", "Received, by mode", help="Answered by phone with staff"),
    *(
        Column(f"missed_{key}", MISSED_LABELS[key], "Missed, by reason")
        for key in MISSED_REASON_KEYS
    ),
    Column("missed_total", "All", "Missed, by reason", help="Every missed form"),
    Column(
        "compliance_pct",
        "Com\u00adpli\u00adance",
        kind="rate",
        help="Received ÷ expected",
    ),
    Column(
        "completion_pct",
        "Com\u00adple\u00adtion",
        kind="rate",
        help="Received ÷ randomized whose window has closed",
    ),
)

Grouping = Literal["arm", "site", "arm_site"]
GROUPINGS: dict[str, str] = {
    "arm": "Per visit and arm",
    "site": "Per visit and site",
    "arm_site": "Per visit, arm and site",
}
_GROUP_FIELDS: dict[str, tuple[str, ...]] = {
    "arm": ("arm",),
    "site": ("site",),
    "arm_site": ("arm", "site"),
}


@dataclass
class ComplianceRow:
    """One line of the compliance table: a visit × group, a visit's total, or all visits."""

    visit_number: int
    visit: str
    visit_code: str = ""
    arm: str = ""
    site: str = ""
    #: "visit": a visit × group; "visit_total": one visit, every group; "total": every visit
    level: Literal["group", "visit_total", "total"] = "group"
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def group(self) -> str:
        if self.level != "group":
            return "All"
        return " · ".join(part for part in (self.arm, self.site) if part)

    def count(self, key: str) -> int:
        if key in SUMS:
            return sum(self.counts.get(state, 0) for state in SUMS[key])
        return self.counts.get(key, 0)

    # the numbers other code reads by name
    @property
    def randomized(self) -> int:
        return self.count("randomized")

    @property
    def expected(self) -> int:
        return self.count("expected")

    @property
    def received(self) -> int:
        return self.count("received")

    @property
    def partial(self) -> int:
        return self.count("partial")

    @property
    def still_open(self) -> int:
        return self.count("still_open")

    @property
    def not_yet_due(self) -> int:
        return self.count("not_yet_due")

    @property
    def not_expected(self) -> int:
        return self.count("not_expected")

    @property
    def missed(self) -> dict[str, int]:
        return {key: self.count(f"missed_{key}") for key in MISSED_REASON_KEYS}

    @property
    def missed_total(self) -> int:
        return self.count("missed_total")

    def rates(self) -> tuple[float | None, float | None]:
        """(compliance, completion) through ``scoring.completion`` (which checks the counts)."""
        closed = VisitCounts(
            visit=self.visit,
            arm=self.group,
            randomized=self.randomized - self.count("not_closed"),
            received=self.received,
            died=self.count("not_expected_death"),
            off_study=self.count("not_expected_other"),
            window_open=0,
            missed=self.missed,
        )
        result = completion(closed)
        return _rate(result.variable_rate), _rate(result.fixed_rate)

    @property
    def compliance(self) -> float | None:
        return self.rates()[0]

    @property
    def completion(self) -> float | None:
        return self.rates()[1]

    def value(self, column: Column) -> int | float | None:
        if column.key == "compliance_pct":
            return _pct(self.compliance)
        if column.key == "completion_pct":
            return _pct(self.completion)
        return self.count(column.key)

    def as_dict(self) -> dict[str, Any]:
        """The row for the CSV and the analysis runs' frozen results."""
        row: dict[str, Any] = {
            "visit": self.visit,
            "group": self.group,
            "arm": self.arm if self.level == "group" else "",
            "site": self.site if self.level == "group" else "",
            "level": self.level,
        }
        row.update({column.key: self.value(column) for column in COLUMNS})
        row["not_expected"] = self.not_expected
        row.update({key: self.count(key) for key in EXTRA_COUNTS})
        return row


def _rate(value: float) -> float | None:
    return None if math.isnan(value) else value


def _pct(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)


def compliance_counts(
    *, sites: QuerySet[Site], now: dt.datetime, by: str = "arm"
) -> list[dict[str, Any]]:
    """One aggregate query: every state's count per visit × group."""
    group_fields = _GROUP_FIELDS.get(by, _GROUP_FIELDS["arm"])
    names = {"arm": F("participant__arm__code"), "site": F("participant__site__code")}
    counts = {**STATES, **EXTRA_COUNTS}
    return list(
        Assessment.objects.filter(participant__site__in=sites)
        .values(
            visit_number=F("visit__number"),
            visit_label=F("visit__label"),
            visit_code=F("visit__code"),
            **{name: names[name] for name in group_fields},
        )
        .annotate(**{key: Count("pk", filter=rule(now)) for key, rule in counts.items()})
        .order_by("visit_number", *group_fields)
    )


def compliance_table(
    *, sites: QuerySet[Site], now: dt.datetime, by: str = "arm", totals: bool = False
) -> list[ComplianceRow]:
    """Per visit × arm (``by="arm"``), × site (``"site"``) or × arm × site (``"arm_site"``).

    With *totals*, each visit is followed by its total over the groups and
    the table ends with the total over every visit. One query.
    """
    keys = [*STATES, *EXTRA_COUNTS]
    rows = [
        ComplianceRow(
            visit_number=raw["visit_number"],
            visit=raw["visit_label"],
            visit_code=raw["visit_code"],
            arm=raw.get("arm") or "",
            site=raw.get("site") or "",
            counts={key: raw[key] for key in keys},
        )
        for raw in compliance_counts(sites=sites, now=now, by=by)
    ]
    return with_totals(rows) if totals else rows


def _sum(rows: Iterable[ComplianceRow]) -> dict[str, int]:
    total: dict[str, int] = {}
    for row in rows:
        for key, n in row.counts.items():
            total[key] = total.get(key, 0) + n
    return total


def with_totals(rows: list[ComplianceRow]) -> list[ComplianceRow]:
    """*rows* with each visit's total after its groups and the total of every visit last."""
    out: list[ComplianceRow] = []
    by_visit: dict[int, list[ComplianceRow]] = {}
    for row in rows:
        by_visit.setdefault(row.visit_number, []).append(row)
    for number, group in by_visit.items():
        out.extend(group)
        out.append(
            ComplianceRow(
                visit_number=number,
                visit=group[0].visit,
                visit_code=group[0].visit_code,
                level="visit_total",
                counts=_sum(group),
            )
        )
    if rows:
        out.append(
            ComplianceRow(visit_number=0, visit="All visits", level="total", counts=_sum(rows))
        )
    return out


def link_filters(row: ComplianceRow) -> Mapping[str, str]:
    """The worklist filters that select the forms of *row* (with ``bucket`` for a count)."""
    filters = {"visit": row.visit_code, "arm": row.arm, "site": row.site}
    return {key: value for key, value in filters.items() if value}
