"""scoring.mmrm: the MMRM on change from baseline against nlme::gls, and by hand."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from scoring.compare import CompareInputError
from scoring.mmrm import MMRM_COLUMNS, mmrm, term_names
from scoring.reml import ModelError
from tests.scoring.rreference import models, score_table

#: The brief's bar for fitted models; the measured agreement is about 1e-8.
TOL = 1e-6
DATASETS = [m["name"] for m in models()["mmrm"]]


def ref(name: str) -> dict[str, Any]:
    return next(m for m in models()["mmrm"] if m["name"] == name)


def r_term(name: str, arm_a: str) -> str:
    """Our coefficient name -> R's (``arm[A]:visit[m6]`` -> ``armA:visitm6``)."""
    return (
        name.replace("baseline", "base")
        .replace(f"arm[{arm_a}]", f"arm{arm_a}")
        .replace("visit[", "visit")
        .replace("]", "")
    )


@pytest.mark.parametrize("name", DATASETS)
def test_coefficients_match_nlme_gls(name: str) -> None:
    r = ref(name)
    fit = mmrm(score_table(name), measure="TOI")
    want = r["tight"]
    assert fit.converged and fit.message == "converged"
    assert (fit.arm_a, fit.arm_b) == (r["arm_a"], r["arm_b"])
    assert list(fit.visits) == r["visits"]
    assert (fit.n_participants, fit.n_obs) == (r["n_participants"], r["n_obs"])
    coef = fit.coefficients
    assert [r_term(t, fit.arm_a) for t in coef["term"]] == want["terms"]
    assert fit.df_residual == want["df"] and (coef["df"] == want["df"]).all()
    for col in ("estimate", "se", "t", "p_value"):
        np.testing.assert_allclose(coef[col], want[col], rtol=0, atol=TOL, err_msg=col)
    assert fit.loglik == pytest.approx(want["loglik"], abs=1e-7)


@pytest.mark.parametrize("name", DATASETS)
def test_lsmeans_differences_and_covariance_match_nlme_gls(name: str) -> None:
    want = ref(name)["tight"]
    fit = mmrm(score_table(name), measure="TOI")
    assert fit.baseline_mean == pytest.approx(want["baseline_mean_participants"], rel=1e-14)
    lsm = fit.lsmeans
    assert list(lsm["arm"]) == want["lsmeans"]["arm"]
    assert list(lsm["visit"]) == want["lsmeans"]["visit"]
    for col in ("estimate", "se", "ci_low", "ci_high"):
        np.testing.assert_allclose(lsm[col], want["lsmeans"][col], atol=TOL, err_msg=col)
    diffs = fit.differences
    expected = pd.DataFrame(want["differences"])
    assert list(diffs["visit"]) == list(expected["visit"])
    for col in ("estimate", "se", "t", "df", "p_value", "ci_low", "ci_high"):
        np.testing.assert_allclose(diffs[col], expected[col], atol=TOL, err_msg=col)
    np.testing.assert_allclose(fit.covariance.to_numpy(), want["covariance"], atol=TOL)
    np.testing.assert_allclose(fit.correlation.to_numpy(), want["correlation"], atol=TOL)
    assert list(fit.covariance.index) == list(fit.visits)


@pytest.mark.parametrize("name", DATASETS)
def test_lsmeans_at_the_mean_over_observations_as_emmeans(name: str) -> None:
    want = ref(name)["tight"]
    fit = mmrm(score_table(name), measure="TOI", baseline_mean="observations")
    assert fit.baseline_mean == pytest.approx(want["baseline_mean_observations"], rel=1e-14)
    for col in ("estimate", "se"):
        np.testing.assert_allclose(
            fit.lsmeans[col], want["lsmeans_observations"][col], atol=TOL, err_msg=col
        )
    # the arm differences do not depend on the baseline value used
    participants = mmrm(score_table(name), measure="TOI").differences
    np.testing.assert_allclose(fit.differences["estimate"], participants["estimate"], atol=1e-10)


@pytest.mark.parametrize("name", DATASETS)
def test_our_optimum_is_at_least_as_high_as_gls_defaults(name: str) -> None:
    # gls() with its default nlminb tolerances stops short of the optimum (by up
    # to 6e-5 in the estimates on these data); we never end below it.
    default = ref(name)["default"]
    fit = mmrm(score_table(name), measure="TOI")
    assert fit.loglik >= default["loglik"] - 1e-9
    np.testing.assert_allclose(fit.coefficients["estimate"], default["estimate"], atol=1e-4)


# ------------------------------------------------------------- by hand ----


def long_scores(rng: np.random.Generator, n: int, visits: list[str]) -> pd.DataFrame:
    rows = []
    for i in range(n):
        arm = "A" if i % 2 else "B"
        base = rng.normal(60, 10)
        rows.append((f"p{i}", arm, "baseline", base))
        level = 0.0
        for k, visit in enumerate(visits):
            level += rng.normal(0, 4)
            rows.append((f"p{i}", arm, visit, base + level + (3.0 if arm == "A" else 0) * k))
    return pd.DataFrame(rows, columns=["participant_id", "arm", "visit", "TOI"])


def test_one_follow_up_visit_is_ancova_by_least_squares() -> None:
    scores = long_scores(np.random.default_rng(5), 41, ["month6"])
    fit = mmrm(scores, measure="TOI")
    wide = scores.pivot_table(
        index="participant_id", columns="visit", values="TOI", aggfunc="first"
    )
    arm = scores.drop_duplicates("participant_id").set_index("participant_id")["arm"]
    x = np.column_stack(
        [np.ones(len(wide)), (arm.loc[wide.index] == "A").to_numpy(float), wide["baseline"]]
    )
    y = (wide["month6"] - wide["baseline"]).to_numpy()
    beta, rss, *_ = np.linalg.lstsq(x, y, rcond=None)
    sigma2 = float(rss[0]) / (len(y) - 3)
    se = np.sqrt(np.diag(sigma2 * np.linalg.inv(x.T @ x)))
    coef = fit.coefficients.set_index("term")
    np.testing.assert_allclose(coef["estimate"], beta, rtol=1e-10)
    np.testing.assert_allclose(coef["se"], se, rtol=1e-8)
    assert fit.covariance.iloc[0, 0] == pytest.approx(sigma2, rel=1e-8)
    assert fit.differences["estimate"].iloc[0] == pytest.approx(beta[1], rel=1e-10)


def dense_reml_deviance(
    sigma: np.ndarray, x: np.ndarray, y: np.ndarray, blocks: list[Any]
) -> float:
    """-2 REML log-likelihood with the full N x N covariance (independent of scoring.reml)."""
    v = np.zeros((len(y), len(y)))
    for rows, visits in blocks:
        v[np.ix_(rows, rows)] = sigma[np.ix_(visits, visits)]
    vinv = np.linalg.inv(v)
    a = x.T @ vinv @ x
    beta = np.linalg.solve(a, x.T @ vinv @ y)
    r = y - x @ beta
    n, p = x.shape
    return float(
        np.linalg.slogdet(v)[1]
        + np.linalg.slogdet(a)[1]
        + r @ vinv @ r
        + (n - p) * math.log(2 * math.pi)
    )


def test_the_fit_is_the_reml_optimum_by_a_dense_independent_computation() -> None:
    # Intermittent and monotone missing visits: participants use sub-matrices.
    scores = score_table("mar_dropout")
    fit = mmrm(scores, measure="TOI")
    base = scores[scores["visit"] == "baseline"].dropna().set_index("participant_id")["TOI"]
    rows = scores[(scores["visit"] != "baseline") & scores["TOI"].notna()].copy()
    rows["base"] = rows["participant_id"].map(base)
    rows = rows.dropna(subset=["base"]).reset_index(drop=True)
    vi = rows["visit"].map({v: i for i, v in enumerate(fit.visits)}).to_numpy()
    is_a = (rows["arm"] == fit.arm_a).to_numpy(float)
    k = len(fit.visits)
    dummies = (vi[:, None] == np.arange(1, k)).astype(float)
    x = np.column_stack([np.ones(len(rows)), is_a, dummies, rows["base"], is_a[:, None] * dummies])
    y = (rows["TOI"] - rows["base"]).to_numpy()
    blocks = [(idx, vi[idx]) for idx in rows.groupby("participant_id").indices.values()]
    assert any(len(r) < k for r, _ in blocks) and any(len(r) == k for r, _ in blocks)
    sigma = fit.covariance.to_numpy()
    deviance = dense_reml_deviance(sigma, x, y, blocks)
    assert -deviance / 2 == pytest.approx(fit.loglik, abs=1e-8)
    # GLS estimate and its covariance, densely
    v = np.zeros((len(y), len(y)))
    for r, vis in blocks:
        v[np.ix_(r, r)] = sigma[np.ix_(vis, vis)]
    vinv = np.linalg.inv(v)
    cov = np.linalg.inv(x.T @ vinv @ x)
    np.testing.assert_allclose(fit.coefficients["estimate"], cov @ x.T @ vinv @ y, rtol=1e-9)
    np.testing.assert_allclose(fit.coefficients["se"], np.sqrt(np.diag(cov)), rtol=1e-9)
    # Optimality: every small change of the covariance raises the deviance.
    low = np.linalg.cholesky(sigma)
    h = 1e-4
    for i, j in zip(*np.tril_indices(k), strict=True):
        e = np.zeros_like(low)
        e[i, j] = h * max(1.0, abs(low[i, j]))
        up = dense_reml_deviance((low + e) @ (low + e).T, x, y, blocks)
        down = dense_reml_deviance((low - e) @ (low - e).T, x, y, blocks)
        assert up > deviance and down > deviance
        assert abs(up - down) / (2 * e[i, j]) < 1e-4  # zero slope


def test_arm_labels_swapped_give_opposite_differences() -> None:
    scores = score_table("balanced")
    fit = mmrm(scores, measure="TOI")
    swapped = scores.assign(arm=scores["arm"].map({fit.arm_a: "zz", fit.arm_b: "aa"}))
    other = mmrm(swapped, measure="TOI")
    assert (other.arm_a, other.arm_b) == ("aa", "zz")
    np.testing.assert_allclose(
        other.differences["estimate"], -fit.differences["estimate"], atol=1e-8
    )
    np.testing.assert_allclose(other.differences["p_value"], fit.differences["p_value"], atol=1e-8)


def test_exclusions_are_counted_and_thin_visits_dropped() -> None:
    scores = long_scores(np.random.default_rng(9), 30, ["month6", "month12", "month18"])
    no_base = scores["participant_id"].isin(["p0", "p1"]) & (scores["visit"] == "baseline")
    only_base = scores["participant_id"].isin(["p2"]) & (scores["visit"] != "baseline")
    # month18: arm B keeps a single change, so the visit is left out
    thin = (
        (scores["visit"] == "month18") & (scores["arm"] == "B") & (scores["participant_id"] != "p4")
    )
    fit = mmrm(scores.loc[~(no_base | only_base | thin)], measure="TOI")
    assert fit.excluded_no_baseline == 2
    assert fit.excluded_no_followup == 1
    assert fit.dropped_visits == ("month18",)
    assert fit.visits == ("month6", "month12")
    assert fit.n_participants == 27
    assert "month18" in fit.note
    assert term_names("A", fit.visits) == list(fit.coefficients["term"])


def test_unusable_input_is_refused() -> None:
    scores = long_scores(np.random.default_rng(2), 10, ["month6", "month12"])
    with pytest.raises(CompareInputError, match="no follow-up visit"):
        # arm B has baseline scores only
        mmrm(scores[(scores["arm"] == "A") | (scores["visit"] == "baseline")], measure="TOI")
    with pytest.raises(CompareInputError, match="not found among the follow-up visits"):
        mmrm(scores, measure="TOI", visits=["month24"])
    # nobody seen at both visits: the correlation is not identifiable
    alternate = scores[
        (scores["visit"] == "baseline")
        | (
            (scores["visit"] == "month6")
            & scores["participant_id"].isin([f"p{i}" for i in range(5)])
        )
        | (
            (scores["visit"] == "month12")
            & ~scores["participant_id"].isin([f"p{i}" for i in range(5)])
        )
    ]
    with pytest.raises(ModelError, match="correlation cannot be estimated"):
        mmrm(alternate, measure="TOI")


def test_table_has_every_part_in_long_form() -> None:
    fit = mmrm(score_table("toi_256"), measure="TOI")
    table = fit.table()
    assert list(table.columns) == list(MMRM_COLUMNS)
    kinds = table["kind"].value_counts().to_dict()
    k = len(fit.visits)
    assert kinds == {
        "coefficient": 2 * k + 1,
        "lsmean": 2 * k,
        "difference": k,
        "covariance": k * k,
        "correlation": k * k,
    }
    month18 = table[(table["kind"] == "difference") & (table["visit"] == "month18")].iloc[0]
    assert month18["term"] == f"{fit.arm_a} - {fit.arm_b} at month18"
    assert month18["estimate"] == fit.differences.set_index("visit").loc["month18", "estimate"]
    assert table["note"].str.contains("missing at random").all()
