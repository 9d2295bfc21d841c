"""A run's stored results as the rows of the run page's tables (the paper's layout).

Pure functions over the results JSON: the view passes them to the template,
the tests check them. Numbers are formatted for reading only; downloads keep
full precision.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


def num(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:.{digits}f}"


def pval(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if value < 0.001:
        return "<0.001"
    return f"{value:.3f}"


def mean_sd(mean: Any, sd: Any) -> str:
    if mean is None:
        return "—"
    return f"{num(mean)} ({num(sd)})"


def ci(estimate: Any, low: Any, high: Any) -> str:
    if estimate is None:
        return "—"
    return f"{num(estimate)} ({num(low)} to {num(high)})"


@dataclass
class MeasureTables:
    code: str
    label: str
    scores: list[dict[str, str]] = field(default_factory=list)
    changes: list[dict[str, str]] = field(default_factory=list)


def _labels(results: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    visits = {v["code"]: v["label"] for v in results.get("visits", [])}
    measures = {m["code"]: m["label"] for m in results.get("measures", [])}
    return visits, measures


def comparison_tables(results: Mapping[str, Any]) -> list[MeasureTables]:
    """Per measure: scores by visit (n, mean (SD), median per arm; Wilcoxon P; shift) and
    change from baseline (two-sample t test, pooled; Welch as sensitivity)."""
    visits, measures = _labels(results)
    tables: dict[str, MeasureTables] = {}
    changes: dict[tuple[str, str], dict[str, str]] = {}
    for row in results.get("compare", []):
        code = row["measure"]
        table = tables.setdefault(code, MeasureTables(code, measures.get(code, code)))
        visit = visits.get(row["visit"], row["visit"])
        if row["analysis"] == "score":
            table.scores.append(
                {
                    "visit": visit,
                    "n_a": str(row["n_a"]),
                    "mean_sd_a": mean_sd(row["mean_a"], row["sd_a"]),
                    "median_a": num(row["median_a"]),
                    "n_b": str(row["n_b"]),
                    "mean_sd_b": mean_sd(row["mean_b"], row["sd_b"]),
                    "median_b": num(row["median_b"]),
                    "p": pval(row["p_value"]),
                    "shift": ci(row["estimate"], row["ci_low"], row["ci_high"]),
                    "w": num(row["statistic"]),
                }
            )
        else:
            key = (code, row["visit"])
            line = changes.get(key)
            if line is None:
                line = {
                    "visit": visit,
                    "n_a": str(row["n_a"]),
                    "mean_sd_a": mean_sd(row["mean_a"], row["sd_a"]),
                    "n_b": str(row["n_b"]),
                    "mean_sd_b": mean_sd(row["mean_b"], row["sd_b"]),
                }
                changes[key] = line
                table.changes.append(line)
            if row["test"] == "student":
                line["difference"] = ci(row["estimate"], row["ci_low"], row["ci_high"])
                line["p_student"] = pval(row["p_value"])
            else:
                line["p_welch"] = pval(row["p_value"])
    return list(tables.values())


def headline(results: Mapping[str, Any]) -> list[dict[str, str]]:
    """The plotted measure at each visit: means by arm, difference a - b, Wilcoxon P."""
    visits, measures = _labels(results)
    code = results.get("plot_measure", "TOI")
    rows = []
    for row in results.get("compare", []):
        if row["measure"] != code or row["analysis"] != "score":
            continue
        diff = (
            None
            if row["mean_a"] is None or row["mean_b"] is None
            else row["mean_a"] - row["mean_b"]
        )
        rows.append(
            {
                "measure": measures.get(code, code),
                "visit": visits.get(row["visit"], row["visit"]),
                "mean_a": num(row["mean_a"]),
                "mean_b": num(row["mean_b"]),
                "difference": num(diff),
                "p": pval(row["p_value"]),
            }
        )
    return rows


def mid_rows(results: Mapping[str, Any]) -> list[dict[str, str]]:
    visits, measures = _labels(results)
    return [
        {
            "measure": measures.get(r["measure"], r["measure"]),
            "visit": visits.get(r["visit"], r["visit"]),
            "arm": r["arm"],
            "mid": num(r["mid"], 0),
            "n": str(r["n"]),
            "improved": f"{r['improved']} ({num(r['pct_improved'])}%)",
            "stable": f"{r['stable']} ({num(r['pct_stable'])}%)",
            "worsened": f"{r['worsened']} ({num(r['pct_worsened'])}%)",
            "test": r["test"],
            "p": pval(r["p_value"]),
        }
        for r in results.get("mid", [])
    ]


def mixed_rows(results: Mapping[str, Any]) -> list[dict[str, str]]:
    visits, measures = _labels(results)
    return [
        {
            "measure": measures.get(r["measure"], r["measure"]),
            "visit": visits.get(r["visit"], r["visit"]),
            "difference": ci(r["estimate"], r["ci_low"], r["ci_high"]),
            "p": pval(r["p_value"]),
            "n_obs": str(r["n_obs"]),
            "n_participants": str(r["n_participants"]),
            "converged": "yes" if r["converged"] else "NO",
        }
        for r in results.get("mixed", [])
        if r["kind"] == "arm_difference"
    ]


def compliance_rows(results: Mapping[str, Any], by: str = "arm") -> list[Mapping[str, Any]]:
    return list((results.get("compliance") or {}).get(f"by_{by}", []))


def arm_codes(results: Mapping[str, Any]) -> tuple[str, str]:
    """The compared arms (a, b): sorted codes, every difference is a - b."""
    compared: Sequence[Any] = results.get("compare") or []
    if compared:
        return compared[0]["arm_a"], compared[0]["arm_b"]
    arms = sorted(results.get("arms") or {})
    return (arms[0], arms[1]) if len(arms) >= 2 else ("A", "B")


def arm_headers(results: Mapping[str, Any]) -> tuple[str, str]:
    labels: dict[str, str] = defaultdict(str, results.get("arms") or {})
    a, b = arm_codes(results)
    return (
        f"{a}: {labels[a]}" if labels[a] else a,
        f"{b}: {labels[b]}" if labels[b] else b,
    )
