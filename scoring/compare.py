"""Arm comparisons as the E2108 analysis plan states them.

"FACT-B TOI score, FACT-B total score, FACT-G total score, and FACT breast
cancer subscale score were compared between arms using the Wilcoxon
rank-sum test ... Score change between follow-up and baseline visits was
compared between arms using the two-sample t test."

:func:`compare` turns a long table of scores (one row per participant per
visit) into one RESULTS row per measure x visit x test. The statistics come
from :mod:`scoring.rstats`, which reproduces R's ``wilcox.test`` and
``t.test``; see scoring/README.md ("Arm comparisons").
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import numpy.typing as npt
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from scoring.instruments import LR_ITEM_CODES
from scoring.multiplicity import add_holm
from scoring.proportions import newcombe_difference, prop_test
from scoring.rstats import r_mean, r_median, r_sd, t_test, wilcox_test

#: Allowance for floating-point rounding when a change is compared with a minimal important
#: difference: prorated scores are fractions, so a change of exactly 5 points can come out as
#: 4.9999999999999964 (35.3 - 30.3). Used by MID responders and by time to deterioration.
MID_TOLERANCE = 1e-9

FloatArray = npt.NDArray[np.float64]

RESULT_COLUMNS: tuple[str, ...] = (
    "measure",
    "visit",
    "analysis",
    "test",
    "arm_a",
    "arm_b",
    "n_a",
    "n_b",
    "mean_a",
    "sd_a",
    "mean_b",
    "sd_b",
    "median_a",
    "median_b",
    "statistic",
    "p_value",
    "estimate",
    "ci_low",
    "ci_high",
    # Added after the first release (existing columns unchanged):
    "p_holm",
    "holm_family",
    "median_diff",
    "prop_high_a",
    "prop_high_b",
    "prop_high_diff",
    "prop_high_ci_low",
    "prop_high_ci_high",
    "prop_high_p_value",
)

#: Holm families: the measures whose tests are adjusted together (see :func:`holm_family`).
MEASURE_FAMILIES: dict[str, tuple[str, ...]] = {
    "FACT-B summary scores": ("TOI", "FACTB", "FACTG", "BCS"),
    "FACT-G subscales": ("PWB", "SWB", "EWB", "FWB"),
    "FACT-B+4 arm subscale": ("ARM",),
    "E2108 LR items": LR_ITEM_CODES,
}

#: Single 0-4 items: their ``score`` rows get the "quite a bit / very much" proportions.
ITEM_MEASURES: tuple[str, ...] = LR_ITEM_CODES
#: Responses at or above this are "quite a bit" (3) or "very much" (4).
HIGH_RESPONSE = 3

#: Score columns analysed by default, in this order, when present.
DEFAULT_MEASURES: tuple[str, ...] = (
    "PWB",
    "SWB",
    "EWB",
    "FWB",
    "BCS",
    "FACTG",
    "FACTB",
    "TOI",
    "ARM",
    *(f"LR{i}" for i in range(1, 10)),
)

#: Fewer values than this in either arm: the row is kept with blank statistics.
MIN_PER_ARM = 2

_MAX_LISTED = 5


class CompareInputError(ValueError):
    """The score table cannot be analysed as given; the message says why."""


@dataclass(frozen=True)
class PreparedScores:
    """A validated score table.

    ``frame`` keeps the input's row order and has the id, arm and visit
    columns as text and the measure columns as float64 (NaN = missing).
    ``visits`` lists the baseline visit first (when present), then the other
    visits in category order for an ordered categorical column, otherwise
    chronologically by :func:`visit_sort_key`.
    """

    frame: pd.DataFrame
    id_col: str
    arm_col: str
    visit_col: str
    baseline: str
    measures: tuple[str, ...]
    arms: tuple[str, str]
    visits: tuple[str, ...]

    @property
    def followups(self) -> tuple[str, ...]:
        return tuple(v for v in self.visits if v != self.baseline)


def _listing(items: Iterable[str], total: int | None = None) -> str:
    items = list(items)
    shown = items[:_MAX_LISTED]
    text = "; ".join(shown)
    count = len(items) if total is None else total
    if count > len(shown):
        text += f"; and {count - len(shown)} more"
    return text


def _row_label(frame: pd.DataFrame, pos: int, id_col: str, visit_col: str) -> str:
    """'row 3 (participant P003, visit week12)': rows counted from 1 after the header."""
    parts = []
    for role, col in (("participant", id_col), ("visit", visit_col)):
        if col in frame.columns:
            value = frame[col].iloc[pos]
            if not pd.isna(value):
                parts.append(f"{role} {value}")
    return f"row {pos + 1}" + (f" ({', '.join(parts)})" if parts else "")


def _as_labels(column: pd.Series) -> pd.Series:
    """Id/arm/visit labels as text (a Parquet integer visit 3 becomes "3")."""
    return pd.Series(column.astype(str).to_numpy(dtype=object), index=column.index)


def _blank(column: pd.Series) -> npt.NDArray[np.bool_]:
    """Missing cells, and text cells holding only spaces."""
    missing = column.isna().to_numpy(dtype=bool)
    if is_numeric_dtype(column.dtype) or is_bool_dtype(column.dtype):
        return missing
    spaces = column.astype(str).str.strip().eq("").to_numpy(dtype=bool)
    return missing | spaces


def _parse_scores(frame: pd.DataFrame, measure: str, id_col: str, visit_col: str) -> FloatArray:
    """The measure column as float64, or CompareInputError naming every bad cell."""
    column = frame[measure]
    if is_bool_dtype(column.dtype):
        raise CompareInputError(f"column {measure!r} holds true/false values, not scores")
    if is_numeric_dtype(column.dtype):
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        bad_positions = np.flatnonzero(np.isinf(values)).tolist()
        bad_text = [repr(float(values[p])) for p in bad_positions]
    else:
        raw = column.to_numpy(dtype=object)
        present = ~pd.isna(raw)
        values = np.full(raw.shape, np.nan)
        try:
            # float() per cell: the correctly rounded decimal -> double conversion.
            values[present] = raw[present].astype(np.float64)
            bad_positions = np.flatnonzero(present & ~np.isfinite(values)).tolist()
        except (TypeError, ValueError):
            bad_positions = []
            for pos in np.flatnonzero(present):
                cell = raw[pos]
                try:
                    if isinstance(cell, bool):
                        raise TypeError
                    number = float(cell)
                except (TypeError, ValueError):
                    bad_positions.append(int(pos))
                    continue
                if math.isfinite(number):
                    values[pos] = number
                else:
                    bad_positions.append(int(pos))
        bad_text = [repr(raw[p]) for p in bad_positions]
    if bad_positions:
        cells = [
            f"{_row_label(frame, p, id_col, visit_col)}: {text}"
            for p, text in zip(bad_positions, bad_text, strict=True)
        ]
        raise CompareInputError(
            f"column {measure!r} has {len(bad_positions)} value(s) that are not finite "
            f"numbers: {_listing(cells, len(cells))} (leave a cell blank for a missing score)"
        )
    return values


_UNIT_DAYS = {"d": 1.0, "w": 7.0, "m": 30.4375, "y": 365.25}
_TIMED_VISIT = re.compile(
    r"(?:(?P<u1>days?|d|weeks?|wks?|w|months?|mos?|m|years?|yrs?|y)[\s_.-]*(?P<n1>\d+(?:\.\d+)?)"
    r"|(?P<n2>\d+(?:\.\d+)?)[\s_.-]*(?P<u2>days?|d|weeks?|wks?|w|months?|mos?|m|years?|yrs?|y))",
    re.IGNORECASE,
)


def visit_sort_key(label: str) -> tuple[int, float, tuple[tuple[int, float, str], ...]]:
    """Chronological order for visit labels.

    "week12", "Week 12", "12 weeks", "month6", "M18", "year 2" sort by their
    time after randomisation (months as 30.4375 days); bare numbers ("0",
    "6", "18") sort numerically after those; anything else after that, in
    natural order ("visit2" before "visit10").
    """
    text = label.strip()
    timed = _TIMED_VISIT.fullmatch(text)
    natural = tuple(
        (0, float(part), "") if part.isdigit() else (1, 0.0, part.lower())
        for part in re.split(r"(\d+)", text)
        if part
    )
    if timed:
        unit = (timed.group("u1") or timed.group("u2")).lower()
        number = float(timed.group("n1") or timed.group("n2"))
        return (0, number * _UNIT_DAYS[unit[0]], natural)
    try:
        return (1, float(text), natural)
    except ValueError:
        return (2, 0.0, natural)


def _visit_order(visits: pd.Series, original: pd.Series, baseline: str) -> tuple[str, ...]:
    """Baseline first, then the category order of an ordered categorical, else chronological."""
    present = [str(v) for v in pd.unique(visits)]
    if isinstance(original.dtype, pd.CategoricalDtype) and original.dtype.ordered:
        rank = {str(c): i for i, c in enumerate(original.dtype.categories)}
        ordered = sorted(present, key=lambda v: rank.get(v, len(rank)))
    else:
        ordered = sorted(present, key=lambda v: (visit_sort_key(v), v))
    if baseline in ordered:
        ordered.remove(baseline)
        ordered.insert(0, baseline)
    return tuple(ordered)


def prepare_scores(
    scores: pd.DataFrame,
    *,
    id_col: str = "participant_id",
    arm_col: str = "arm",
    visit_col: str = "visit",
    baseline: str = "baseline",
    measures: Sequence[str] | None = None,
    require_baseline: bool = True,
) -> PreparedScores:
    """Validate a long score table; raise CompareInputError saying what is wrong."""
    if not isinstance(scores, pd.DataFrame):
        raise CompareInputError("scores must be a table (pandas DataFrame)")
    key_cols = {"id": id_col, "arm": arm_col, "visit": visit_col}
    if len(set(key_cols.values())) != 3:
        raise CompareInputError(
            f"the id, arm and visit columns must differ (got {id_col!r}, {arm_col!r}, "
            f"{visit_col!r})"
        )
    available = ", ".join(map(str, scores.columns)) or "(none)"
    missing = [
        f"{role} column {name!r}" for role, name in key_cols.items() if name not in scores.columns
    ]
    if missing:
        raise CompareInputError(f"missing {', '.join(missing)}; the table has columns: {available}")

    if measures is None:
        chosen = tuple(m for m in DEFAULT_MEASURES if m in scores.columns)
        if not chosen:
            raise CompareInputError(
                "no score columns found: expected one or more of "
                f"{', '.join(DEFAULT_MEASURES)}; the table has columns: {available} "
                "(name the score columns with --measures)"
            )
    else:
        chosen = tuple(dict.fromkeys(m.strip() for m in measures if m.strip()))
        if not chosen:
            raise CompareInputError("no measures given")
        clash = [m for m in chosen if m in key_cols.values()]
        if clash:
            raise CompareInputError(
                f"{', '.join(map(repr, clash))} is the id, arm or visit column, not a score"
            )
        absent = [m for m in chosen if m not in scores.columns]
        if absent:
            raise CompareInputError(
                f"measure column(s) not found: {', '.join(map(repr, absent))}; "
                f"the table has columns: {available}"
            )

    if len(scores) == 0:
        raise CompareInputError("the score table has no rows")

    frame = scores.reset_index(drop=True)
    for role, name in key_cols.items():
        blank = _blank(frame[name])
        if blank.any():
            where = [_row_label(frame, int(p), id_col, visit_col) for p in np.flatnonzero(blank)]
            raise CompareInputError(
                f"{role} column {name!r} is blank in {len(where)} row(s): {_listing(where)}"
            )

    labels = pd.DataFrame(
        {
            id_col: _as_labels(frame[id_col]),
            arm_col: _as_labels(frame[arm_col]),
            visit_col: _as_labels(frame[visit_col]),
        }
    )

    arms = sorted(labels[arm_col].unique())
    if len(arms) != 2:
        found = ", ".join(map(repr, arms))
        raise CompareInputError(
            f"expected exactly two arms in column {arm_col!r}, found {len(arms)}: {found}"
        )

    arms_per_id = labels.groupby(id_col, sort=False)[arm_col].nunique()
    switched = arms_per_id[arms_per_id > 1].index.tolist()
    if switched:
        raise CompareInputError(
            f"{len(switched)} participant(s) appear in both arms: {_listing(map(str, switched))}"
        )

    dup_mask = labels.duplicated([id_col, visit_col], keep=False).to_numpy()
    if dup_mask.any():
        dups = labels.loc[dup_mask]
        described = []
        for key, idx in dups.groupby([id_col, visit_col], sort=False).groups.items():
            pid, visit = cast(tuple[str, str], key)
            rows = ", ".join(str(int(i) + 1) for i in idx)
            described.append(f"participant {pid}, visit {visit} (rows {rows})")
        raise CompareInputError(
            f"{len(described)} participant x visit pair(s) appear more than once: "
            f"{_listing(described)}"
        )

    clean = labels.copy()
    for measure in chosen:
        clean[measure] = _parse_scores(frame, measure, id_col, visit_col)

    visits = _visit_order(labels[visit_col], frame[visit_col], baseline)
    if require_baseline and baseline not in visits:
        raise CompareInputError(
            f"no baseline rows: no row has {visit_col!r} = {baseline!r} "
            f"(visits found: {', '.join(map(repr, visits))}); "
            "change from baseline needs them (set the baseline visit label with --baseline)"
        )
    return PreparedScores(
        frame=clean,
        id_col=id_col,
        arm_col=arm_col,
        visit_col=visit_col,
        baseline=baseline,
        measures=chosen,
        arms=(arms[0], arms[1]),
        visits=visits,
    )


@dataclass(frozen=True)
class GroupIndex:
    """Index arrays for fast per-visit, per-arm selection (row order preserved)."""

    arm_is_a: npt.NDArray[np.bool_]
    visit_code: npt.NDArray[np.intp]
    participant_code: npt.NDArray[np.intp]
    n_participants: int


def index_groups(prepared: PreparedScores) -> GroupIndex:
    frame = prepared.frame
    visit_index = {v: i for i, v in enumerate(prepared.visits)}
    participant_code, uniques = pd.factorize(frame[prepared.id_col])
    return GroupIndex(
        arm_is_a=(frame[prepared.arm_col] == prepared.arms[0]).to_numpy(),
        visit_code=np.asarray(frame[prepared.visit_col].map(visit_index), dtype=np.intp),
        participant_code=participant_code.astype(np.intp),
        n_participants=len(uniques),
    )


def change_by_arm(
    prepared: PreparedScores, groups: GroupIndex, values: FloatArray, visit: str
) -> tuple[FloatArray, FloatArray]:
    """Follow-up minus baseline for participants with both, by arm (a, b)."""
    base_code = prepared.visits.index(prepared.baseline)
    visit_code = prepared.visits.index(visit)
    baseline_by_participant = np.full(groups.n_participants, np.nan)
    at_base = groups.visit_code == base_code
    baseline_by_participant[groups.participant_code[at_base]] = values[at_base]
    at_visit = np.flatnonzero(groups.visit_code == visit_code)
    change = values[at_visit] - baseline_by_participant[groups.participant_code[at_visit]]
    keep = ~np.isnan(change)
    in_a = groups.arm_is_a[at_visit]
    return change[keep & in_a], change[keep & ~in_a]


def _describe(a: FloatArray, b: FloatArray) -> dict[str, float | int]:
    return {
        "n_a": int(a.size),
        "n_b": int(b.size),
        "mean_a": r_mean(a),
        "sd_a": r_sd(a),
        "mean_b": r_mean(b),
        "sd_b": r_sd(b),
        "median_a": r_median(a),
        "median_b": r_median(b),
    }


_BLANK_STATS = {
    "statistic": math.nan,
    "p_value": math.nan,
    "estimate": math.nan,
    "ci_low": math.nan,
    "ci_high": math.nan,
    "prop_high_a": math.nan,
    "prop_high_b": math.nan,
    "prop_high_diff": math.nan,
    "prop_high_ci_low": math.nan,
    "prop_high_ci_high": math.nan,
    "prop_high_p_value": math.nan,
}


def compare(
    scores: pd.DataFrame,
    *,
    id_col: str = "participant_id",
    arm_col: str = "arm",
    visit_col: str = "visit",
    baseline: str = "baseline",
    measures: Sequence[str] | None = None,
    item_measures: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Compare the two arms on each measure at each visit, and on change from baseline.

    Returns a table with :data:`RESULT_COLUMNS`, ordered by measure, then the
    ``score`` rows (one per visit, ``test = "wilcoxon"``), then the ``change``
    rows (per follow-up visit, ``student`` then ``welch``). ``arm_a`` and
    ``arm_b`` are the two arm labels in sorted order and every difference is
    a - b. An arm with fewer than two values leaves that row's statistics
    blank (NaN). Raises :class:`CompareInputError` for unusable input.

    Columns added after the first release (the others are unchanged):

    * ``p_holm``: ``p_value`` adjusted by Holm's method within the row's
      ``holm_family`` (see :func:`holm_family`); NaN where ``p_value`` is.
    * ``median_diff``: ``median_a - median_b``.
    * ``prop_high_a``, ``prop_high_b``: for the ``score`` rows of single 0-4
      items (``item_measures``, default the E2108 items LR1-LR9), the
      proportion of answers of 3 or 4 ("quite a bit", "very much") in each
      arm; ``prop_high_diff`` = a - b with Newcombe's hybrid score 95%
      interval (``prop_high_ci_low``, ``prop_high_ci_high``) and
      ``prop_high_p_value`` from R's two-sample ``prop.test`` (continuity
      corrected). NaN on other rows, and when an arm has fewer than two
      answers.
    """
    prepared = prepare_scores(
        scores,
        id_col=id_col,
        arm_col=arm_col,
        visit_col=visit_col,
        baseline=baseline,
        measures=measures,
    )
    groups = index_groups(prepared)
    arm_a, arm_b = prepared.arms
    items = set(ITEM_MEASURES if item_measures is None else item_measures)
    rows: list[dict[str, object]] = []
    for measure in prepared.measures:
        values = prepared.frame[measure].to_numpy(dtype=np.float64)
        present = ~np.isnan(values)
        for code, visit in enumerate(prepared.visits):
            here = present & (groups.visit_code == code)
            a = values[here & groups.arm_is_a]
            b = values[here & ~groups.arm_is_a]
            row: dict[str, object] = {
                "measure": measure,
                "visit": visit,
                "analysis": "score",
                "test": "wilcoxon",
                "arm_a": arm_a,
                "arm_b": arm_b,
                **_describe(a, b),
                **_BLANK_STATS,
            }
            if a.size >= MIN_PER_ARM and b.size >= MIN_PER_ARM:
                w = wilcox_test(a, b)
                row.update(
                    statistic=w.statistic,
                    p_value=w.p_value,
                    estimate=w.estimate,
                    ci_low=w.ci_low,
                    ci_high=w.ci_high,
                )
                if measure in items:
                    row.update(_high_responses(a, b))
            rows.append(row)
        for visit in prepared.followups:
            a, b = change_by_arm(prepared, groups, values, visit)
            for test, var_equal in (("student", True), ("welch", False)):
                row = {
                    "measure": measure,
                    "visit": visit,
                    "analysis": "change",
                    "test": test,
                    "arm_a": arm_a,
                    "arm_b": arm_b,
                    **_describe(a, b),
                    **_BLANK_STATS,
                }
                if a.size >= MIN_PER_ARM and b.size >= MIN_PER_ARM:
                    t = t_test(a, b, var_equal=var_equal)
                    if not t.message:  # R stops on "data are essentially constant"
                        row.update(
                            statistic=t.statistic,
                            p_value=t.p_value,
                            estimate=t.estimate,
                            ci_low=t.ci_low,
                            ci_high=t.ci_high,
                        )
                rows.append(row)
    result = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    result["n_a"] = result["n_a"].astype(np.int64)
    result["n_b"] = result["n_b"].astype(np.int64)
    result["median_diff"] = result["median_a"] - result["median_b"]
    families = [
        holm_family(m, a, t, v == prepared.baseline)
        for m, a, t, v in zip(
            result["measure"], result["analysis"], result["test"], result["visit"], strict=True
        )
    ]
    result["holm_family"] = pd.Series(families, dtype=object)
    return add_holm(result, families)[list(RESULT_COLUMNS)]


def holm_family(measure: str, analysis: str, test: str, at_baseline: bool) -> str:
    """The Holm family of one RESULTS row: which tests are adjusted together.

    A family is one group of measures (:data:`MEASURE_FAMILIES`: the four
    FACT-B summary scores, the four FACT-G subscales, the arm subscale, the
    E2108 items; any other measure on its own) crossed with one kind of test:
    the baseline Wilcoxon tests (a check of randomisation, kept apart from the
    treatment comparisons), the follow-up Wilcoxon tests, the Student t tests
    on change, or the Welch t tests on change (the Welch rows repeat the
    Student comparisons as a sensitivity analysis, so they form a parallel
    family rather than doubling the count). All visits of the group are in
    one family.
    """
    group = next((name for name, ms in MEASURE_FAMILIES.items() if measure in ms), measure)
    if analysis == "score":
        kind = "baseline scores, wilcoxon" if at_baseline else "follow-up scores, wilcoxon"
    else:
        kind = f"{analysis}, {test}"
    return f"{group}: {kind}"


def _high_responses(a: FloatArray, b: FloatArray) -> dict[str, float]:
    """Answers of 3 or 4 in each arm: proportions, difference, Newcombe CI, prop.test p."""
    x_a, x_b = int(np.sum(a >= HIGH_RESPONSE)), int(np.sum(b >= HIGH_RESPONSE))
    diff = newcombe_difference(x_a, a.size, x_b, b.size)
    return {
        "prop_high_a": diff.p1,
        "prop_high_b": diff.p2,
        "prop_high_diff": diff.difference,
        "prop_high_ci_low": diff.ci_low,
        "prop_high_ci_high": diff.ci_high,
        "prop_high_p_value": prop_test(x_a, a.size, x_b, b.size).p_value,
    }
