"""scoring.multiplicity: Holm's adjustment against R's p.adjust and by hand."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from scoring.multiplicity import add_holm, holm
from tests.scoring.rreference import models, values


@pytest.mark.parametrize("case", models()["holm"])
def test_holm_equals_p_adjust(case: dict[str, Any]) -> None:
    # bit for bit: the same products and running maxima as p.adjust
    np.testing.assert_array_equal(holm(values(case["p"])), values(case["holm"]))


def test_holm_by_hand() -> None:
    # sorted 0.005, 0.01, 0.03, 0.04 -> 4 x 0.005, 3 x 0.01, 2 x 0.03, 1 x 0.04 -> cummax
    got = holm([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(got, [0.03, 0.06, 0.06, 0.02], rtol=1e-15)
    # a missing p-value is not counted: m = 2, not 3
    np.testing.assert_allclose(holm([0.02, math.nan, 0.04]), [0.04, math.nan, 0.04])
    assert holm([0.7, 0.8]).tolist() == [1.0, 1.0]  # capped at 1
    assert holm([0.3]).tolist() == [0.3] and holm([]).size == 0


def test_add_holm_adjusts_within_each_family_only() -> None:
    table = pd.DataFrame({"p_value": [0.01, 0.04, 0.01, math.nan, 0.04], "x": list("abcde")})
    out = add_holm(table, ["f", "f", "g", "g", "g"])
    np.testing.assert_allclose(out["p_holm"], [0.02, 0.04, 0.02, math.nan, 0.04])
    assert list(out.columns) == ["p_value", "x", "p_holm"]
    assert "p_holm" not in table.columns  # a copy
    with pytest.raises(ValueError, match="one label per row"):
        add_holm(table, ["f"])
