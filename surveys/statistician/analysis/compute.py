"""The statistics of a run, from a snapshot table: calls ``scoring/`` and nothing else.

No Django here: given the same snapshot and parameters, :func:`analyse`
returns the same tables, bit for bit (it is what makes a re-run on a frozen
snapshot reproduce its numbers).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scoring.compare import CompareInputError, compare
from scoring.extras import ETON_MIDS, MAR_NOTE, mid_responders, mixed_model, summary_by_visit

ID, ARM, VISIT = "participant_id", "arm", "visit"


@dataclass
class Analysis:
    compare: pd.DataFrame
    summary: pd.DataFrame
    mid: pd.DataFrame | None
    mixed: pd.DataFrame | None
    measures: tuple[str, ...]
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def analyse(
    snapshot: pd.DataFrame,
    *,
    measures: Sequence[str],
    baseline: str,
    plot_measure: str,
    mid_measures: Sequence[str] = (),
    mixed_measures: Sequence[str] = (),
) -> Analysis:
    """The protocol comparisons, summaries, MID responders and mixed models.

    Raises :class:`scoring.compare.CompareInputError` when the snapshot
    cannot be compared at all (e.g. not exactly two arms, no baseline).
    """
    warnings: list[str] = []
    present = tuple(m for m in measures if m in snapshot.columns)
    absent = [m for m in measures if m not in snapshot.columns]
    if absent:
        warnings.append(f"not in the data, skipped: {', '.join(absent)}")
    if not present:
        raise CompareInputError("none of the requested measures is in the data")
    timings: dict[str, float] = {}
    common: dict[str, Any] = {
        "id_col": ID,
        "arm_col": ARM,
        "visit_col": VISIT,
        "baseline": baseline,
    }

    t0 = time.perf_counter()
    comparisons = compare(snapshot, measures=list(present), **common)
    timings["compare_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    summarised = list(dict.fromkeys([*present, plot_measure]))
    summarised = [m for m in summarised if m in snapshot.columns]
    summary = summary_by_visit(snapshot, measures=summarised, **common)
    timings["summary_s"] = time.perf_counter() - t0

    mid = None
    mids = {m: ETON_MIDS[m] for m in mid_measures if m in ETON_MIDS and m in present}
    if mids:
        t0 = time.perf_counter()
        mid = mid_responders(snapshot, thresholds=mids, **common)
        timings["mid_s"] = time.perf_counter() - t0

    mixed = None
    fitted = []
    t0 = time.perf_counter()
    for measure in (m for m in mixed_measures if m in present):
        try:
            fitted.append(mixed_model(snapshot, measure=measure, **common))
        except (CompareInputError, ValueError, np.linalg.LinAlgError) as exc:
            warnings.append(f"mixed model for {measure} not fitted: {exc}")
    if fitted:
        mixed = pd.concat(fitted, ignore_index=True)
        timings["mixed_s"] = time.perf_counter() - t0
    return Analysis(
        compare=comparisons,
        summary=summary,
        mid=mid,
        mixed=mixed,
        measures=present,
        warnings=warnings,
        notes=[MAR_NOTE] if mixed is not None else [],
        timings=timings,
    )


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
