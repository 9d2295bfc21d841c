"""scoring.sensitivity: Rubin's rules by hand, the MI machinery's sanity, the tipping point."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from scoring.compare import CompareInputError
from scoring.mmrm import mmrm
from scoring.sensitivity import (
    SENSITIVITY_COLUMNS,
    TIPPING_COLUMNS,
    rubin,
    sensitivity_analyses,
    tipping_point,
)
from tests.scoring.rreference import score_table

# ----------------------------------------------------------- Rubin's rules ----


def test_rubins_rules_by_hand() -> None:
    q = [1.0, 1.4, 1.2, 0.9]
    u = [0.25, 0.30, 0.20, 0.27]
    m = 4
    qbar = 4.5 / 4  # 1.125
    ubar = 1.02 / 4  # 0.255
    b = sum((x - qbar) ** 2 for x in q) / (m - 1)  # 0.0491666...
    total = ubar + (1 + 1 / m) * b
    lam = (1 + 1 / m) * b / total
    df_old = (m - 1) / lam**2
    df_obs = (40 + 1) / (40 + 3) * 40 * (1 - lam)
    df = 1 / (1 / df_old + 1 / df_obs)
    pooled = rubin(q, u, df_complete=40)
    assert pooled.estimate == pytest.approx(qbar, rel=1e-15)
    assert pooled.within == pytest.approx(ubar, rel=1e-15)
    assert pooled.between == pytest.approx(0.049166666666666664, rel=1e-14)
    assert pooled.total == pytest.approx(total, rel=1e-15)
    assert pooled.df == pytest.approx(df, rel=1e-13)
    assert pooled.riv == pytest.approx((1 + 1 / m) * b / ubar, rel=1e-14)
    t = qbar / math.sqrt(total)
    assert pooled.t == pytest.approx(t, rel=1e-14)
    assert pooled.p_value == pytest.approx(2 * stats.t.sf(t, df), rel=1e-12)
    half = stats.t.ppf(0.975, df) * math.sqrt(total)
    assert (pooled.ci_low, pooled.ci_high) == pytest.approx((qbar - half, qbar + half), rel=1e-12)
    # Rubin's (1987) large-sample df without the complete-data df
    assert rubin(q, u).df == pytest.approx(df_old, rel=1e-13)


def test_rubins_rules_without_between_imputation_variance() -> None:
    pooled = rubin([2.0, 2.0, 2.0], [0.5, 0.5, 0.5], df_complete=20)
    assert pooled.between == 0 and pooled.total == 0.5
    assert pooled.df == pytest.approx(21 / 23 * 20, rel=1e-15)  # Barnard-Rubin's df_obs
    normal = rubin([2.0, 2.0], [0.5, 0.5])
    assert math.isinf(normal.df)
    assert normal.p_value == pytest.approx(2 * stats.norm.sf(2 / math.sqrt(0.5)), rel=1e-12)
    with pytest.raises(ValueError, match="at least two"):
        rubin([1.0], [1.0])


# ------------------------------------------------------------- MI sanity ----


def simulated(n: int = 400, seed: int = 1, effect: float = 4.0) -> pd.DataFrame:
    """Scores for which the MMRM and the imputation model are both right, with MAR dropout.

    change at visit k = arm effect + 0.2 (baseline - 60) + a random walk (so the
    changes are jointly normal given the baseline, with an unstructured-looking
    covariance); after each visit the participant drops out with a chance that
    depends on the change just observed.
    """
    rng = np.random.default_rng(seed)
    visits = ["month3", "month6", "month12"]
    rows = []
    for i in range(n):
        arm = "A" if i % 2 else "B"
        base = rng.normal(60, 10)
        walk = 0.0
        rows.append((f"p{i}", arm, "baseline", base))
        for k, v in enumerate(visits):
            walk += rng.normal(0, 4)
            y = base + (effect * (k + 1) / 3 if arm == "A" else 0) + 0.2 * (base - 60) + walk
            rows.append((f"p{i}", arm, v, y))
            if rng.random() < 1 / (1 + math.exp(2.0 + 0.15 * (y - base))):
                break
    return pd.DataFrame(rows, columns=["participant_id", "arm", "visit", "TOI"])


@pytest.mark.parametrize(
    ("scores", "visit"), [(simulated(), "month12"), (score_table("toi_256"), "month18")]
)
def test_delta_zero_is_close_to_the_mmrm_estimate(scores: pd.DataFrame, visit: str) -> None:
    fit = mmrm(scores, measure="TOI")
    mar = fit.differences.set_index("visit").loc[visit]
    tip = tipping_point(scores, measure="TOI", visit=visit, n_imputations=100, seed=7)
    zero = tip.table.iloc[0]
    assert zero["delta"] == 0
    # two valid MAR analyses of the same data (different models, so not identical):
    # within a quarter of a standard error
    assert abs(zero["estimate"] - mar["estimate"]) < 0.25 * mar["se"]
    assert 0.8 < zero["se"] / mar["se"] < 1.3


def test_complete_data_give_the_ancova_estimate_exactly() -> None:
    rng = np.random.default_rng(4)
    rows = []
    for i in range(60):
        arm = "A" if i % 3 else "B"
        base = rng.normal(50, 8)
        rows += [
            (f"p{i}", arm, "baseline", base),
            (f"p{i}", arm, "month6", base + rng.normal(2, 4)),
        ]
    scores = pd.DataFrame(rows, columns=["participant_id", "arm", "visit", "TOI"])
    tip = tipping_point(scores, measure="TOI", visit="month6", n_imputations=5, deltas=[0, -3])
    wide = scores.pivot_table(
        index="participant_id", columns="visit", values="TOI", aggfunc="first"
    )
    arm = scores.drop_duplicates("participant_id").set_index("participant_id")["arm"]
    x = np.column_stack(
        [np.ones(60), (arm.loc[wide.index] == "A").to_numpy(float), wide["baseline"]]
    )
    y = (wide["month6"] - wide["baseline"]).to_numpy()
    beta, rss, *_ = np.linalg.lstsq(x, y, rcond=None)
    var = float(rss[0]) / 57 * np.linalg.inv(x.T @ x)[1, 1]
    for _, r in tip.table.iterrows():  # nothing is imputed, so delta changes nothing
        assert r["estimate"] == pytest.approx(beta[1], rel=1e-10)
        assert r["se"] == pytest.approx(math.sqrt(var), rel=1e-10)
        assert r["fmi"] == pytest.approx(2 / (r["df"] + 3), rel=1e-10)
    assert tip.n_missing_a == tip.n_missing_b == 0


def test_the_same_seed_gives_the_same_result_and_another_seed_does_not() -> None:
    scores = simulated(200, seed=3)
    one = tipping_point(scores, measure="TOI", visit="month12", n_imputations=10, seed=11)
    two = tipping_point(scores, measure="TOI", visit="month12", n_imputations=10, seed=11)
    pd.testing.assert_frame_equal(one.table, two.table)
    other = tipping_point(scores, measure="TOI", visit="month12", n_imputations=10, seed=12)
    assert other.table["estimate"].iloc[0] != one.table["estimate"].iloc[0]


def test_the_estimate_moves_linearly_and_monotonically_with_delta() -> None:
    scores = simulated(300, seed=5)
    deltas = [0, -1, -2, -4, -8]
    tip = tipping_point(
        scores, measure="TOI", visit="month12", deltas=deltas, shift_arm="A", n_imputations=20
    )
    est = tip.table["estimate"].to_numpy()
    assert np.all(np.diff(est) < 0)  # arm A's missing scores worse: a - b falls
    slope = (est[1:] - est[0]) / np.array(deltas[1:])
    np.testing.assert_allclose(slope, slope[0], rtol=1e-9)
    # the slope is about the share of arm A whose month-12 score is imputed
    share = tip.n_missing_a / (tip.n_participants / 2)
    assert 0.5 * share < slope[0] < 1.5 * share
    shifted_b = tipping_point(
        scores, measure="TOI", visit="month12", deltas=deltas, shift_arm="B", n_imputations=20
    )
    assert np.all(np.diff(shifted_b.table["estimate"]) > 0)


def test_the_tipping_point_is_where_p_crosses_alpha() -> None:
    scores = simulated(400, seed=1, effect=4.0)
    tip = tipping_point(scores, measure="TOI", visit="month12", n_imputations=30, seed=3)
    table = tip.table
    assert table["significant"].iloc[0]
    assert tip.shift_arm == "A" and (table["delta"] <= 0).all()  # A is favoured: shift A down
    assert tip.tipping_delta is not None and tip.tipping_delta_exact is not None
    i = table.index[table["delta"] == tip.tipping_delta][0]
    assert not table.loc[i, "significant"] and table.loc[i - 1, "significant"]
    assert table.loc[i, "delta"] <= tip.tipping_delta_exact <= table.loc[i - 1, "delta"]
    assert tip.at_tipping_point is not None
    assert tip.at_tipping_point["p_value"] == pytest.approx(0.05, abs=1e-8)
    assert list(table.columns) == list(TIPPING_COLUMNS)
    assert "points worse than predicted under MAR" in tip.note


def test_no_tipping_point_when_not_significant_or_beyond_the_grid() -> None:
    null = simulated(200, seed=8, effect=0.0)
    tip = tipping_point(null, measure="TOI", visit="month12", n_imputations=10)
    assert not tip.table["significant"].iloc[0]  # p = 0.41 with this seed
    assert tip.tipping_delta is None and "not significant at delta 0" in tip.note
    strong = simulated(400, seed=2, effect=15.0)
    far = tipping_point(strong, measure="TOI", visit="month12", deltas=[0, -0.5], n_imputations=5)
    assert far.tipping_delta is None and "beyond the grid" in far.note


def test_input_rules() -> None:
    scores = simulated(100, seed=9)
    with pytest.raises(ValueError, match="start at 0"):
        tipping_point(scores, measure="TOI", visit="month12", deltas=[-1, -2])
    with pytest.raises(ValueError, match="shift_arm"):
        tipping_point(scores, measure="TOI", visit="month12", shift_arm="C")
    with pytest.raises(CompareInputError, match="not a follow-up visit"):
        tipping_point(scores, measure="TOI", visit="baseline")
    no_base = scores[~((scores["participant_id"] == "p0") & (scores["visit"] == "baseline"))]
    tip = tipping_point(no_base, measure="TOI", visit="month6", n_imputations=3, deltas=[0])
    assert tip.excluded_no_baseline == 1 and tip.n_participants == 99


def test_both_analyses_in_one_table() -> None:
    result = sensitivity_analyses(score_table("toi_256"), measure="TOI", visit="month18")
    table = result.table()
    assert list(table.columns) == list(SENSITIVITY_COLUMNS)
    assert list(table["analysis"]) == [
        "MMRM",
        "multiple imputation, ANCOVA",
        "delta-adjusted MI, tipping point",
    ]
    mmrm_row, mi_row, tip_row = (table.iloc[i] for i in range(3))
    diff = result.mmrm.differences.set_index("visit").loc["month18"]
    assert mmrm_row["estimate"] == diff["estimate"] and mmrm_row["p_value"] == diff["p_value"]
    assert mi_row["estimate"] == result.tipping.table["estimate"].iloc[0]
    assert tip_row["tipping_delta"] == result.tipping.tipping_delta_exact
    assert tip_row["p_value"] == pytest.approx(0.05, abs=1e-8)
