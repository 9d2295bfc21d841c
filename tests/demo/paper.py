"""The E2108 paper's figures the demo must reproduce, checked on a run's results."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from surveys.statistician.analysis import present
from surveys.statistician.analysis.presets import E2108_PAPER_REFERENCE

PAPER = E2108_PAPER_REFERENCE
BOUNDS = PAPER["bounds"]


def score_row(results: Mapping[str, Any], measure: str, visit: str) -> Mapping[str, Any]:
    (row,) = [
        r
        for r in results["compare"]
        if (r["measure"], r["visit"], r["analysis"]) == (measure, visit, "score")
    ]
    return row


def assert_reproduces_the_paper(results: Mapping[str, Any]) -> None:
    """The preset's bounds: the 18-month TOI, the other visits, the items, who was scored."""
    m18 = score_row(results, "TOI", "m18")
    paper = PAPER["visits"]["m18"]
    assert abs(m18["mean_a"] - paper["mean_a"]) <= BOUNDS["mean"], m18
    assert abs(m18["mean_b"] - paper["mean_b"]) <= BOUNDS["mean"], m18
    assert abs(m18["sd_a"] - paper["sd_a"]) <= BOUNDS["sd"], m18
    assert abs(m18["sd_b"] - paper["sd_b"]) <= BOUNDS["sd"], m18
    low, high = BOUNDS["p_value"]
    assert low <= m18["p_value"] <= high, m18["p_value"]
    randomized = sum(
        r["randomized"] for r in results["compliance"]["by_arm"] if r["visit"] == "m18"
    )
    assert randomized == 256
    low, high = BOUNDS["scored_fraction"]
    assert low <= (m18["n_a"] + m18["n_b"]) / randomized <= high
    for visit in ("baseline", "m6", "m30"):
        assert score_row(results, "TOI", visit)["p_value"] > 0.05, visit
    items = [
        r for r in results["compare"] if r["measure"].startswith("LR") and r["analysis"] == "score"
    ]
    assert len(items) == 36
    assert min(r["p_value"] for r in items) > 0.05
    # The run page says the same: every figure the paper gives is within the bounds.
    rows = present.paper_rows(results)
    assert [r.agrees for r in rows] == [True, True, True, True]
    assert present.paper_items(results)["agrees"] == "yes"
