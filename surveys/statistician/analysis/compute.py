"""The statistics of a run, from a snapshot table: calls ``scoring/`` and nothing else.

No Django here: given the same snapshot and parameters, :func:`analyse`
returns the same tables, bit for bit (it is what makes a re-run on a frozen
snapshot reproduce its numbers).

Besides the paper's analysis plan (Wilcoxon at each visit, t tests on
change, unadjusted; ``scoring.compare``, which adds Holm-adjusted p-values)
every run gives what the SISAQOL-IMI recommendations ask of a PRO analysis
(docs/analysis-runs.md): completion with both denominators and the reasons
(``scoring.completion``), a repeated-measures model over all available
data (``scoring.mmrm``), two missing-data sensitivity analyses
(``scoring.sensitivity``) and time to deterioration by named definitions
(``scoring.deterioration``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from scoring.compare import CompareInputError, compare
from scoring.completion import VisitCounts, completion_table
from scoring.deterioration import DAYS_PER_MONTH, Deterioration, time_to_deterioration, ttd_table
from scoring.extras import ETON_MIDS, MAR_NOTE, mid_responders, mixed_model, summary_by_visit
from scoring.mmrm import MMRM_NOTE, MMRMResult, mmrm
from scoring.reml import ModelError
from scoring.sensitivity import (
    SENSITIVITY_COLUMNS,
    TIPPING_COLUMNS,
    Sensitivity,
    tipping_point,
)
from scoring.survival import cox_ph, kaplan_meier

ID, ARM, VISIT = "participant_id", "arm", "visit"
#: Errors a statistic raises on data it cannot analyse: reported as a warning, the run goes on.
MODEL_ERRORS: tuple[type[Exception], ...] = (
    CompareInputError,
    ModelError,
    ValueError,
    np.linalg.LinAlgError,
)
MISSING_DATA_DEFINITION = (
    "A form is missing when it was expected and not received: the participant was alive and "
    "on study when the visit window closed (by the data cut-off) and no form was completed in "
    "the window. Forms of participants who had died or left the study before the window closed "
    "are not missing and are counted apart; windows still open at the cut-off are not due. A "
    "received form whose score cannot be computed (too few items answered) counts as received "
    "for completion and is a blank score in the analyses."
)
SENSITIVITY_COLUMNS_RUN: tuple[str, ...] = (*SENSITIVITY_COLUMNS, "n_not_expected")
TIPPING_COLUMNS_RUN: tuple[str, ...] = ("measure", "visit", *TIPPING_COLUMNS)
COMPLETION_COLUMNS_RUN: tuple[str, ...] = (
    "visit",
    "group",
    "randomized",
    "not_due",
    "due",
    "died",
    "off_study",
    "expected",
    "received",
    "missed_total",
    "fixed_rate",
    "variable_rate",
)
SURVIVAL_COLUMNS: tuple[str, ...] = (
    "kind",
    "arm",
    "n",
    "events",
    "estimate",
    "ci_low",
    "ci_high",
    "p_value",
)


@dataclass
class Analysis:
    compare: pd.DataFrame
    summary: pd.DataFrame
    mid: pd.DataFrame | None
    mixed: pd.DataFrame | None
    measures: tuple[str, ...]
    mmrm: pd.DataFrame | None = None
    sensitivity: pd.DataFrame | None = None
    tipping: pd.DataFrame | None = None
    ttd: pd.DataFrame | None = None
    completion: pd.DataFrame | None = None
    completion_site: pd.DataFrame | None = None
    survival: pd.DataFrame | None = None
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


class _Clock:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    def run(self, name: str, work: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        try:
            return work()
        finally:
            self.timings[f"{name}_s"] = self.timings.get(f"{name}_s", 0.0) + (
                time.perf_counter() - t0
            )


def received_scores(snapshot: pd.DataFrame) -> pd.DataFrame:
    """The snapshot's rows with a form received: the score table the statistics take."""
    if "state" not in snapshot.columns:  # format 1 held only received forms
        return snapshot
    return snapshot.loc[snapshot["state"] == "received"].reset_index(drop=True)


def analyse(
    snapshot: pd.DataFrame,
    *,
    measures: Sequence[str],
    baseline: str,
    plot_measure: str,
    mid_measures: Sequence[str] = (),
    mixed_measures: Sequence[str] = (),
    mmrm_measures: Sequence[str] = (),
    deterioration: Sequence[Deterioration] = (),
    sensitivity_measure: str | None = None,
    sensitivity_visits: Sequence[str] = (),
    visit_order: Sequence[str] = (),
) -> Analysis:
    """The protocol comparisons and the SISAQOL-style analyses of one snapshot.

    ``sensitivity_visits`` empty means every follow-up visit; ``visit_order``
    (the trial's visit codes in schedule order) orders completion rows.
    Raises :class:`scoring.compare.CompareInputError` when the snapshot
    cannot be compared at all (e.g. not exactly two arms, no baseline).
    """
    clock = _Clock()
    warnings: list[str] = []
    notes: list[str] = []
    scores = received_scores(snapshot)
    present = tuple(m for m in measures if m in scores.columns)
    absent = [m for m in measures if m not in scores.columns]
    if absent:
        warnings.append(f"not in the data, skipped: {', '.join(absent)}")
    if not present:
        raise CompareInputError("none of the requested measures is in the data")
    common: dict[str, Any] = {
        "id_col": ID,
        "arm_col": ARM,
        "visit_col": VISIT,
        "baseline": baseline,
    }

    comparisons = clock.run("compare", lambda: compare(scores, measures=list(present), **common))
    summarised = [m for m in dict.fromkeys([*present, plot_measure]) if m in scores.columns]
    summary = clock.run("summary", lambda: summary_by_visit(scores, measures=summarised, **common))
    result = Analysis(compare=comparisons, summary=summary, mid=None, mixed=None, measures=present)
    mids = {m: ETON_MIDS[m] for m in mid_measures if m in ETON_MIDS and m in present}
    if mids:
        result.mid = clock.run("mid", lambda: mid_responders(scores, thresholds=mids, **common))

    fitted: list[pd.DataFrame] = []
    for measure in (m for m in mixed_measures if m in present):
        try:
            fitted.append(
                clock.run("mixed", partial(mixed_model, scores, measure=measure, **common))
            )
        except MODEL_ERRORS as exc:
            warnings.append(f"random-intercept model for {measure} not fitted: {exc}")
    if fitted:
        result.mixed = pd.concat(fitted, ignore_index=True)
        notes.append(MAR_NOTE)

    fits: dict[str, MMRMResult] = {}
    for measure in (m for m in mmrm_measures if m in present):
        try:
            fits[measure] = clock.run("mmrm", partial(mmrm, scores, measure=measure, **common))
        except MODEL_ERRORS as exc:
            warnings.append(f"MMRM for {measure} not fitted: {exc}")
    for measure, fit in fits.items():
        if not fit.converged:
            warnings.append(f"MMRM for {measure}: {fit.message}")
    if fits:
        result.mmrm = pd.concat([f.table() for f in fits.values()], ignore_index=True)
        notes.append(MMRM_NOTE)

    if sensitivity_measure and sensitivity_measure in scores.columns:
        clock.run(
            "sensitivity",
            lambda: _sensitivity(
                snapshot, scores, result, fits, warnings,
                measure=sensitivity_measure, visits=sensitivity_visits, common=common,
            ),
        )  # fmt: skip

    if deterioration:
        result.ttd = clock.run(
            "ttd", lambda: _deterioration(snapshot, scores, deterioration, warnings, common)
        )
    if "state" in snapshot.columns:
        result.completion = clock.run(
            "completion", lambda: completion_by(snapshot, "arm", visit_order)
        )
        result.completion_site = completion_by(snapshot, "site", visit_order)
        notes.append(MISSING_DATA_DEFINITION)
        result.survival = clock.run("survival", lambda: overall_survival(snapshot))
    else:
        warnings.append(
            "this snapshot predates assessment states: no completion table, no survival, "
            "and the sensitivity analyses impute every participant with a baseline"
        )
    result.warnings, result.notes, result.timings = warnings, notes, clock.timings
    return result


# --------------------------------------------------------------------------- sensitivity


def _sensitivity(
    snapshot: pd.DataFrame,
    scores: pd.DataFrame,
    result: Analysis,
    fits: dict[str, MMRMResult],
    warnings: list[str],
    *,
    measure: str,
    visits: Sequence[str],
    common: dict[str, Any],
) -> None:
    """MMRM (MAR) and delta-adjusted MI with its tipping point, per follow-up visit.

    The imputation analysis imputes only forms that were *missing*: a
    participant who had died or left the study before the visit's window
    closed, or whose window was still open at the cut-off, is left out of
    that visit's imputation (deaths are not missing data).
    """
    fit = fits.get(measure)
    if fit is None:
        try:
            fit = mmrm(scores, measure=measure, **common)
        except MODEL_ERRORS as exc:
            warnings.append(f"sensitivity analyses for {measure} not run: {exc}")
            return
    chosen = list(visits) or list(fit.visits)
    rows: list[pd.DataFrame] = []
    tipping: list[pd.DataFrame] = []
    for visit in chosen:
        if visit not in fit.visits:
            warnings.append(
                f"sensitivity analyses for {measure} at {visit}: no MMRM estimate there"
            )
            continue
        population = scores
        n_out = 0
        if "state" in snapshot.columns:
            here = snapshot.loc[snapshot[VISIT] == visit]
            out = set(here.loc[~here["state"].isin(["received", "missed"]), ID])
            n_out = len(out & set(scores.loc[scores[VISIT] == common["baseline"], ID]))
            population = scores.loc[~scores[ID].isin(out)].reset_index(drop=True)
        try:
            tip = tipping_point(population, measure=measure, visit=visit, **common)
        except MODEL_ERRORS as exc:
            warnings.append(f"multiple imputation for {measure} at {visit} not run: {exc}")
            continue
        table = Sensitivity(mmrm=fit, tipping=tip).table()
        table["n_not_expected"] = n_out
        rows.append(table)
        steps = tip.table.copy()
        steps.insert(0, "visit", visit)
        steps.insert(0, "measure", measure)
        tipping.append(steps)
    if rows:
        result.sensitivity = pd.concat(rows, ignore_index=True)[list(SENSITIVITY_COLUMNS_RUN)]
        result.tipping = pd.concat(tipping, ignore_index=True)[list(TIPPING_COLUMNS_RUN)]


# --------------------------------------------------------------------------- deterioration


def participants_table(snapshot: pd.DataFrame) -> pd.DataFrame | None:
    if "death_day" not in snapshot.columns:
        return None
    return snapshot.groupby(ID, sort=False)[["death_day", "off_study_day"]].first().reset_index()


def _deterioration(
    snapshot: pd.DataFrame,
    scores: pd.DataFrame,
    definitions: Sequence[Deterioration],
    warnings: list[str],
    common: dict[str, Any],
) -> pd.DataFrame | None:
    participants = participants_table(snapshot)
    day_col = "day" if "day" in scores.columns else None
    results = []
    for d in definitions:
        if d.measure not in scores.columns:
            warnings.append(f"time to deterioration {d.name}: {d.measure} is not in the data")
            continue
        try:
            results.append(
                time_to_deterioration(
                    scores, d, participants=participants, day_col=day_col, **common
                )
            )
        except MODEL_ERRORS as exc:
            warnings.append(f"time to deterioration {d.name} not computed: {exc}")
    return ttd_table(results) if results else None


# --------------------------------------------------------------------------- completion


def completion_by(
    snapshot: pd.DataFrame, group: str, visit_order: Sequence[str] = ()
) -> pd.DataFrame:
    """Completion per visit × ``group`` (``arm`` or ``site``), both denominators.

    ``scoring.completion`` checks that every participant is in exactly one
    state and divides. The fixed denominator is everyone randomized whose
    window had closed by the cut-off (``due``): a window still open is not
    due yet and would only dilute the rate. The variable denominator is
    ``expected``: due, alive and on study.
    """
    order = {code: i for i, code in enumerate(visit_order)}
    reasons = sorted(str(r) for r in snapshot["missed_reason"].unique() if r)
    parts: dict[tuple[str, str], pd.DataFrame] = {
        (str(visit), str(who)): part
        for (visit, who), part in snapshot.groupby([VISIT, group], sort=False)
    }
    counts = []
    rows = []
    for visit, who in sorted(parts, key=lambda k: (order.get(k[0], len(order)), k[0], k[1])):
        part = parts[(visit, who)]
        states = part["state"].value_counts()
        not_due = int(states.get("window_open", 0))
        missed = part.loc[part["state"] == "missed", "missed_reason"].value_counts()
        counts.append(
            VisitCounts(
                visit=visit,
                arm=who,
                randomized=len(part) - not_due,
                received=int(states.get("received", 0)),
                died=int(states.get("died", 0)),
                off_study=int(states.get("off_study", 0)),
                window_open=0,
                missed={r: int(missed.get(r, 0)) for r in reasons},
            )
        )
        rows.append({"randomized": len(part), "not_due": not_due})
    table = completion_table(counts)
    table = table.rename(columns={"arm": "group", "randomized": "due"})
    table.insert(2, "randomized", [r["randomized"] for r in rows])
    table.insert(3, "not_due", [r["not_due"] for r in rows])
    table = table.drop(columns=["window_open"])
    missed_cols = [c for c in table.columns if c.startswith("missed_") and c != "missed_total"]
    return table[[*COMPLETION_COLUMNS_RUN, *missed_cols]]


# --------------------------------------------------------------------------- survival


def overall_survival(snapshot: pd.DataFrame) -> pd.DataFrame | None:
    """Overall survival by arm from the off-study records (deaths), in months.

    Time is death, or leaving the study for another reason (censored), or
    the cut-off (censored). Rows: per arm the Kaplan-Meier median and the
    3-year survival with 95% intervals; the Cox hazard ratio a / b.
    """
    people = snapshot.groupby(ID, sort=True).agg(
        arm=(ARM, "first"),
        death=("death_day", "first"),
        off=("off_study_day", "first"),
        end=("followup_day", "first"),
    )
    if people.empty or people["arm"].nunique() != 2:
        return None
    died = people["death"].notna()
    days = np.where(died, people["death"], np.fmin(people["off"], people["end"]))
    months = days / DAYS_PER_MONTH
    event = died.to_numpy(dtype=np.float64)
    arm_a, arm_b = sorted(people["arm"].unique())
    rows: list[dict[str, Any]] = []
    for arm in (arm_a, arm_b):
        mask = (people["arm"] == arm).to_numpy()
        km = kaplan_meier(months[mask], event[mask])
        rows.append(
            {"kind": "median_months", "arm": arm, "n": km.n, "events": km.events,
             "estimate": km.median, "ci_low": km.median_low, "ci_high": km.median_high,
             "p_value": math.nan}
        )  # fmt: skip
        at = np.searchsorted(km.time, 36.0, side="right") - 1
        covered = at >= 0 and km.time.max() >= 36.0
        rows.append(
            {"kind": "survival_36_months", "arm": arm, "n": km.n, "events": km.events,
             "estimate": float(km.surv[at]) if covered else math.nan,
             "ci_low": float(km.lower[at]) if covered else math.nan,
             "ci_high": float(km.upper[at]) if covered else math.nan,
             "p_value": math.nan}
        )  # fmt: skip
    in_a = (people["arm"] == arm_a).to_numpy()
    if event.any():
        cox = cox_ph(months, event, in_a)
        rows.append(
            {"kind": "hazard_ratio", "arm": f"{arm_a} / {arm_b}", "n": len(people),
             "events": int(event.sum()), "estimate": cox.hr, "ci_low": cox.hr_low,
             "ci_high": cox.hr_high, "p_value": cox.p_value}
        )  # fmt: skip
    return pd.DataFrame(rows, columns=list(SURVIVAL_COLUMNS))


# --------------------------------------------------------------------------- JSON


def _plain(value: Any) -> Any:
    """A JSON-ready scalar: NaN and NA become None, NumPy scalars Python ones."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def records(frame: pd.DataFrame | None) -> list[dict[str, Any]]:
    """Rows as dicts of plain values (floats keep every bit through JSON)."""
    if frame is None:
        return []
    columns = list(frame.columns)
    return [
        {col: _plain(value) for col, value in zip(columns, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]


def as_frame(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(columns))
