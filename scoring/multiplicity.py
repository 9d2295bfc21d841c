"""Holm's step-down adjustment of p-values, as R's ``p.adjust(p, method = "holm")``.

Holm (1979) controls the family-wise error rate without assumptions about
how the tests depend on each other and is uniformly more powerful than
Bonferroni. With the m p-values of a family in increasing order p(1) <= ...
<= p(m), the adjusted values are ``min(1, cummax((m - i + 1) p(i)))``.
Missing p-values (NaN) are left missing and are not counted in m, exactly as
``p.adjust`` does with ``NA`` (its ``n`` defaults to the number of non-missing
values).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]


def holm(p: npt.ArrayLike) -> FloatArray:
    """Holm-adjusted p-values in the input order; NaN stays NaN."""
    values = np.asarray(p, dtype=np.float64).ravel()
    out = np.full(values.shape, np.nan)
    present = ~np.isnan(values)
    q = values[present]
    m = q.size
    if m <= 1:
        out[present] = q
        return out
    order = np.argsort(q, kind="stable")
    factors = m - np.arange(m)  # m, m - 1, ..., 1
    adjusted = np.minimum(1.0, np.maximum.accumulate(factors * q[order]))
    result = np.empty(m)
    result[order] = adjusted
    out[present] = result
    return out


def add_holm(
    table: pd.DataFrame,
    family: Sequence[str] | pd.Series,
    *,
    p_col: str = "p_value",
    out_col: str = "p_holm",
) -> pd.DataFrame:
    """A copy of ``table`` with ``out_col``: Holm-adjusted ``p_col`` within each family.

    ``family`` gives each row's family label (rows with the same label are
    adjusted together); the other columns are left as they are.
    """
    labels = list(family)
    if len(labels) != len(table):
        raise ValueError("family must have one label per row")
    p = table[p_col].to_numpy(dtype=np.float64)
    adjusted = np.full(len(table), np.nan)
    codes, _ = pd.factorize(pd.Series(labels, dtype=object))
    for code in np.unique(codes):
        rows = np.flatnonzero(codes == code)
        adjusted[rows] = holm(p[rows])
    result = table.copy()
    result[out_col] = adjusted
    return result
