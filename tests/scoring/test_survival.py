"""scoring.survival: Kaplan-Meier, log-rank and Cox against R's survival package and by hand."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from scoring.survival import cox_ph, kaplan_meier, logrank
from tests.scoring.rreference import models, value, values

CASES = models()["survival"]
IDS = [c["name"] for c in CASES]


def arrays(case: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.array(case["time"], dtype=float),
        np.array(case["event"], dtype=float),
        np.array(case["arm"]),
    )


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_kaplan_meier_curve_and_median_match_survfit(case: dict[str, Any]) -> None:
    time, event, arm = arrays(case)
    for want in case["km"]:
        km = kaplan_meier(time[arm == want["arm"]], event[arm == want["arm"]])
        for field in ("time", "n_risk", "n_event", "n_censor", "surv", "std_err", "lower", "upper"):
            np.testing.assert_allclose(
                getattr(km, field), values(want[field]), rtol=1e-13, err_msg=field
            )  # NaN (R's NA) must be NaN and Inf must be Inf
        assert (km.n, km.events) == (want["n"], want["events"])
        got = (km.median, km.median_low, km.median_high)
        expected = (value(want["median"]), value(want["median_lcl"]), value(want["median_ucl"]))
        np.testing.assert_array_equal(got, expected)


def test_the_fixture_covers_medians_and_limits_not_reached_and_the_half_rule() -> None:
    km = {(c["name"], k["arm"]): k for c in CASES for k in c["km"]}
    assert km[("median_not_reached", "A")]["median"] is None
    assert km[("upper_limit_not_reached", "A")]["median"] is not None
    assert km[("upper_limit_not_reached", "A")]["median_ucl"] is None
    assert km[("half_exactly", "A")]["median"] == 5.5  # S = 0.5 on [5, 6): midpoint
    assert math.isinf(km[("drops_to_zero", "A")]["std_err"][-1])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_logrank_matches_survdiff(case: dict[str, Any]) -> None:
    time, event, arm = arrays(case)
    test = logrank(time, event, arm == case["arm_a"])
    want = case["logrank"]
    assert test.chisq == pytest.approx(want["chisq"], rel=1e-12)
    assert test.p_value == pytest.approx(want["p_value"], rel=1e-12)
    assert test.df == want["df"] == 1
    # survdiff lists arm b (the reference level) first
    observed = dict(zip(want["arms"], want["observed"], strict=True))
    expected = dict(zip(want["arms"], want["expected"], strict=True))
    assert test.observed_a == observed[case["arm_a"]]
    assert test.expected_a == pytest.approx(expected[case["arm_a"]], rel=1e-12)
    assert test.expected_b == pytest.approx(expected[case["arm_b"]], rel=1e-12)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_cox_efron_matches_coxph(case: dict[str, Any]) -> None:
    time, event, arm = arrays(case)
    fit = cox_ph(time, event, arm == case["arm_a"])
    assert fit.converged
    for settings, tol in (("cox_tight", 1e-9), ("cox", 1e-6)):
        want = case[settings]
        for field in ("coef", "se", "hr", "hr_low", "hr_high", "z", "p_value"):
            assert getattr(fit, field) == pytest.approx(want[field], rel=tol, abs=tol), field
        assert fit.loglik_null == pytest.approx(want["loglik"][0], rel=1e-12)
        assert fit.loglik == pytest.approx(want["loglik"][1], rel=1e-12)


# --------------------------------------------------- published and by hand ----

# Freireich et al. (1963) remission times (weeks), 6-MP vs placebo (Gehan 1965;
# Cox 1972), the textbook example: "+" = censored.
SIX_MP = "6 6 6 6+ 7 9+ 10 10+ 11+ 13 16 17+ 19+ 20+ 22 23 25+ 32+ 32+ 34+ 35+"
PLACEBO = "1 1 2 2 3 4 4 5 5 8 8 8 8 11 11 12 12 15 17 22 23"


def parse(text: str) -> tuple[list[float], list[int]]:
    cells = text.split()
    return [float(c.rstrip("+")) for c in cells], [0 if c.endswith("+") else 1 for c in cells]


def test_the_6mp_leukaemia_example() -> None:
    t1, e1 = parse(SIX_MP)
    t0, e0 = parse(PLACEBO)
    km = kaplan_meier(t1, e1)
    # the product-limit values every textbook prints
    at = dict(zip(km.time, km.surv, strict=True))
    for t, s in {6: 0.857, 7: 0.807, 10: 0.753, 13: 0.690, 16: 0.627, 22: 0.538, 23: 0.448}.items():
        assert round(at[t], 3) == s
    assert at[6] == pytest.approx(18 / 21, rel=1e-15)
    assert at[7] == pytest.approx(18 / 21 * 16 / 17, rel=1e-15)
    assert (km.median, km.median_low) == (23, 16) and math.isnan(km.median_high)
    placebo = kaplan_meier(t0, e0)
    assert (placebo.median, placebo.median_low, placebo.median_high) == (8, 4, 12)
    # placebo versus 6-MP: chi-square 16.8, HR 4.82 (coef 1.572, se 0.412)
    time = np.array(t0 + t1)
    event = np.array(e0 + e1)
    placebo_arm = np.arange(42) < 21
    assert round(logrank(time, event, placebo_arm).chisq, 1) == 16.8
    fit = cox_ph(time, event, placebo_arm)
    assert (round(fit.coef, 4), round(fit.se, 4), round(fit.hr, 3)) == (1.5721, 0.4124, 4.817)
    assert round(fit.p_value, 6) == 0.000138


def test_logrank_by_hand() -> None:
    # arm a: events at 1 and 3; arm b: event at 2, censored at 3, event at 4
    time = [1, 3, 2, 3, 4]
    event = [1, 1, 1, 0, 1]
    in_a = [True, True, False, False, False]
    # t=1: n=5 (2 in a), d=1 -> E_a = 2/5, V = 1 * 2/5 * 3/5 * 4/4
    # t=2: n=4 (1 in a), d=1 -> E_a = 1/4, V = 1/4 * 3/4
    # t=3: n=3 (1 in a), d=1 -> E_a = 1/3, V = 1/3 * 2/3
    # t=4: n=1 (0 in a), d=1 -> E_a = 0,   V = 0
    e_a = 2 / 5 + 1 / 4 + 1 / 3
    v = 6 / 25 + 3 / 16 + 2 / 9
    test = logrank(time, event, in_a)
    assert test.expected_a == pytest.approx(e_a, rel=1e-15)
    assert test.variance == pytest.approx(v, rel=1e-15)
    assert test.chisq == pytest.approx((2 - e_a) ** 2 / v, rel=1e-14)


def test_efron_partial_likelihood_by_hand() -> None:
    # Two events tied at t=1 (one per arm), one event at t=2 in arm b, one censored.
    time = [1, 1, 2, 3]
    event = [1, 1, 1, 0]
    in_a = [True, False, False, True]
    beta = 0.7

    # t=1: risk set {a, b, b, a} -> 2w + 2; tied {a, b} -> w + 1
    # Efron: log L = beta - log(2w + 2) - log(2w + 2 - (w + 1)/2) - log(w + 1)
    def loglik(b: float) -> float:
        w = math.exp(b)
        return b - math.log(2 * w + 2) - math.log(2 * w + 2 - (w + 1) / 2) - math.log(w + 1)

    from scoring.survival import _efron, _EventTimes

    groups = _EventTimes(
        r0=np.array([4.0, 2.0]),
        r1=np.array([2.0, 1.0]),
        d_count=np.array([2, 1], dtype=np.intp),
        d0=np.array([2.0, 1.0]),
        d1=np.array([1.0, 0.0]),
        frac=np.array([0.0, 0.5, 0.0]),
    )
    ll, score, info = _efron(beta, groups)
    assert ll == pytest.approx(loglik(beta), rel=1e-14)
    h = 1e-5
    assert score == pytest.approx((loglik(beta + h) - loglik(beta - h)) / (2 * h), rel=1e-8)
    h2 = 1e-4
    second = (loglik(beta + h2) - 2 * loglik(beta) + loglik(beta - h2)) / h2**2
    assert info == pytest.approx(-second, rel=1e-6)
    fit = cox_ph(time, event, in_a)
    assert fit.loglik == pytest.approx(max(loglik(b) for b in np.linspace(-3, 3, 60001)), abs=1e-9)


def test_degenerate_cases() -> None:
    fit = cox_ph([1, 2, 3, 4], [1, 1, 0, 0], [True, True, False, False])
    assert not fit.converged and math.isnan(fit.hr) and "one arm" in fit.message
    assert math.isnan(cox_ph([1, 2], [0, 0], [True, False]).hr)
    with pytest.raises(ValueError, match="two groups"):
        logrank([1, 2], [1, 1], [True, True])
    with pytest.raises(ValueError, match="0 \\(censored\\) or 1"):
        kaplan_meier([1, 2], [1, 2])
    with pytest.raises(ValueError, match="finite"):
        kaplan_meier([1, math.nan], [1, 1])
    km = kaplan_meier([5, 6], [0, 0])  # no events: flat at 1, nothing reached
    assert (km.surv == 1).all() and math.isnan(km.median)
