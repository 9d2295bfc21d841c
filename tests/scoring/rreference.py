"""Loading the R reference values and comparing.

``reference()`` reads tests/scoring/fixtures/make_r_reference.R's output (the
arm comparisons), ``models()`` make_r_reference_models.R's (MMRM, random
intercept model, survival, Holm, proportions). Tolerances are those achieved
against R 4.2.2 (see scoring/README.md and docs/statistics.md): the Wilcoxon
test, R's distribution functions, means, variances and medians agree bit for
bit, so they are held to a few ulps; Student's t tail and quantile come from
scipy, so t-test p-values and intervals are held to 1e-12. Fitted models are
held to 1e-6 (the brief's bar; the measured agreement is about 1e-8).
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"

#: Bit-for-bit on the machine that generated the fixture; 4 ulps leaves room for
#: a different libm (exp/log) on CI without letting a real difference through.
ULPS = 4 * 2.220446049250313e-16
#: Student's t p-values and intervals (scipy's pt/qt against R's TOMS 708 pbeta).
T_REL = 1e-12


@cache
def reference() -> dict[str, Any]:
    with open(FIXTURES / "r_reference.json", encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def value(v: float | None) -> float:
    """JSON null (R's NA) as NaN."""
    return math.nan if v is None else float(v)


def close(got: float, want: float | None, rel: float, abs_: float = 0.0) -> bool:
    """Equal within a relative tolerance (NaN matches NaN, i.e. R's NA)."""
    expected = value(want)
    if math.isnan(expected) or math.isnan(got):
        return math.isnan(expected) and math.isnan(got)
    if got == expected:
        return True
    return abs(got - expected) <= max(rel * abs(expected), abs_)


@cache
def models() -> dict[str, Any]:
    """tests/scoring/fixtures/make_r_reference_models.R's output (nlme, survival, ...)."""
    with open(FIXTURES / "r_reference_models.json", encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def score_table(name: str, measure: str = "TOI") -> Any:
    """One of the long score tables the models fixture was computed on, as a DataFrame."""
    import pandas as pd

    table = next(t for t in models()["score_tables"] if t["name"] == name)
    return pd.DataFrame(
        {
            "participant_id": table["id"],
            "arm": table["arm"],
            "visit": table["visit"],
            measure: [value(v) for v in table["score"]],
        }
    )


def values(v: list[float | None]) -> Any:
    """A JSON array (nulls = NA) as a float64 array."""
    import numpy as np

    return np.array([value(x) for x in v], dtype=np.float64)
