"""Questionnaire completion by visit and arm, with both denominators.

Every randomised participant is, at a given visit, in exactly one of these
states: the form was received; the participant died before the visit's
window closed; went off study for another reason before it closed; the
window has not closed yet; or the form was missed (window closed, alive, on
study), for a recorded reason. From those counts:

* **completion, fixed denominator** = received / randomised: what share of
  the trial's participants contributed a form at this visit;
* **completion, variable denominator** = received / expected, expected =
  randomised - died - off study - window still open: what share of the
  participants who could have completed the form did (often called
  compliance).

Deaths and participants off study are never counted as missing forms; the
window-still-open ones are neither received nor missed. Pure arithmetic:
the Django side counts, this module checks the counts add up and divides.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import pandas as pd


@dataclass(frozen=True)
class VisitCounts:
    """Counts of randomised participants by state at one visit in one arm (or overall)."""

    visit: str
    arm: str
    randomized: int
    received: int
    died: int = 0
    off_study: int = 0
    window_open: int = 0
    #: Missed forms (window closed, alive, on study) by reason.
    missed: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Completion:
    """Completion at one visit in one arm; see the module docstring."""

    visit: str
    arm: str
    randomized: int
    died: int
    off_study: int
    window_open: int
    expected: int
    received: int
    missed_total: int
    missed: Mapping[str, int]
    #: received / randomized
    fixed_rate: float
    #: received / expected (NaN when nobody is expected yet)
    variable_rate: float

    @property
    def fixed(self) -> tuple[int, int]:
        """(numerator, denominator) of the fixed-denominator completion."""
        return self.received, self.randomized

    @property
    def variable(self) -> tuple[int, int]:
        """(numerator, denominator) of the variable-denominator completion."""
        return self.received, self.expected


def completion(counts: VisitCounts) -> Completion:
    """Both completion rates for one visit x arm; ValueError if the counts do not add up."""
    named = {
        "randomized": counts.randomized,
        "received": counts.received,
        "died": counts.died,
        "off_study": counts.off_study,
        "window_open": counts.window_open,
        **{f"missed[{reason}]": n for reason, n in counts.missed.items()},
    }
    bad = [k for k, v in named.items() if isinstance(v, bool) or not isinstance(v, int) or v < 0]
    if bad:
        raise ValueError(
            f"{counts.visit}/{counts.arm}: counts must be whole numbers >= 0: {', '.join(bad)}"
        )
    missed_total = sum(counts.missed.values())
    accounted = counts.received + missed_total + counts.died + counts.off_study + counts.window_open
    if accounted != counts.randomized:
        raise ValueError(
            f"{counts.visit}/{counts.arm}: received {counts.received} + missed {missed_total} + "
            f"died {counts.died} + off study {counts.off_study} + window open "
            f"{counts.window_open} = {accounted}, not the {counts.randomized} randomised; "
            "each participant must be in exactly one state"
        )
    expected = counts.randomized - counts.died - counts.off_study - counts.window_open
    return Completion(
        visit=counts.visit,
        arm=counts.arm,
        randomized=counts.randomized,
        died=counts.died,
        off_study=counts.off_study,
        window_open=counts.window_open,
        expected=expected,
        received=counts.received,
        missed_total=missed_total,
        missed=MappingProxyType(dict(counts.missed)),
        fixed_rate=counts.received / counts.randomized if counts.randomized else math.nan,
        variable_rate=counts.received / expected if expected else math.nan,
    )


COMPLETION_COLUMNS: tuple[str, ...] = (
    "visit",
    "arm",
    "randomized",
    "died",
    "off_study",
    "window_open",
    "expected",
    "received",
    "missed_total",
    "fixed_rate",
    "variable_rate",
)


def completion_table(counts: Iterable[VisitCounts]) -> pd.DataFrame:
    """One row per visit x arm: :data:`COMPLETION_COLUMNS`, then ``missed_<reason>``.

    Reasons appear as columns in the order first met; a reason absent from a
    row counts 0 there. Rates are proportions (0-1), NaN when undefined.
    """
    results = [completion(c) for c in counts]
    reasons = list(dict.fromkeys(r for c in results for r in c.missed))
    rows = []
    for c in results:
        row: dict[str, object] = {col: getattr(c, col) for col in COMPLETION_COLUMNS}
        row.update({f"missed_{r}": int(c.missed.get(r, 0)) for r in reasons})
        rows.append(row)
    return pd.DataFrame(rows, columns=[*COMPLETION_COLUMNS, *(f"missed_{r}" for r in reasons)])
