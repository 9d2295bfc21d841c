"""The compliance table: expected versus received assessments per visit and arm (or site).

Read by the coordinator's compliance page and frozen into every analysis
run's results. Two aggregate queries, whatever the trial's size.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, F, Q, QuerySet

from surveys.models import Assessment, Site
from surveys.models.assessment import answerable_q, due_q, missing_reason_q

S = Assessment.Status

MISSED_REASON_KEYS = [*Assessment.MissedReason.values, "unrecorded"]


@dataclass
class ComplianceRow:
    """One line of the compliance table."""

    visit_number: int
    visit: str
    group: str
    randomized: int = 0
    expected: int = 0
    received: int = 0
    partial: int = 0
    still_open: int = 0
    not_expected: int = 0
    missed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MISSED_REASON_KEYS, 0))

    @property
    def compliance(self) -> float | None:
        return self.received / self.expected if self.expected else None

    @property
    def completion(self) -> float | None:
        return self.received / self.randomized if self.randomized else None

    @property
    def missed_total(self) -> int:
        return sum(self.missed.values())

    def as_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "visit": self.visit,
            "group": self.group,
            "randomized": self.randomized,
            "expected": self.expected,
            "received": self.received,
            "partial": self.partial,
            "compliance_pct": None if self.compliance is None else round(100 * self.compliance, 1),
            "completion_pct": None if self.completion is None else round(100 * self.completion, 1),
            "still_open": self.still_open,
            "missed_total": self.missed_total,
        }
        row.update({f"missed_{key}": count for key, count in self.missed.items()})
        return row


def compliance_table(
    *, sites: QuerySet[Site], now: dt.datetime, by: str = "arm"
) -> list[ComplianceRow]:
    """Expected vs received per visit × arm (``by="arm"``) or visit × site (``by="site"``).

    * expected: the window has closed while she was on study (received,
      missed, or closed but not yet swept), plus any completed early;
    * received: the forms whose answers we hold, as the exports and analyses
      use them: completed (submitted by her, or as answered by staff) and
      partial (started, window closed before submission, answers kept; also a
      started form whose window closed but is not yet swept);
    * partial: how many of the received are partial;
    * still open: window open now, not completed;
    * not expected: she left the study before the window closed.
    Two aggregate queries, whatever the trial's size.
    """
    group_field = "participant__arm__code" if by == "arm" else "participant__site__code"
    partial = Q(status=S.PARTIAL) | due_q(S.PARTIAL, now)
    rows = (
        Assessment.objects.filter(participant__site__in=sites)
        .values(
            visit_number=F("visit__number"), visit_label=F("visit__label"), group=F(group_field)
        )
        .annotate(
            randomized=Count("pk"),
            received=Count("pk", filter=Q(status=S.COMPLETED) | partial),
            partial=Count("pk", filter=partial),
            missed_or_closed=Count("pk", filter=Q(status=S.MISSED) | due_q(S.MISSED, now)),
            still_open=Count("pk", filter=answerable_q(now)),
            not_expected=Count("pk", filter=Q(status=S.NOT_EXPECTED)),
            **{
                f"missed_{reason}": Count("pk", filter=Q(status=S.MISSED, missed_reason=reason))
                for reason in Assessment.MissedReason.values
            },
            missed_unrecorded=Count("pk", filter=missing_reason_q() | due_q(S.MISSED, now)),
        )
        .order_by("visit_number", "group")
    )
    table = []
    for row in rows:
        line = ComplianceRow(
            visit_number=row["visit_number"],
            visit=row["visit_label"],
            group=row["group"],
            randomized=row["randomized"],
            received=row["received"],
            partial=row["partial"],
            expected=row["received"] + row["missed_or_closed"],
            still_open=row["still_open"],
            not_expected=row["not_expected"],
        )
        line.missed = {key: row[f"missed_{key}"] for key in MISSED_REASON_KEYS}
        table.append(line)
    return table
