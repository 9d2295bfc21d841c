"""Two proportions: the difference with Newcombe's hybrid score interval, and R's prop.test.

Used for single 0-4 items, where "the proportion answering 3 or 4 (quite a
bit / very much)" says more than a Hodges-Lehmann shift that is 0 whenever
the medians agree.

* :func:`wilson`: the Wilson score interval for one proportion, as R's
  ``prop.test(x, n, correct = FALSE)$conf.int``.
* :func:`newcombe_difference`: the interval for ``p1 - p2`` of Newcombe
  (1998, Statistics in Medicine 17:873, method 10, "hybrid score", no
  continuity correction), built from the two Wilson intervals. Its coverage
  is close to nominal even for small counts and proportions near 0 or 1,
  where the Wald interval (the one ``prop.test`` prints) fails; it is never
  degenerate and stays within [-1, 1].
* :func:`prop_test`: ``prop.test(c(x1, x2), c(n1, n2))`` with its default
  continuity correction: Pearson's chi-square for the 2 x 2 table, 1 df.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scoring.rstats import pnorm, qnorm


def wilson(x: int, n: int, conf_level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for x / n (R's ``prop.test`` without correction)."""
    if n <= 0 or not 0 <= x <= n:
        raise ValueError("need 0 <= x <= n and n > 0")
    estimate = x / n
    z = qnorm((1 + conf_level) / 2)
    z22n = z * z / (2 * n)
    p_c = estimate
    upper = (
        1.0
        if p_c >= 1
        else (p_c + z22n + z * math.sqrt(p_c * (1 - p_c) / n + z22n / (2 * n))) / (1 + 2 * z22n)
    )
    lower = (
        0.0
        if p_c <= 0
        else (p_c + z22n - z * math.sqrt(p_c * (1 - p_c) / n + z22n / (2 * n))) / (1 + 2 * z22n)
    )
    return max(lower, 0.0), min(upper, 1.0)


@dataclass(frozen=True)
class Difference:
    p1: float
    p2: float
    difference: float
    ci_low: float
    ci_high: float


def newcombe_difference(x1: int, n1: int, x2: int, n2: int, conf_level: float = 0.95) -> Difference:
    """``x1/n1 - x2/n2`` with Newcombe's hybrid score interval (method 10)."""
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, conf_level)
    l2, u2 = wilson(x2, n2, conf_level)
    d = p1 - p2
    return Difference(
        p1=p1,
        p2=p2,
        difference=d,
        ci_low=d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
        ci_high=d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2),
    )


@dataclass(frozen=True)
class PropTest:
    statistic: float
    p_value: float


def prop_test(x1: int, n1: int, x2: int, n2: int) -> PropTest:
    """R's two-sample ``prop.test`` (continuity correction on): chi-square and p-value."""
    if n1 <= 0 or n2 <= 0 or not (0 <= x1 <= n1 and 0 <= x2 <= n2):
        raise ValueError("need 0 <= x <= n and n > 0 in both groups")
    estimate = (x1 / n1, x2 / n2)
    delta = estimate[0] - estimate[1]
    yates = min(0.5, abs(delta) / (1 / n1 + 1 / n2))
    p_all = (x1 + x2) / (n1 + n2)
    # R sums cbind(x, n - x) against cbind(n p, n (1 - p)) column by column.
    observed = (x1, x2, n1 - x1, n2 - x2)
    expected = (n1 * p_all, n2 * p_all, n1 * (1 - p_all), n2 * (1 - p_all))
    if min(expected) == 0:
        return PropTest(math.nan, math.nan)  # R: NaN (0/0)
    statistic = 0.0
    for o, e in zip(observed, expected, strict=True):
        statistic += (abs(o - e) - yates) ** 2 / e
    return PropTest(statistic, 2 * pnorm(-math.sqrt(statistic)))
