"""Wall time of ``scoring.compare.compare`` on a trial-sized table.

10,000 participants x 4 visits x 8 measures (FACT-B subscales and totals,
prorated the way FACIT scoring prorates, with dropout and missing values),
two arms, one process on one core. Run: ``python bench/bench_compare.py``.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd

# One core: keep BLAS/OpenMP pools (not used by compare, but imported) single-threaded.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

from scoring.compare import compare  # noqa: E402

N_PARTICIPANTS = 10_000
VISITS = ("baseline", "week12", "month6", "month12")
# measure: (number of items, item range 0..4, share of missing items)
SUBSCALES = {"PWB": 7, "SWB": 7, "EWB": 6, "FWB": 7, "BCS": 10}


def _prorated(rng: np.random.Generator, rows: int, items: int) -> np.ndarray:
    responses = rng.integers(0, 5, size=(rows, items)).astype(float)
    answered = rng.random((rows, items)) > 0.05
    answered[:, 0] = True
    return (responses * answered).sum(axis=1) * items / answered.sum(axis=1)


def make_scores(seed: int = 2108) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = np.repeat([f"P{i:05d}" for i in range(N_PARTICIPANTS)], len(VISITS))
    arm = np.repeat(rng.choice(["A", "B"], size=N_PARTICIPANTS), len(VISITS))
    visit = np.tile(VISITS, N_PARTICIPANTS)
    frame = pd.DataFrame({"participant_id": ids, "arm": arm, "visit": visit})
    rows = len(frame)
    for name, items in SUBSCALES.items():
        frame[name] = _prorated(rng, rows, items)
    frame["FACTG"] = frame[["PWB", "SWB", "EWB", "FWB"]].sum(axis=1)
    frame["FACTB"] = frame["FACTG"] + frame["BCS"]
    frame["TOI"] = frame["PWB"] + frame["FWB"] + frame["BCS"]
    # Dropout after baseline and item-level nonresponse.
    gone = (visit != "baseline") & (rng.random(rows) < 0.15)
    frame.loc[gone, [*SUBSCALES, "FACTG", "FACTB", "TOI"]] = np.nan
    return frame


def _time_compare(scores: pd.DataFrame, measures: list[str]) -> tuple[float, int]:
    start = time.perf_counter()
    results = compare(scores, measures=measures)
    return time.perf_counter() - start, len(results)


def main() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    scores = make_scores()
    measures = ["PWB", "SWB", "EWB", "FWB", "BCS", "FACTG", "FACTB", "TOI"]
    compare(scores.head(400), measures=measures)  # warm-up (imports, caches)
    elapsed, rows = min(_time_compare(scores, measures) for _ in range(3))
    print(
        f"compare: {N_PARTICIPANTS:,} participants x {len(VISITS)} visits x "
        f"{len(measures)} measures -> {rows} result rows in {elapsed:.3f} s (one core, best of 3)"
    )
    # Worst case for the Wilcoxon interval: continuous scores, no ties at all.
    rng = np.random.default_rng(7)
    continuous = scores.copy()
    for name in measures:
        continuous[name] = continuous[name] + rng.normal(0, 1e-3, len(continuous))
    elapsed, rows = min(_time_compare(continuous, measures) for _ in range(3))
    print(f"compare, continuous scores without ties: {elapsed:.3f} s")


if __name__ == "__main__":
    main()
