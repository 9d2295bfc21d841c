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
from tests.scoring.rreference import FIXTURES, ULPS, close, models, reference, score_table


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


def test_a_change_of_exactly_the_mid_between_prorated_scores_reaches_it() -> None:
    # 35.3 - 30.3 is 4.9999999999999964 in floating point; by hand the change is 5.0, the MID.
    rows = [
        ("a", "A", "baseline", 30.3),
        ("a", "A", "month6", 35.3),
        ("b", "A", "baseline", 35.3),
        ("b", "A", "month6", 30.3),
        ("c", "B", "baseline", 40.0),
        ("c", "B", "month6", 40.0),
    ]
    scores = pd.DataFrame(rows, columns=["participant_id", "arm", "visit", "TOI"])
    assert 35.3 - 30.3 < 5.0
    a = mid_responders(scores, thresholds={"TOI": 5}).iloc[0]
    assert (a["arm"], a["improved"], a["stable"], a["worsened"]) == ("A", 1, 0, 1)


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


def _fixed_effects_by_r_name(fit: pd.DataFrame, arm_a: str) -> pd.DataFrame:
    fixed = fit[fit["kind"] == "fixed_effect"].copy()
    fixed["r_term"] = (
        fixed["term"]
        .str.replace(f"arm[{arm_a}]", f"arm{arm_a}", regex=False)
        .str.replace("visit[", "visit", regex=False)
        .str.replace("]", "", regex=False)
    )
    # R orders arm before visit in the main effects
    return fixed.set_index("r_term")


def test_mixed_model_agrees_with_nlme_lme() -> None:
    ref = reference()["mixed"]
    scores = read_table(FIXTURES / "compare_scores.csv")
    scores = scores[scores["visit"].isin(ref["visits"])]
    fit = mixed_model(scores, measure="TOI")
    fixed = _fixed_effects_by_r_name(fit, "exercise").loc[ref["terms"]]
    np.testing.assert_allclose(fixed["estimate"], ref["estimate"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(fixed["se"], ref["se"], rtol=0, atol=1e-6)
    np.testing.assert_array_equal(fixed["df"], ref["df"])
    np.testing.assert_allclose(fixed["t"], ref["t"], rtol=0, atol=1e-6)
    np.testing.assert_array_equal(fixed["z"], fixed["t"])
    np.testing.assert_allclose(fixed["p_value"], ref["p_value"], rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("name", [m["name"] for m in models()["lme"]])
def test_mixed_model_agrees_with_nlme_lme_on_more_tables(name: str) -> None:
    ref = next(m for m in models()["lme"] if m["name"] == name)
    fit = mixed_model(score_table(name), measure="TOI")
    for settings in ("tight", "default"):  # lme's defaults converge just as well here
        want = ref[settings]
        fixed = _fixed_effects_by_r_name(fit, ref["arm_a"]).loc[want["terms"]]
        np.testing.assert_allclose(fixed["estimate"], want["estimate"], atol=1e-6)
        np.testing.assert_allclose(fixed["se"], want["se"], atol=1e-6)
        np.testing.assert_array_equal(fixed["df"], want["df"])
        np.testing.assert_allclose(fixed["p_value"], want["p_value"], atol=1e-6)
        diffs = fit[fit["kind"] == "arm_difference"]
        expected = pd.DataFrame(want["differences"])
        assert list(diffs["visit"]) == list(expected["visit"])
        for col in ("estimate", "se", "t", "df", "p_value", "ci_low", "ci_high"):
            np.testing.assert_allclose(diffs[col], expected[col], atol=1e-6, err_msg=col)
    assert (fit["n_obs"] == ref["n_obs"]).all()
    assert (fit["n_participants"] == ref["n_groups"]).all()


def test_random_intercept_by_hand_on_balanced_complete_data() -> None:
    # Balanced, complete data: the REML fixed effects are the cell means, the
    # variance components the ANOVA (method of moments) estimates, and the arm
    # difference at a visit has variance (sigma^2 + tau^2)(1/n_a + 1/n_b).
    rng = np.random.default_rng(11)
    visits = ["baseline", "month6", "month12"]
    n_a = n_b = 12
    rows = []
    for i in range(n_a + n_b):
        arm = "A" if i < n_a else "B"
        person = rng.normal(0, 6)
        for k, v in enumerate(visits):
            rows.append((f"p{i}", arm, v, 60 + person + 2.0 * k * (arm == "A") + rng.normal(0, 3)))
    scores = pd.DataFrame(rows, columns=["participant_id", "arm", "visit", "TOI"])
    fit = mixed_model(scores, measure="TOI")
    k = len(visits)
    wide = scores.pivot_table(
        index="participant_id", columns="visit", values="TOI", aggfunc="first"
    )[visits]
    arm = scores.drop_duplicates("participant_id").set_index("participant_id")["arm"]
    y = wide.to_numpy()
    in_a = (arm.loc[wide.index] == "A").to_numpy()
    cell = {g: y[in_a if g == "A" else ~in_a].mean(axis=0) for g in ("A", "B")}
    # residual mean square after participant and arm x visit effects
    fitted = np.where(in_a[:, None], cell["A"], cell["B"])
    person_means = (y - fitted).mean(axis=1, keepdims=True)
    resid = y - fitted - person_means
    n = n_a + n_b
    sigma2 = float((resid**2).sum() / ((n - 2) * (k - 1)))
    ms_between = float(k * (person_means**2).sum() / (n - 2))
    tau2 = (ms_between - sigma2) / k
    diffs = fit[fit["kind"] == "arm_difference"].set_index("visit")
    for j, v in enumerate(visits):
        assert diffs.loc[v, "estimate"] == pytest.approx(cell["A"][j] - cell["B"][j], rel=1e-10)
        se = math.sqrt((sigma2 + tau2) * (1 / n_a + 1 / n_b))
        assert diffs.loc[v, "se"] == pytest.approx(se, rel=1e-8)
    # containment df: arm n - 2; within-participant terms N - n - 4
    fixed = fit[fit["kind"] == "fixed_effect"].set_index("term")
    assert fixed.loc["arm[A]", "df"] == n - 2
    assert fixed.loc["visit[month6]", "df"] == n * k - n - 4
    assert diffs.loc["month6", "df"] == n - 2  # the smaller of the two strata


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


def test_mixed_columns_only_grew() -> None:
    from scoring.extras import MIXED_COLUMNS

    first_release = (
        *("measure", "kind", "term", "visit", "estimate", "se", "z", "p_value"),
        *("ci_low", "ci_high", "n_obs", "n_participants", "converged", "note"),
    )
    assert MIXED_COLUMNS[: len(first_release)] == first_release
    assert MIXED_COLUMNS[len(first_release) :] == ("t", "df")


def test_random_intercept_at_the_boundary_is_least_squares() -> None:
    # Scores that vary less between participants than within them: the REML
    # between-participant variance is 0 (nlme reports a vanishing tau), and
    # the fixed effects are ordinary least squares.
    from scoring.random_intercept import fit_random_intercept

    rng = np.random.default_rng(21)
    n, k = 30, 3
    group = np.repeat(np.arange(n), k).astype(np.intp)
    visit = np.tile(np.arange(k), n).astype(np.intp)
    noise = rng.normal(0, 3, (n, k))
    # every participant's scores average exactly 50 + the visit effects: no
    # between-participant variation at all, within-participant noise only
    y = (50 + np.array([0.0, 1.0, -1.5]) + noise - noise.mean(axis=1, keepdims=True)).ravel()
    x = np.column_stack([np.ones(n * k), (visit == 1).astype(float), (visit == 2).astype(float)])
    fit = fit_random_intercept(y, x, group, visit, k)
    assert fit.tau2 == 0.0
    beta, rss, *_ = np.linalg.lstsq(x, y, rcond=None)
    np.testing.assert_allclose(fit.beta, beta, rtol=1e-12)
    sigma2 = float(rss[0]) / (n * k - 3)
    assert fit.sigma2 == pytest.approx(sigma2, rel=1e-12)
    np.testing.assert_allclose(fit.cov_beta, sigma2 * np.linalg.inv(x.T @ x), rtol=1e-10)
    assert "boundary" in fit.message and fit.converged
