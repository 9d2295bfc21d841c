"""A run's stored results as the rows of the run page's tables (the paper's layout).

Pure functions over the results JSON: the view passes them to the template,
the tests check them. Numbers are formatted for reading only (never "-0.0");
downloads keep full precision.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from scoring.compare import ITEM_MEASURES
from scoring.deterioration import DAYS_PER_MONTH

DASH = "—"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def num(value: Any, digits: int = 1) -> str:
    """``value`` to ``digits`` decimals; a value that rounds to zero is "0.0", never "-0.0"."""
    if _missing(value):
        return DASH
    text = f"{value:.{digits}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    return text


def pval(value: Any) -> str:
    if _missing(value):
        return DASH
    if value < 0.001:
        return "<0.001"
    return f"{value:.3f}"


def pct(value: Any, digits: int = 1) -> str:
    return DASH if _missing(value) else f"{num(100 * value, digits)}%"


def mean_sd(mean: Any, sd: Any) -> str:
    if _missing(mean):
        return DASH
    return f"{num(mean)} ({num(sd)})"


def ci(estimate: Any, low: Any, high: Any, digits: int = 1) -> str:
    if _missing(estimate):
        return DASH
    return f"{num(estimate, digits)} ({num(low, digits)} to {num(high, digits)})"


def _labels(results: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    visits = {v["code"]: v["label"] for v in results.get("visits", [])}
    measures = {m["code"]: m["label"] for m in results.get("measures", [])}
    return visits, measures


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class Section:
    anchor: str
    title: str


def sections(results: Mapping[str, Any]) -> list[Section]:
    """The run page's sections that have something to show, in page order (the navigation)."""
    has = {
        "paper": bool(results.get("reference")),
        "completion": bool((results.get("compliance") or {}).get("by_arm")),
        "headline": bool(results.get("compare")),
        "scores": bool(results.get("compare")),
        "items": any(r["measure"] in ITEM_MEASURES for r in results.get("compare", [])),
        "change": any(r["analysis"] == "change" for r in results.get("compare", [])),
        "mmrm": bool(results.get("mmrm")),
        "sensitivity": bool(results.get("sensitivity")),
        "ttd": bool(results.get("ttd")),
        "mid": bool(results.get("mid")),
        "mixed": bool(results.get("mixed")),
        "survival": bool(results.get("survival")),
        "downloads": True,
    }
    titles = {
        "paper": "Paper vs this run",
        "completion": "Completion and missing data",
        "headline": "Headline",
        "scores": "Scores by visit",
        "items": "Locoregional items",
        "change": "Change from baseline",
        "mmrm": "Repeated-measures model",
        "sensitivity": "Sensitivity analyses",
        "ttd": "Time to deterioration",
        "mid": "MID responders",
        "mixed": "Random-intercept model",
        "survival": "Overall survival",
        "downloads": "Downloads",
    }
    return [Section(key, titles[key]) for key, shown in has.items() if shown]


# --------------------------------------------------------------------------- the paper's tests


@dataclass
class MeasureTables:
    code: str
    label: str
    item: bool
    scores: list[dict[str, str]] = field(default_factory=list)
    changes: list[dict[str, str]] = field(default_factory=list)


def _score_row(row: Mapping[str, Any], visit: str, item: bool) -> dict[str, str]:
    line = {
        "visit": visit,
        "n_a": str(row["n_a"]),
        "mean_sd_a": mean_sd(row["mean_a"], row["sd_a"]),
        "median_a": num(row["median_a"]),
        "n_b": str(row["n_b"]),
        "mean_sd_b": mean_sd(row["mean_b"], row["sd_b"]),
        "median_b": num(row["median_b"]),
        "p": pval(row["p_value"]),
        "p_holm": pval(row.get("p_holm")),
        "w": num(row["statistic"]),
    }
    if item:
        # A shift on a 0-4 item is a whole number of steps, very often exactly 0:
        # the difference in medians and in the share with marked symptoms say more.
        line["median_diff"] = num(row.get("median_diff"))
        line["high_a"] = pct(row.get("prop_high_a"))
        line["high_b"] = pct(row.get("prop_high_b"))
        diff, low, high = (
            row.get(k) for k in ("prop_high_diff", "prop_high_ci_low", "prop_high_ci_high")
        )
        if diff is None or low is None or high is None or _missing(diff):
            line["high_diff"] = DASH
        else:
            line["high_diff"] = ci(100 * diff, 100 * low, 100 * high)
        line["high_p"] = pval(row.get("prop_high_p_value"))
    else:
        line["shift"] = ci(row["estimate"], row["ci_low"], row["ci_high"])
    return line


def comparison_tables(results: Mapping[str, Any]) -> list[MeasureTables]:
    """Per measure: scores by visit (n, mean (SD), median per arm; Wilcoxon P, Holm P;
    a shift for scale scores, medians and proportions for single items) and change from
    baseline (two-sample t test, pooled; Welch as sensitivity)."""
    visits, measures = _labels(results)
    tables: dict[str, MeasureTables] = {}
    changes: dict[tuple[str, str], dict[str, str]] = {}
    for row in results.get("compare", []):
        code = row["measure"]
        item = code in ITEM_MEASURES
        table = tables.setdefault(code, MeasureTables(code, measures.get(code, code), item))
        visit = visits.get(row["visit"], row["visit"])
        if row["analysis"] == "score":
            table.scores.append(_score_row(row, visit, item))
            continue
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
            line["p_holm"] = pval(row.get("p_holm"))
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
            if _missing(row["mean_a"]) or _missing(row["mean_b"])
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
                "p_holm": pval(row.get("p_holm")),
            }
        )
    return rows


# --------------------------------------------------------------------------- paper vs run


def _score_rows(results: Mapping[str, Any], measure: str) -> dict[str, Mapping[str, Any]]:
    return {
        r["visit"]: r
        for r in results.get("compare", [])
        if r["measure"] == measure and r["analysis"] == "score"
    }


def _randomized(results: Mapping[str, Any]) -> int | None:
    rows = (results.get("compliance") or {}).get("by_arm") or []
    if not rows:
        return None
    first = rows[0]["visit"]
    return sum(int(r["randomized"]) for r in rows if r["visit"] == first)


def _within(value: Any, target: Any, tolerance: float) -> bool | None:
    if _missing(value) or _missing(target):
        return None
    return abs(value - target) <= tolerance


@dataclass
class PaperRow:
    visit: str
    paper_a: str
    run_a: str
    paper_b: str
    run_b: str
    paper_p: str
    run_p: str
    paper_scored: str
    run_scored: str
    #: every figure the paper gives is within the reference's bounds (None: nothing to check)
    agrees: bool | None


def _paper_row(
    visit: str,
    paper: Mapping[str, Any],
    row: Mapping[str, Any] | None,
    randomized: int | None,
    scored: float | None,
    checks: list[bool],
) -> PaperRow:
    reported = bool(paper.get("reported"))
    given = "not given"
    if paper.get("p_value") is not None:
        paper_p = f"{paper['p_value']:g}"  # as printed in the paper
    else:
        paper_p = "< .05" if paper.get("significant") else "> .05 (not significant)"

    def ours(arm: str) -> str:
        if row is None:
            return DASH
        return f"{mean_sd(row[f'mean_{arm}'], row[f'sd_{arm}'])}, n={row[f'n_{arm}']}"

    return PaperRow(
        visit=visit,
        paper_a=mean_sd(paper.get("mean_a"), paper.get("sd_a")) if reported else given,
        run_a=ours("a"),
        paper_b=mean_sd(paper.get("mean_b"), paper.get("sd_b")) if reported else given,
        run_b=ours("b"),
        paper_p=paper_p,
        run_p=DASH if row is None else pval(row["p_value"]),
        paper_scored=str(paper.get("scored_text", given)) if reported else given,
        run_scored=DASH
        if row is None or scored is None
        else f"{row['n_a'] + row['n_b']} of {randomized} ({pct(scored)})",
        agrees=all(checks) if checks else None,
    )


def paper_rows(results: Mapping[str, Any]) -> list[PaperRow]:
    """The reference figures beside the run's, per visit of the reference measure."""
    reference = results.get("reference") or {}
    measure = reference.get("measure", "TOI")
    bounds = reference.get("bounds") or {}
    visits, _ = _labels(results)
    ours = _score_rows(results, measure)
    randomized = _randomized(results)
    out = []
    given = reference.get("visits") or {}
    order = [v["code"] for v in results.get("visits", []) if v["code"] in given]
    for code in order + [c for c in given if c not in order]:
        paper = given[code]
        row = ours.get(code)
        scored = None if row is None or not randomized else (row["n_a"] + row["n_b"]) / randomized
        checks: list[bool | None] = []
        if row is not None and paper.get("reported"):
            for key, tolerance in (
                ("mean_a", bounds.get("mean")),
                ("mean_b", bounds.get("mean")),
                ("sd_a", bounds.get("sd")),
                ("sd_b", bounds.get("sd")),
            ):
                if tolerance is not None and paper.get(key) is not None:
                    checks.append(_within(row[key], paper[key], tolerance))
            p_range = bounds.get("p_value")
            if p_range and not _missing(row["p_value"]):
                checks.append(p_range[0] <= row["p_value"] <= p_range[1])
            frac = bounds.get("scored_fraction")
            if frac and scored is not None:
                checks.append(frac[0] <= scored <= frac[1])
        elif row is not None and paper.get("significant") is False and not _missing(row["p_value"]):
            checks.append(row["p_value"] > 0.05)
        known = [c for c in checks if c is not None]
        out.append(_paper_row(visits.get(code, code), paper, row, randomized, scored, known))
    return out


def paper_items(results: Mapping[str, Any]) -> dict[str, str] | None:
    """The reference's statement on the single items beside the run's smallest P."""
    items = (results.get("reference") or {}).get("items")
    if not items:
        return None
    visits, _ = _labels(results)
    rows = [
        r
        for r in results.get("compare", [])
        if r["measure"] in items.get("measures", []) and r["analysis"] == "score"
        and not _missing(r["p_value"])
    ]  # fmt: skip
    if not rows:
        return {"paper": items.get("text", ""), "run": "not analysed in this run", "agrees": ""}
    smallest = min(rows, key=lambda r: r["p_value"])
    significant = sum(r["p_value"] < 0.05 for r in rows)
    return {
        "paper": items.get("text", ""),
        "run": f"{significant} of {len(rows)} item × visit tests with P < .05; smallest P "
        f"{pval(smallest['p_value'])} ({smallest['measure']}, "
        f"{visits.get(smallest['visit'], smallest['visit'])})",
        "agrees": "yes" if (significant == 0) == (items.get("significant") is False) else "no",
    }


def paper_survival(results: Mapping[str, Any]) -> dict[str, str] | None:
    survival = (results.get("reference") or {}).get("survival")
    rows = results.get("survival") or []
    if not survival or not rows:
        return None
    arms = sorted({r["arm"] for r in rows if r["kind"] == "survival_36_months"})
    at_36 = {r["arm"]: r for r in rows if r["kind"] == "survival_36_months"}
    hr = next((r for r in rows if r["kind"] == "hazard_ratio"), None)
    run_hr = DASH
    if hr is not None and survival.get("hazard_ratio_of") == " / ".join(reversed(arms)):
        # the paper's ratio is the other way round: invert ours (and its interval)
        run_hr = ci(1 / hr["estimate"], 1 / hr["ci_high"], 1 / hr["ci_low"], 2)
    elif hr is not None:
        run_hr = ci(hr["estimate"], hr["ci_low"], hr["ci_high"], 2)
    paper_36 = survival.get("survival_36_months") or {}
    return {
        "paper": survival.get("text", ""),
        "paper_hr": f"{survival.get('hazard_ratio', DASH)} ({survival.get('hazard_ratio_of', '')})",
        "run_hr": f"{run_hr} ({survival.get('hazard_ratio_of') or (hr or {}).get('arm', '')})",
        "paper_36": ", ".join(f"{a} {pct(paper_36.get(a))}" for a in arms),
        "run_36": ", ".join(f"{a} {pct(at_36[a]['estimate'])}" for a in arms),
    }


# --------------------------------------------------------------------------- completion


def completion_rows(results: Mapping[str, Any], by: str = "arm") -> list[dict[str, Any]]:
    """Completion per visit × arm (or site): numerators, both denominators, reasons."""
    rows = (results.get("compliance") or {}).get(f"by_{by}", [])
    labels = results.get("missed_reasons") or {}
    out = []
    for r in rows:
        if "fixed_rate" not in r:  # a run from before completion had both denominators
            continue
        missed = {
            key.removeprefix("missed_"): n
            for key, n in r.items()
            if key.startswith("missed_") and key != "missed_total" and n
        }
        counts = [(labels.get(code, code.replace("_", " ")), n) for code, n in missed.items()]
        counts.sort(key=lambda item: (-item[1], item[0]))
        reasons = dict(counts)
        out.append(
            {
                "visit": r.get("visit_label", r["visit"]),
                "group": r["group"],
                "randomized": r["randomized"],
                "not_due": r["not_due"],
                "died": r["died"],
                "off_study": r["off_study"],
                "expected": r["expected"],
                "received": r["received"],
                "missed": r["missed_total"],
                "fixed": f"{r['received']}/{r['due']} ({pct(r['fixed_rate'])})",
                "variable": f"{r['received']}/{r['expected']} ({pct(r['variable_rate'])})",
                "reasons": "; ".join(f"{k} {v}" for k, v in reasons.items()) or DASH,
            }
        )
    return out


# --------------------------------------------------------------------------- models


def mmrm_rows(results: Mapping[str, Any]) -> list[dict[str, str]]:
    """Per measure and visit: LS mean change by arm (95% CI) and the difference a - b."""
    visits, measures = _labels(results)
    lsmeans: dict[tuple[str, str, str], Mapping[str, Any]] = {}
    out = []
    rows = results.get("mmrm", [])
    for r in rows:
        if r["kind"] == "lsmean":
            lsmeans[(r["measure"], r["visit"], r["arm"])] = r
    a, b = arm_codes(results)
    for r in rows:
        if r["kind"] != "difference":
            continue
        la = lsmeans.get((r["measure"], r["visit"], a), {})
        lb = lsmeans.get((r["measure"], r["visit"], b), {})
        out.append(
            {
                "measure": measures.get(r["measure"], r["measure"]),
                "visit": visits.get(r["visit"], r["visit"]),
                "lsmean_a": ci(la.get("estimate"), la.get("ci_low"), la.get("ci_high")),
                "n_a": str(la.get("n", DASH)),
                "lsmean_b": ci(lb.get("estimate"), lb.get("ci_low"), lb.get("ci_high")),
                "n_b": str(lb.get("n", DASH)),
                "difference": ci(r["estimate"], r["ci_low"], r["ci_high"]),
                "se": num(r["se"], 2),
                "df": num(r["df"], 0),
                "p": pval(r["p_value"]),
                "converged": "yes" if r["converged"] else "NO",
            }
        )
    return out


def sensitivity_rows(results: Mapping[str, Any]) -> list[dict[str, str]]:
    visits, measures = _labels(results)
    return [
        {
            "measure": measures.get(r["measure"], r["measure"]),
            "visit": visits.get(r["visit"], r["visit"]),
            "analysis": r["analysis"],
            "assumption": r["assumption"],
            "estimate": ci(r["estimate"], r["ci_low"], r["ci_high"]),
            "p": pval(r["p_value"]),
            "n": str(r["n"]),
            "tipping": DASH if _missing(r["tipping_delta"]) else num(abs(r["tipping_delta"]), 2),
            "note": _sensitivity_note(r),
        }
        for r in results.get("sensitivity", [])
    ]


def _sensitivity_note(row: Mapping[str, Any]) -> str:
    note = str(row.get("note") or "")
    left = row.get("n_not_expected") or 0
    if row["analysis"] != "MMRM" and left:
        note += f"; {left} not imputed (died or left the study before the window closed)"
    return note


def _months(days: Any) -> Any:
    return None if _missing(days) else days / DAYS_PER_MONTH


def ttd_rows(results: Mapping[str, Any]) -> list[dict[str, str]]:
    """Per definition: median time (months, 95% CI) by arm, HR a/b (95% CI), log-rank P."""
    a, b = arm_codes(results)
    by_definition: dict[str, dict[str, Mapping[str, Any]]] = defaultdict(dict)
    for r in results.get("ttd", []):
        key = r["arm"] if r["kind"] == "median" else r["kind"]
        by_definition[r["definition"]][key] = r
    out = []
    for name, parts in by_definition.items():
        in_days = any(p.get("unit") == "days" for p in parts.values())

        def months(value: Any, in_days: bool = in_days) -> Any:
            return _months(value) if in_days else (None if _missing(value) else value)

        def median(arm: str, parts: Mapping[str, Mapping[str, Any]] = parts) -> str:
            row = parts.get(arm)
            if row is None:
                return DASH
            estimate, low, high = (months(row[k]) for k in ("estimate", "ci_low", "ci_high"))
            text = "not reached" if estimate is None else num(estimate)
            limits = " to ".join("NR" if v is None else num(v) for v in (low, high))
            return f"{text} ({limits}); {row['events']}/{row['n']} events"

        hr = parts.get("hazard_ratio", {})
        logrank = parts.get("logrank", {})
        out.append(
            {
                "definition": name,
                "median_a": median(a),
                "median_b": median(b),
                "hr": ci(hr.get("estimate"), hr.get("ci_low"), hr.get("ci_high"), 2),
                "p_cox": pval(hr.get("p_value")),
                "p_logrank": pval(logrank.get("p_value")),
                "excluded": str(next(iter(parts.values())).get("excluded", 0)),
                "note": next(iter(parts.values())).get("note") or "",
            }
        )
    return out


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
            "t": num(r.get("t"), 2),
            "df": num(r.get("df"), 0),
            "p": pval(r["p_value"]),
            "n_obs": str(r["n_obs"]),
            "n_participants": str(r["n_participants"]),
            "converged": "yes" if r["converged"] else "NO",
        }
        for r in results.get("mixed", [])
        if r["kind"] == "arm_difference"
    ]


def survival_rows(results: Mapping[str, Any]) -> list[dict[str, str]]:
    labels = {
        "median_months": "Median OS, months (95% CI)",
        "survival_36_months": "3-year OS (95% CI)",
        "hazard_ratio": "Hazard ratio (95% CI)",
    }
    out = []
    for r in results.get("survival", []):
        if r["kind"] == "survival_36_months":
            value = (
                DASH
                if _missing(r["estimate"])
                else f"{pct(r['estimate'])} ({pct(r['ci_low'])} to {pct(r['ci_high'])})"
            )
        elif r["kind"] == "median_months":
            value = (
                "not reached"
                if _missing(r["estimate"])
                else f"{num(r['estimate'])} ({num(r['ci_low'])} to "
                f"{num(r['ci_high']) if not _missing(r['ci_high']) else 'NR'})"
            )
        else:
            value = f"{ci(r['estimate'], r['ci_low'], r['ci_high'], 2)}; P {pval(r['p_value'])}"
        out.append(
            {
                "what": labels.get(r["kind"], r["kind"]),
                "arm": r["arm"],
                "value": value,
                "events": f"{r['events']}/{r['n']}",
            }
        )
    return out


# --------------------------------------------------------------------------- arms


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
