"""scoring.proportions: Newcombe's interval and prop.test against R and Newcombe (1998)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from scoring.proportions import newcombe_difference, prop_test, wilson
from tests.scoring.rreference import close, models


@pytest.mark.parametrize("case", models()["proportions"])
def test_newcombe_and_prop_test_match_r(case: dict[str, Any]) -> None:
    args = (case["x1"], case["n1"], case["x2"], case["n2"])
    d = newcombe_difference(*args)
    assert d.difference == case["diff"]
    # Wilson limits from R's prop.test, combined by Newcombe's formula in R
    assert close(d.ci_low, case["newcombe_low"], 1e-14, 1e-15)
    assert close(d.ci_high, case["newcombe_high"], 1e-14, 1e-15)
    t = prop_test(*args)
    assert close(t.statistic, case["prop_test_statistic"], 1e-13, 1e-30)
    assert close(t.p_value, case["prop_test_p"], 1e-12)


def test_newcombes_published_examples() -> None:
    # Newcombe (1998), Stat Med 17:873, Table II, method 10 (hybrid score, no CC)
    for args, (low, high) in [
        ((56, 70, 48, 80), (0.0524, 0.3339)),
        ((9, 10, 3, 10), (0.1705, 0.8090)),
        ((6, 7, 2, 7), (0.0582, 0.8062)),
        ((5, 56, 0, 29), (-0.0381, 0.1926)),
        ((0, 10, 0, 20), (-0.1611, 0.2775)),
        ((0, 10, 0, 10), (-0.2775, 0.2775)),
        ((10, 10, 0, 20), (0.6791, 1.0000)),
        ((10, 10, 0, 10), (0.6075, 1.0000)),
    ]:
        d = newcombe_difference(*args)
        assert (round(d.ci_low, 4), round(d.ci_high, 4)) == (low, high), args


def test_wilson_by_hand_and_bounds() -> None:
    z = 1.959963984540054
    x, n = 7, 20
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low, high = wilson(x, n)
    assert low == pytest.approx(centre - half, rel=1e-14)
    assert high == pytest.approx(centre + half, rel=1e-14)
    assert wilson(0, 5)[0] == 0.0 and wilson(5, 5)[1] == 1.0
    with pytest.raises(ValueError):
        wilson(6, 5)
    assert math.isnan(prop_test(0, 10, 0, 20).p_value)  # R: NA (a zero expected count)
