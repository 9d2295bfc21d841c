"""scoring.extras: summaries by visit, MID responders, the mixed model."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from scoring.compare import CompareInputError
from scoring.extras import (
    ETON_MIDS,
    MAR_NOTE,
    MID_COLUMNS,
    SUMMARY_COLUMNS,
    fisher_exact_2xk,
    mid_responders,
    mixed_model,
    summary_by_visit,
)
from scoring.io import read_table
from tests.scoring.rreference import FIXTURES, ULPS, close, reference


def scores_with_changes(changes_a: list[float], changes_b: list[float]) -> pd.DataFrame:
    rows = []
    for arm, changes in (("A", changes_a), ("B", changes_b)):
        for i, change in enumerate(changes):
            pid = f"{arm}{i}"
            rows.append((pid, arm, "baseline", 50.0, 20.0))
            rows.append((pid, arm, "month6", 50.0 + change, 20.0 + change))
    return pd.DataFrame(rows, columns=["participant_id", "arm", "visit", "TOI", "BCS"])


# ------------------------------------------------------- summary_by_visit ----


def test_summary_rows_per_measure_visit_arm() -> None:
    scores = read_table(FIXTURES / "compare_scores.csv")
    summary = summary_by_visit(scores, measures=["TOI", "BCS"])
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    assert len(summary) == 2 * 4 * 2
    first = summary.iloc[0]
    assert (first["measure"], first["visit"], first["arm"]) == ("TOI", "baseline", "exercise")
    at = scores[(scores["visit"] == "baseline") & (scores["arm"] == "exercise")]
    values = pd.to_numeric(at["TOI"]).dropna().to_numpy()
    assert first["n"] == values.size
    assert first["mean"] == pytest.approx(values.mean(), rel=1e-14)
    assert first["sd"] == pytest.approx(values.std(ddof=1), rel=1e-14)
    assert first["se"] == pytest.approx(values.std(ddof=1) / math.sqrt(values.size), rel=1e-14)


def test_summary_interval_matches_rs_one_sample_t_interval() -> None:
    for case in reference()["one_sample"]:
        x = case["x"]
        frame = pd.DataFrame(
            {
                "participant_id": [f"p{i}" for i in range(len(x))] + ["q0", "q1"],
                "arm": ["A"] * len(x) + ["B", "B"],
                "visit": "baseline",
                "TOI": [*x, 1.0, 2.0],
            }
        )
        row = summary_by_visit(frame).iloc[0]
        assert close(row["mean"], case["mean"], ULPS)
        assert close(row["sd"], case["sd"], ULPS)
        assert close(row["ci_low"], case["ci_low"], 1e-13)
        assert close(row["ci_high"], case["ci_high"], 1e-13)


def test_summary_leaves_spread_blank_for_a_single_value() -> None:
    frame = pd.DataFrame(
        {
            "participant_id": ["a", "b", "c"],
            "arm": ["A", "B", "B"],
            "visit": "baseline",
            "TOI": [40.0, 41.0, 43.0],
        }
    )
    row = summary_by_visit(frame).iloc[0]
    assert row["n"] == 1 and row["mean"] == 40.0 and row["median"] == 40.0
    assert math.isnan(row["sd"]) and math.isnan(row["ci_low"])


# ---------------------------------------------------------- MID responders ----


def test_mid_boundaries_count_as_improved_and_worsened() -> None:
    # TOI MID = 5: +5 improved, -5 worsened, +-4.9 stable
    scores = scores_with_changes([5.0, 4.9, -4.9, -5.0, 12.0], [0.0, -7.0, 6.0])
    table = mid_responders(scores, thresholds={"TOI": 5})
    assert list(table.columns) == list(MID_COLUMNS)
    a, b = table.iloc[0], table.iloc[1]
    assert (a["arm"], a["n"], a["improved"], a["stable"], a["worsened"]) == ("A", 5, 2, 2, 1)
    assert (b["arm"], b["improved"], b["stable"], b["worsened"]) == ("B", 1, 1, 1)
    assert a["pct_improved"] == 40.0 and a["pct_stable"] == 40.0 and a["pct_worsened"] == 20.0
    assert a["test"] == "fisher" and a["p_value"] == b["p_value"]


def test_default_mids_are_eton_lower_bounds_for_the_measures_present() -> None:
    assert dict(ETON_MIDS) == {"BCS": 2, "TOI": 5, "FACTG": 5, "FACTB": 7}
    table = mid_responders(scores_with_changes([3.0, -1.0], [2.0, -2.0]))
    assert list(dict.fromkeys(table["measure"])) == ["BCS", "TOI"]
    bcs = table[table["measure"] == "BCS"].iloc[0]
    assert bcs["mid"] == 2 and bcs["improved"] == 1 and bcs["stable"] == 1


def test_large_tables_use_chi_square() -> None:
    rng = np.random.default_rng(8)
    scores = scores_with_changes(list(rng.normal(3, 6, 300)), list(rng.normal(0, 6, 300)))
    row = mid_responders(scores, thresholds={"TOI": 5}).iloc[0]
    assert row["test"] == "chisq" and row["df"] == 2
    assert row["p_value"] < 0.01


def test_fisher_and_chi_square_match_r() -> None:
    from scoring.extras import _mid_test

    for case in reference()["contingency"]:
        flat = case["table"]
        table = np.array(flat, dtype=np.int64).reshape(2, -1)
        assert close(fisher_exact_2xk(table), case["fisher_p"], 1e-9), table
        expected = np.outer(table.sum(1), table.sum(0)) / table.sum()
        test, statistic, df, p = _mid_test(
            np.hstack([table, np.zeros((2, 3 - table.shape[1]), dtype=np.int64)])
        )
        if (expected >= 5).all():
            assert test == "chisq"
            assert close(statistic, case["chisq_statistic"], 1e-12)
            assert df == case["chisq_df"]
            assert close(p, case["chisq_p"], 1e-12)
        else:
            assert test == "fisher"


def test_mid_rejects_bad_thresholds_and_absent_measures() -> None:
    scores = scores_with_changes([1.0, 2.0], [3.0, 4.0])
    with pytest.raises(CompareInputError, match="positive number"):
        mid_responders(scores, thresholds={"TOI": -5})
    with pytest.raises(CompareInputError, match="none of the MID measures"):
        mid_responders(scores, thresholds={"FACTB": 7})


# -------------------------------------------------------------- mixed model ----


def test_mixed_model_agrees_with_nlme_lme() -> None:
    ref = reference()["mixed"]
    scores = read_table(FIXTURES / "compare_scores.csv")
    scores = scores[scores["visit"].isin(ref["visits"])]
    fit = mixed_model(scores, measure="TOI")
    fixed = fit[fit["kind"] == "fixed_effect"].set_index("term")
    names = {
        "(Intercept)": "(Intercept)",
        "armexercise": "arm[exercise]",
        "visitweek12": "visit[week12]",
        "visitmonth6": "visit[month6]",
        "armexercise:visitweek12": "arm[exercise]:visit[week12]",
        "armexercise:visitmonth6": "arm[exercise]:visit[month6]",
    }
    for r_term, estimate, se in zip(ref["terms"], ref["estimate"], ref["se"], strict=True):
        row = fixed.loc[names[r_term]]
        # Two optimisers of the same REML likelihood: agreement to ~1e-5.
        assert row["estimate"] == pytest.approx(estimate, rel=1e-4, abs=1e-4), r_term
        assert row["se"] == pytest.approx(se, rel=1e-3), r_term


def test_mixed_model_reports_the_arm_difference_at_each_visit_and_assumes_mar() -> None:
    scores = read_table(FIXTURES / "compare_scores.csv")
    fit = mixed_model(scores, measure="BCS")
    diffs = fit[fit["kind"] == "arm_difference"]
    assert diffs["visit"].tolist() == ["baseline", "week12", "month6", "month12"]
    fixed = fit[fit["kind"] == "fixed_effect"].set_index("term")
    baseline = diffs.iloc[0]
    assert baseline["estimate"] == pytest.approx(fixed.loc["arm[exercise]", "estimate"])
    week12 = diffs.iloc[1]
    assert week12["estimate"] == pytest.approx(
        fixed.loc["arm[exercise]", "estimate"]
        + fixed.loc["arm[exercise]:visit[week12]", "estimate"]
    )
    assert (diffs["ci_low"] < diffs["estimate"]).all() and (
        diffs["estimate"] < diffs["ci_high"]
    ).all()
    assert "missing at random" in MAR_NOTE
    assert fit["note"].str.contains("missing at random").all()
    assert fit["converged"].all()


def test_mixed_model_drops_a_visit_with_one_arm_only() -> None:
    scores = scores_with_changes([1.0, 2.0, 3.0], [0.0, -1.0, 1.0])
    extra = pd.DataFrame([("A0", "A", "month12", 55.0, 21.0)], columns=list(scores.columns))
    fit = mixed_model(pd.concat([scores, extra]), measure="TOI")
    assert "month12" not in set(fit["visit"])
