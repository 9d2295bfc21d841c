"""Time to deterioration (TTD) of a FACT-B score, from longitudinal scores.

A *definition* (:class:`Deterioration`) names everything that decides who has
an event and when:

* the measure (TOI, FACTB, FACTG, BCS) and the threshold: a decline from the
  participant's own baseline score of at least the minimally important
  difference (MID). The defaults are the lower ends of Eton et al. (2004)'s
  ranges (:data:`MID_RANGES`): BCS 2, TOI 5, FACT-G 5, FACT-B 7 points
  (``bound="upper"``: 3, 6, 6, 8). Because prorated scores are fractions, a
  decline counts when it is at least ``threshold - 1e-9`` (a 5-point decline
  computed in floating point can come out as 4.999999999999998);
* confirmation: unconfirmed (the first deteriorated assessment is the event)
  or confirmed (the next available assessment must also be deteriorated,
  i.e. still at least the MID below baseline; the event time is the first of
  the two). A deterioration at a participant's last assessment cannot be
  confirmed and is not an event (see death below);
* death: counted as an event (at the day of death, when no deterioration
  came first, however long after the last assessment unless
  ``death_window`` limits it) or censored (the participant is censored at
  the last assessment, like everyone else without an event).

What the rules do with imperfect data:

* **Missing baseline score**: the participant is excluded (no reference to
  deteriorate from) and counted in ``excluded`` with the reason.
* **Intermittent missed visits** are skipped: the event time is the first
  assessment at which the deterioration is *observed*, and "the next
  assessment" for confirmation is the next one available.
* **Censoring** is at the last available assessment (the time of the last
  non-missing follow-up score; time 0 for a participant with none).
* **Off study** (``off_study_day``): assessments after it are not used.
  An assessment after the participant's death is an input error.

Time is in days since randomisation when a day column is given
(``day_col``), otherwise in months from the visit labels (``month6`` is
6 months, ``week12`` 84 / 30.4375 months, ``baseline`` 0); death and
off-study days are converted to months (30.4375 days) in that case.

Analysis (:func:`analyse`): Kaplan-Meier per arm with the median and its
95% interval, the log-rank test and the Cox hazard ratio of arm a to arm b
(Efron ties), all as R's survival package computes them
(:mod:`scoring.survival`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from scoring.compare import MID_TOLERANCE, CompareInputError, prepare_scores, visit_sort_key
from scoring.survival import CoxResult, KaplanMeier, LogRank, cox_ph, kaplan_meier, logrank

#: Eton et al. (2004) MID ranges for FACT-B (points).
MID_RANGES: Mapping[str, tuple[float, float]] = {
    "BCS": (2.0, 3.0),
    "TOI": (5.0, 6.0),
    "FACTG": (5.0, 6.0),
    "FACTB": (7.0, 8.0),
}
DAYS_PER_MONTH = 30.4375
#: Allowance for floating-point rounding when comparing a decline with the MID.
DECLINE_TOLERANCE = MID_TOLERANCE

DeathRule = Literal["event", "censor"]
Bound = Literal["lower", "upper"]


@dataclass(frozen=True)
class Deterioration:
    """A named deterioration definition (see the module docstring)."""

    measure: str
    threshold: float
    confirmed: bool = False
    death: DeathRule = "censor"
    #: With ``death="event"``: a death more than this long after the last
    #: assessment (in the analysis' time unit) is censored at the last
    #: assessment instead. None: no limit.
    death_window: float | None = None
    name: str = ""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.threshold) and self.threshold > 0):
            raise ValueError(f"the threshold must be a positive number, not {self.threshold!r}")
        if self.death not in ("event", "censor"):
            raise ValueError("death must be 'event' or 'censor'")
        if not self.name:
            object.__setattr__(self, "name", self.default_name())

    def default_name(self) -> str:
        threshold = f"{self.threshold:g}"
        parts = [f"{self.measure} decline >= {threshold}"]
        parts.append("confirmed" if self.confirmed else "unconfirmed")
        parts.append("death = event" if self.death == "event" else "death censored")
        if self.death == "event" and self.death_window is not None:
            parts.append(f"within {self.death_window:g} of the last assessment")
        return ", ".join(parts)


def definition(
    measure: str,
    *,
    bound: Bound = "lower",
    threshold: float | None = None,
    confirmed: bool = False,
    death: DeathRule = "censor",
    death_window: float | None = None,
    name: str = "",
) -> Deterioration:
    """A definition with the Eton et al. MID for ``measure`` (or an explicit ``threshold``)."""
    if threshold is None:
        if measure not in MID_RANGES:
            raise ValueError(
                f"no published MID for {measure!r} (known: {', '.join(MID_RANGES)}); "
                "give threshold="
            )
        low, high = MID_RANGES[measure]
        threshold = low if bound == "lower" else high
    return Deterioration(
        measure=measure,
        threshold=float(threshold),
        confirmed=confirmed,
        death=death,
        death_window=death_window,
        name=name,
    )


#: Ready-made definitions by name: "TOI-5" (unconfirmed, death censored),
#: "TOI-5-confirmed", "TOI-5-or-death" (death an event), and the same for
#: BCS-2, FACTG-5, FACTB-7.
DEFINITIONS: Mapping[str, Deterioration] = {
    name: d
    for m, (low, _) in MID_RANGES.items()
    for name, d in (
        (f"{m}-{low:g}", definition(m, name=f"{m}-{low:g}")),
        (f"{m}-{low:g}-confirmed", definition(m, confirmed=True, name=f"{m}-{low:g}-confirmed")),
        (f"{m}-{low:g}-or-death", definition(m, death="event", name=f"{m}-{low:g}-or-death")),
    )
}

TIME_COLUMNS = ("participant_id", "arm", "baseline", "time", "event", "reason", "n_followup")


@dataclass(frozen=True)
class TimesToEvent:
    """Per-participant times for one definition.

    ``frame`` has :data:`TIME_COLUMNS`: ``event`` 1/0, ``reason``
    ``"deterioration"``, ``"death"`` or ``"censored"``, ``n_followup`` the
    follow-up assessments used. ``excluded`` lists the participants left out
    (column ``reason``).
    """

    definition: Deterioration
    frame: pd.DataFrame
    excluded: pd.DataFrame
    unit: Literal["days", "months"]
    arms: tuple[str, str]
    notes: tuple[str, ...] = field(default=())


def _numbers(column: pd.Series, what: str) -> np.ndarray:
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
    bad = column.notna().to_numpy() & ~np.isfinite(values)
    if bad.any():
        shown = ", ".join(repr(v) for v in column[bad].head(5))
        raise CompareInputError(f"{what} must be numbers; found {shown}")
    return values


def derive_times(
    scores: pd.DataFrame,
    deterioration: Deterioration,
    *,
    participants: pd.DataFrame | None = None,
    id_col: str = "participant_id",
    arm_col: str = "arm",
    visit_col: str = "visit",
    baseline: str = "baseline",
    day_col: str | None = None,
    death_col: str = "death_day",
    off_study_col: str = "off_study_day",
) -> TimesToEvent:
    """Per-participant time and event for ``deterioration`` (rules: module docstring).

    ``scores`` is the long score table of :func:`scoring.compare.compare`
    (plus ``day_col``, the assessment day since randomisation, when given).
    ``participants`` (optional) has one row per participant with ``id_col``
    and, when known, ``death_col`` and ``off_study_col`` (days since
    randomisation; blank = not dead / not off study).
    """
    measure = deterioration.measure
    prepared = prepare_scores(
        scores,
        id_col=id_col,
        arm_col=arm_col,
        visit_col=visit_col,
        baseline=baseline,
        measures=[measure],
        require_baseline=True,
    )
    frame = prepared.frame
    if day_col is not None:
        if day_col not in scores.columns:
            raise CompareInputError(f"day column {day_col!r} not found")
        times = _numbers(scores[day_col].reset_index(drop=True), f"column {day_col!r}")
        unit: Literal["days", "months"] = "days"
        per_day = 1.0
    else:
        months = {}
        for v in prepared.visits:
            if v == prepared.baseline:
                months[v] = 0.0
                continue
            kind, days, _ = visit_sort_key(v)
            if kind != 0:
                raise CompareInputError(
                    f"visit {v!r} has no time in its label (like month6 or week12); "
                    "give the assessment days (day_col)"
                )
            months[v] = days / DAYS_PER_MONTH
        times = frame[prepared.visit_col].map(months).to_numpy(dtype=np.float64)
        unit = "months"
        per_day = 1.0 / DAYS_PER_MONTH

    death: dict[str, float] = {}
    off: dict[str, float] = {}
    if participants is not None:
        if id_col not in participants.columns:
            raise CompareInputError(f"the participants table has no {id_col!r} column")
        ids = participants[id_col].astype(str).to_numpy()
        for col, target in ((death_col, death), (off_study_col, off)):
            if col in participants.columns:
                given = _numbers(participants[col], f"column {col!r}")
                target.update(
                    {i: d * per_day for i, d in zip(ids, given, strict=True) if np.isfinite(d)}
                )

    values = frame[measure].to_numpy(dtype=np.float64)
    is_base = (frame[prepared.visit_col] == prepared.baseline).to_numpy()
    ids = frame[prepared.id_col].to_numpy()
    arms = frame[prepared.arm_col].to_numpy()
    work = pd.DataFrame({"id": ids, "arm": arms, "time": times, "value": values, "base": is_base})
    bad_time = ~work["base"] & work["value"].notna() & work["time"].isna()
    if bad_time.any():
        raise CompareInputError(
            f"{int(bad_time.sum())} follow-up score(s) have no assessment day in {day_col!r}"
        )

    # One pass over all rows, per participant by group codes (no per-participant Python).
    codes, uniques = pd.factorize(work["id"])  # participants in order of first appearance
    n_ids = len(uniques)
    arm_of = np.empty(n_ids, dtype=object)
    arm_of[codes[::-1]] = work["arm"].to_numpy()[::-1]  # the first row's arm
    value = work["value"].to_numpy(dtype=np.float64)
    time_all = work["time"].to_numpy(dtype=np.float64)
    at_base = work["base"].to_numpy(dtype=bool) & ~np.isnan(value)
    base_of = np.full(n_ids, np.nan)
    base_of[codes[at_base][::-1]] = value[at_base][::-1]  # the first baseline score
    died = np.array([death.get(str(u), np.nan) for u in uniques], dtype=np.float64)
    stop = np.array([off.get(str(u), np.nan) for u in uniques], dtype=np.float64)

    follow = ~work["base"].to_numpy(dtype=bool) & ~np.isnan(value) & ~np.isnan(base_of[codes])
    after_death = follow & (time_all > died[codes])
    if after_death.any():
        pid = uniques[codes[np.flatnonzero(after_death)[0]]]
        raise CompareInputError(f"participant {pid} has an assessment after their death")
    follow &= ~(time_all > stop[codes])  # off study: later assessments not used
    rows = np.flatnonzero(follow)
    rows = rows[np.lexsort((time_all[rows], codes[rows]))]  # by participant, then time
    who = codes[rows]
    t = time_all[rows]
    worse = (base_of[who] - value[rows]) >= deterioration.threshold - DECLINE_TOLERANCE
    if deterioration.confirmed:
        same_next = np.r_[who[1:] == who[:-1], False]
        hit = worse & same_next & np.r_[worse[1:], False]
    else:
        hit = worse
    first_hit = np.full(n_ids, np.nan)
    hit_rows = np.flatnonzero(hit)
    first_hit[who[hit_rows][::-1]] = t[hit_rows][::-1]
    n_followup = np.bincount(who, minlength=n_ids)
    last = np.zeros(n_ids)
    np.maximum.at(last, who, t)  # times sorted within participant: the last one
    last = np.maximum(last, 0.0)

    has_event = ~np.isnan(first_hit)
    death_counts = ~has_event & ~np.isnan(died) & (deterioration.death == "event")
    if deterioration.death_window is not None:
        death_counts &= died - last <= deterioration.death_window
    time_out = np.where(has_event, first_hit, np.where(death_counts, died, last))
    reason = np.where(has_event, "deterioration", np.where(death_counts, "death", "censored"))
    keep = ~np.isnan(base_of)
    result = pd.DataFrame(
        {
            "participant_id": uniques[keep],
            "arm": arm_of[keep],
            "baseline": base_of[keep],
            "time": time_out[keep],
            "event": (has_event | death_counts)[keep].astype(np.int64),
            "reason": reason[keep],
            "n_followup": n_followup[keep].astype(np.int64),
        },
        columns=list(TIME_COLUMNS),
    )
    excluded = pd.DataFrame(
        {
            "participant_id": uniques[~keep],
            "arm": arm_of[~keep],
            "reason": "no baseline score",
        },
        columns=["participant_id", "arm", "reason"],
    )
    notes = []
    if participants is None:
        notes.append("no death or off-study information: every participant without a "
                     "deterioration is censored at the last assessment")  # fmt: skip
    return TimesToEvent(
        definition=deterioration,
        frame=result,
        excluded=excluded,
        unit=unit,
        arms=prepared.arms,
        notes=tuple(notes),
    )


TTD_COLUMNS: tuple[str, ...] = (
    "definition",
    "measure",
    "unit",
    "kind",
    "arm",
    "n",
    "events",
    "estimate",
    "ci_low",
    "ci_high",
    "statistic",
    "p_value",
    "excluded",
    "note",
)


@dataclass(frozen=True)
class TTDResult:
    """Kaplan-Meier per arm, log-rank test and Cox hazard ratio (arm a / arm b)."""

    times: TimesToEvent
    km: Mapping[str, KaplanMeier]
    logrank: LogRank | None
    cox: CoxResult | None

    def table(self) -> pd.DataFrame:
        """Long table (:data:`TTD_COLUMNS`): per-arm medians, then the HR and the log-rank test."""
        t = self.times
        arm_a, arm_b = t.arms
        d = t.definition
        notes = list(t.notes)
        if self.cox is not None and not self.cox.converged and self.cox.message:
            notes.append(self.cox.message)
        note = "; ".join(notes)
        rows: list[dict[str, object]] = []
        nan = math.nan

        def row(kind: str, arm: str, n: int, events: int, estimate: float, ci: tuple[float, float],
                statistic: float, p_value: float) -> None:  # fmt: skip
            rows.append(
                {
                    "definition": d.name,
                    "measure": d.measure,
                    "unit": t.unit,
                    "kind": kind,
                    "arm": arm,
                    "n": n,
                    "events": events,
                    "estimate": estimate,
                    "ci_low": ci[0],
                    "ci_high": ci[1],
                    "statistic": statistic,
                    "p_value": p_value,
                    "excluded": len(t.excluded),
                    "note": note,
                }
            )

        for arm in (arm_a, arm_b):
            km = self.km.get(arm)
            if km is None:
                row("median", arm, 0, 0, nan, (nan, nan), nan, nan)
            else:
                row("median", arm, km.n, km.events, km.median,
                    (km.median_low, km.median_high), nan, nan)  # fmt: skip
        n = len(t.frame)
        events = int(t.frame["event"].sum())
        if self.cox is not None:
            c = self.cox
            row("hazard_ratio", f"{arm_a} / {arm_b}", n, events, c.hr, (c.hr_low, c.hr_high),
                c.z, c.p_value)  # fmt: skip
        if self.logrank is not None:
            lr = self.logrank
            row("logrank", f"{arm_a} vs {arm_b}", n, events, nan, (nan, nan), lr.chisq, lr.p_value)
        table = pd.DataFrame(rows, columns=list(TTD_COLUMNS))
        table["n"] = table["n"].astype(np.int64)
        table["events"] = table["events"].astype(np.int64)
        return table


def analyse(times: TimesToEvent, conf_level: float = 0.95) -> TTDResult:
    """Kaplan-Meier per arm, log-rank and Cox for derived times."""
    frame = times.frame
    km: dict[str, KaplanMeier] = {}
    for arm in times.arms:
        part = frame.loc[frame["arm"] == arm]
        if len(part):
            km[arm] = kaplan_meier(part["time"], part["event"], conf_level)
    in_a = (frame["arm"] == times.arms[0]).to_numpy()
    both = bool(in_a.any() and (~in_a).any())
    has_events = bool(frame["event"].any())
    lr = logrank(frame["time"], frame["event"], in_a) if both and has_events else None
    cox = cox_ph(frame["time"], frame["event"], in_a, conf_level) if both else None
    return TTDResult(times=times, km=km, logrank=lr, cox=cox)


def time_to_deterioration(
    scores: pd.DataFrame,
    deterioration: Deterioration | str,
    *,
    participants: pd.DataFrame | None = None,
    id_col: str = "participant_id",
    arm_col: str = "arm",
    visit_col: str = "visit",
    baseline: str = "baseline",
    day_col: str | None = None,
    death_col: str = "death_day",
    off_study_col: str = "off_study_day",
    conf_level: float = 0.95,
) -> TTDResult:
    """Derive times (:func:`derive_times`) and analyse them (:func:`analyse`).

    ``deterioration`` is a :class:`Deterioration` or the name of one in
    :data:`DEFINITIONS` (e.g. ``"TOI-5-confirmed"``).
    """
    if isinstance(deterioration, str):
        if deterioration not in DEFINITIONS:
            raise ValueError(
                f"unknown definition {deterioration!r}; known: {', '.join(DEFINITIONS)}"
            )
        deterioration = DEFINITIONS[deterioration]
    times = derive_times(
        scores,
        deterioration,
        participants=participants,
        id_col=id_col,
        arm_col=arm_col,
        visit_col=visit_col,
        baseline=baseline,
        day_col=day_col,
        death_col=death_col,
        off_study_col=off_study_col,
    )
    return analyse(times, conf_level)


def ttd_table(results: Sequence[TTDResult]) -> pd.DataFrame:
    """Several definitions' tables, one after the other."""
    if not results:
        return pd.DataFrame(columns=list(TTD_COLUMNS))
    return pd.concat([r.table() for r in results], ignore_index=True)
