"""R-exact two-sample tests: scoring.rstats against R's wilcox.test and t.test."""

from __future__ import annotations

import itertools
import math
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from scoring import rstats
from tests.scoring.rreference import T_REL, ULPS, close, reference, value

CASES = reference()["two_sample"]
CASE_IDS = [c["name"] for c in CASES]


def case(name: str) -> dict[str, Any]:
    return next(c for c in CASES if c["name"] == name)


# ------------------------------------------------------------------ textbook ----


def test_it_reproduces_the_hollander_wolfe_example_exactly() -> None:
    # ?wilcox.test (Hollander & Wolfe 1973, p. 69): W = 35, p-value = 0.2544
    x = [0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46]
    y = [1.15, 0.88, 0.90, 0.74, 1.21]
    result = rstats.wilcox_test(x, y)
    assert result.method == "exact"
    assert result.statistic == 35
    assert round(result.p_value, 4) == 0.2544
    # 2 * P(W >= 35) under the exact null: 382 of the choose(15, 5) = 3003 rank sets
    assert math.isclose(result.p_value, 2 * 382 / 3003, rel_tol=1e-15)
    # Hodges-Lehmann shift 0.305, interval (-0.15, 0.76) as R prints them
    assert math.isclose(result.estimate, 0.305, rel_tol=1e-14)
    assert math.isclose(result.ci_low, -0.15, rel_tol=1e-14)
    assert math.isclose(result.ci_high, 0.76, rel_tol=1e-14)


def test_it_reproduces_the_airquality_ozone_example_with_ties() -> None:
    # ?wilcox.test: Ozone in May vs August -- W = 127.5, p-value = 0.0001208
    c = case("textbook_airquality_ozone")
    result = rstats.wilcox_test(c["x"], c["y"])
    assert result.method == "normal"
    assert result.statistic == 127.5
    assert round(result.p_value, 7) == 0.0001208
    assert round(result.estimate, 5) == -31.99996  # R prints -31.99996 (-52.99999, -14.99998)
    assert (round(result.ci_low, 5), round(result.ci_high, 5)) == (-52.99999, -14.99998)


def test_it_reproduces_the_sleep_data_t_tests() -> None:
    # ?t.test, Student's (1908) sleep data
    c = case("textbook_sleep")
    welch = rstats.t_test(c["x"], c["y"], var_equal=False)
    assert round(welch.statistic, 4) == -1.8608
    assert round(welch.df, 3) == 17.776
    assert round(welch.p_value, 5) == 0.07939
    assert (round(welch.ci_low, 7), round(welch.ci_high, 7)) == (-3.3654832, 0.2054832)
    pooled = rstats.t_test(c["x"], c["y"], var_equal=True)
    assert round(pooled.statistic, 4) == -1.8608
    assert pooled.df == 18
    assert round(pooled.p_value, 5) == 0.07919
    assert math.isclose(pooled.estimate, 0.75 - 2.33, rel_tol=1e-14)


# ------------------------------------------------- choice of the method ----


def test_exact_p_without_ties_when_both_arms_are_below_50() -> None:
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=7), rng.normal(1, 1, size=6)
    result = rstats.wilcox_test(x, y)
    assert result.method == "exact"
    # The exact null distribution by brute force: every way to pick x's ranks.
    ranks = stats.rankdata(np.concatenate([x, y]))
    w_obs = ranks[:7].sum() - 7 * 8 / 2
    ws = np.array([sum(c) - 28 for c in itertools.combinations(range(1, 14), 7)])
    lower, upper = np.mean(ws <= w_obs), np.mean(ws >= w_obs)
    assert result.statistic == w_obs
    assert math.isclose(result.p_value, min(1.0, 2 * min(lower, upper)), rel_tol=1e-13)


def test_ties_switch_to_the_normal_approximation_even_below_50() -> None:
    result = rstats.wilcox_test([1.0, 2.0, 2.0, 3.0, 5.0], [2.0, 4.0, 6.0, 7.0])
    assert result.method == "normal"


@pytest.mark.parametrize(("nx", "ny"), [(50, 3), (3, 50), (60, 75)])
def test_fifty_or_more_in_an_arm_uses_the_normal_approximation_without_ties(
    nx: int, ny: int
) -> None:
    rng = np.random.default_rng(nx * ny)
    result = rstats.wilcox_test(rng.normal(size=nx), rng.normal(size=ny))
    assert result.method == "normal"


def test_normal_approximation_follows_the_textbook_formula_with_tie_correction() -> None:
    """z = (W - m n / 2 - sign * 1/2) / sqrt(m n / 12 * (N + 1 - sum(t^3 - t) / (N (N - 1))))."""
    rng = np.random.default_rng(11)
    x = rng.integers(0, 28, size=80) * 4 / 7  # prorated-looking, heavily tied
    y = rng.integers(3, 28, size=65) * 4 / 7
    m, n = x.size, y.size
    big_n = m + n
    ranks = stats.rankdata(np.concatenate([x, y]))  # mid-ranks for ties
    w = ranks[:m].sum() - m * (m + 1) / 2
    _, t = np.unique(np.concatenate([x, y]), return_counts=True)
    sigma = math.sqrt(m * n / 12 * ((big_n + 1) - np.sum(t**3 - t) / (big_n * (big_n - 1))))
    centred = w - m * n / 2
    z = (centred - math.copysign(0.5, centred)) / sigma
    p = 2 * stats.norm.sf(abs(z))

    result = rstats.wilcox_test(x, y)
    assert result.method == "normal"
    assert result.statistic == w
    assert math.isclose(result.p_value, p, rel_tol=1e-12)


def test_all_observations_tied_gives_blank_estimate_and_interval() -> None:
    result = rstats.wilcox_test([5.0, 5.0, 5.0], [5.0, 5.0, 5.0])
    assert result.statistic == 4.5
    assert math.isnan(result.p_value)  # R: NA
    assert math.isnan(result.estimate) and math.isnan(result.ci_low)
    assert math.isnan(result.ci_high)
    assert "all observations are tied" in result.message


def test_each_arm_constant_still_has_a_p_value_but_no_interval() -> None:
    result = rstats.wilcox_test([5.0, 5.0, 5.0], [3.0, 3.0, 3.0, 3.0])
    assert result.statistic == 12
    assert 0 < result.p_value < 0.05
    assert math.isnan(result.estimate) and math.isnan(result.ci_low)


def test_interval_ends_at_mumin_and_mumax_when_the_root_lies_outside() -> None:
    # The ?wilcox.test note: wilcox.test(1, 2:60, conf.int = TRUE)
    result = rstats.wilcox_test([1.0], np.arange(2.0, 61.0))
    assert (result.ci_low, result.ci_high) == (-59.0, -1.0)


def test_essentially_constant_data_give_blank_t_statistics() -> None:
    result = rstats.t_test([1.0, 1.0, 1.0], [1.0, 1.0], var_equal=True)
    assert result.message == "data are essentially constant"
    assert math.isnan(result.statistic) and math.isnan(result.p_value)


def test_missing_values_are_dropped() -> None:
    with_nan = rstats.wilcox_test([1.5, np.nan, 2.5, 7.0], [np.nan, 3.25, 4.0])
    without = rstats.wilcox_test([1.5, 2.5, 7.0], [3.25, 4.0])
    assert with_nan == without
    assert rstats.t_test([1.0, np.nan, 2.0], [4.0, 6.0], var_equal=False).n_x == 2


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        ([], [1.0], "'x'"),
        ([np.nan], [1.0], "'x'"),
        ([1.0], [], "'y'"),
        ([1.0, np.inf], [1.0], "infinite"),
    ],
)
def test_wilcox_rejects_unusable_samples(x: list[float], y: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rstats.wilcox_test(x, y)


def test_welch_needs_two_values_per_arm() -> None:
    with pytest.raises(ValueError, match="not enough 'x'"):
        rstats.t_test([1.0], [2.0, 3.0], var_equal=False)
    assert rstats.t_test([1.0], [2.0, 3.0], var_equal=True).df == 1


# ------------------------------------------------- against R's own output ----


@pytest.mark.parametrize("c", CASES, ids=CASE_IDS)
def test_wilcoxon_matches_r(c: dict[str, Any]) -> None:
    ref = c["wilcox"]
    result = rstats.wilcox_test(c["x"], c["y"])
    assert result.statistic == ref["statistic"]
    assert close(result.p_value, ref["p_value"], ULPS)
    assert ("exact" in ref["method"]) == (result.method == "exact")
    # The interval and estimate: the same uniroot iterations as R, hence the same
    # root -- compared at 1e-12 (bit-identical when generated; see README).
    for key in ("estimate", "ci_low", "ci_high"):
        assert close(getattr(result, key), ref[key], 1e-12), key
    if ref.get("error"):
        assert result.message


@pytest.mark.parametrize("c", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("test", ["student", "welch"])
def test_t_tests_match_r(c: dict[str, Any], test: str) -> None:
    ref = c.get(test)
    if ref is None:
        pytest.skip("R does not run this test on so few values")
    result = rstats.t_test(c["x"], c["y"], var_equal=test == "student")
    if "error" in ref:
        assert result.message == ref["error"]
        return
    for key in ("statistic", "df", "estimate", "stderr"):
        assert close(getattr(result, key), ref[key], ULPS), key
    assert close(result.p_value, ref["p_value"], T_REL)
    # Interval ends near zero lose relative precision: scale by the interval width.
    width = abs(value(ref["ci_high"]) - value(ref["ci_low"]))
    for key in ("ci_low", "ci_high"):
        assert close(getattr(result, key), ref[key], T_REL, T_REL * width), key


@pytest.mark.parametrize("c", CASES, ids=CASE_IDS)
def test_mean_variance_and_median_match_r(c: dict[str, Any]) -> None:
    for sample, summary in ((c["x"], c["x_summary"]), (c["y"], c["y_summary"])):
        assert close(rstats.r_mean(sample), summary["mean"], ULPS)
        assert close(rstats.r_var(sample), summary["var"], ULPS)
        assert close(rstats.r_sd(sample), summary["sd"], ULPS)
        assert close(rstats.r_median(sample), summary["median"], ULPS)


def test_pnorm_and_qnorm_match_r() -> None:
    ref = reference()
    for z, lower, upper in zip(*(ref["pnorm"][k] for k in ("z", "lower", "upper")), strict=True):
        assert close(rstats.pnorm(z), lower, ULPS), z
        assert close(rstats.pnorm(z, lower_tail=False), upper, ULPS), z
    for p, lower, upper in zip(*(ref["qnorm"][k] for k in ("p", "lower", "upper")), strict=True):
        assert close(rstats.qnorm(p), lower, ULPS), p
        assert close(rstats.qnorm(p, lower_tail=False), upper, ULPS), p


def test_wilcoxon_distribution_matches_r() -> None:
    ref = reference()
    for row in ref["pwilcox"]:
        q, m, n = row["q"], int(row["m"]), int(row["n"])
        assert close(rstats.pwilcox(q, m, n), row["lower"], ULPS), row
        assert close(rstats.pwilcox(q, m, n, lower_tail=False), row["upper"], ULPS), row
    for row in ref["qwilcox"]:
        assert rstats.qwilcox(row["p"], int(row["m"]), int(row["n"])) == row["q"], row
    for row in ref["choose"]:
        assert close(rstats.r_choose(int(row["n"]), int(row["k"])), row["value"], ULPS), row


def test_uniroot_port_returns_rs_roots() -> None:
    functions = {
        "cubic": lambda x: x**3 - 2,
        "cos": lambda x: math.cos(x) - x,
        "exp": lambda x: math.exp(x) - 5,
        "step": lambda x: math.floor(x) - 0.5,
    }
    for row in reference()["uniroot"]:
        root = rstats.uniroot(functions[row["name"]], row["lower"], row["upper"], tol=row["tol"])
        assert close(root.root, row["root"], ULPS), row["name"]


def test_uniroot_rejects_a_bracket_without_sign_change() -> None:
    with pytest.raises(rstats.RootError, match="opposite sign"):
        rstats.uniroot(lambda x: x * x + 1, -1.0, 1.0)


# ------------------------------------------------------------- live R ----

LIVE_R_SCRIPT = r"""
L <- readLines(commandArgs(trailingOnly = TRUE)[1])
for (i in seq(1, length(L), by = 2)) {
  x <- as.numeric(strsplit(L[i], " ")[[1]]); y <- as.numeric(strsplit(L[i + 1], " ")[[1]])
  w <- suppressWarnings(wilcox.test(x, y, conf.int = TRUE))
  s <- t.test(x, y, var.equal = TRUE); h <- t.test(x, y)
  cat(sprintf("%.17g", c(w$statistic, w$p.value, w$estimate, w$conf.int,
                         s$statistic, s$p.value, s$conf.int,
                         h$statistic, h$parameter, h$p.value, h$conf.int)), "\n")
}
"""


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="R is not installed")
def test_random_datasets_match_live_r(tmp_path: Path) -> None:
    rng = np.random.default_rng()  # new data every run: R is the oracle
    samples = [
        # prorated FACT-like TOI, ties, n >= 50 in one arm
        (rng.integers(10, 80, 70) * 8 / 7, rng.integers(12, 84, 45) * 8 / 7),
        # exact case: continuous, both below 50
        (
            rng.normal(60, 12, int(rng.integers(3, 49))),
            rng.normal(64, 15, int(rng.integers(3, 49))),
        ),
        # large, heavily tied single items
        (rng.integers(0, 5, 900).astype(float), rng.integers(0, 5, 1100).astype(float)),
    ]
    data = tmp_path / "samples.txt"
    data.write_text(
        "".join(" ".join(repr(float(v)) for v in s) + "\n" for pair in samples for s in pair)
    )
    script = tmp_path / "check.R"
    script.write_text(LIVE_R_SCRIPT)
    out = subprocess.run(
        ["Rscript", str(script), str(data)], capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()
    assert len(out) == len(samples)
    for (x, y), line in zip(samples, out, strict=True):
        r = [float(v) for v in line.split()]
        w = rstats.wilcox_test(x, y)
        s = rstats.t_test(x, y, var_equal=True)
        h = rstats.t_test(x, y, var_equal=False)
        assert w.statistic == r[0]
        assert close(w.p_value, r[1], ULPS)
        for got, want in zip((w.estimate, w.ci_low, w.ci_high), r[2:5], strict=True):
            assert close(got, want, 1e-12)
        assert close(s.statistic, r[5], ULPS) and close(s.p_value, r[6], T_REL)
        assert close(s.ci_low, r[7], T_REL) and close(s.ci_high, r[8], T_REL)
        assert close(h.statistic, r[9], ULPS) and close(h.df, r[10], ULPS)
        assert close(h.p_value, r[11], T_REL)
        assert close(h.ci_low, r[12], T_REL) and close(h.ci_high, r[13], T_REL)
