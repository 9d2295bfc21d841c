"""Analyses beyond the paper's: summaries for plotting, MID responders, a mixed model.

All three take the same long score table as :func:`scoring.compare.compare`
and validate it the same way (:class:`scoring.compare.CompareInputError`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import special, stats

from scoring.compare import (
    MID_TOLERANCE,
    CompareInputError,
    PreparedScores,
    change_by_arm,
    index_groups,
    prepare_scores,
)
from scoring.rstats import pt_two_sided, qt, r_mean, r_median, r_sd

FloatArray = npt.NDArray[np.float64]

#: Minimally important differences (Eton et al. 2004), lower bounds; see docs/scoring.md.
ETON_MIDS: Mapping[str, float] = {"BCS": 2, "TOI": 5, "FACTG": 5, "FACTB": 7}

SUMMARY_COLUMNS = (
    "measure",
    "visit",
    "arm",
    "n",
    "mean",
    "sd",
    "se",
    "ci_low",
    "ci_high",
    "median",
)
MID_COLUMNS = (
    "measure",
    "visit",
    "arm",
    "mid",
    "n",
    "improved",
    "stable",
    "worsened",
    "pct_improved",
    "pct_stable",
    "pct_worsened",
    "test",
    "statistic",
    "df",
    "p_value",
)
MIXED_COLUMNS = (
    "measure",
    "kind",
    "term",
    "visit",
    "estimate",
    "se",
    "z",
    "p_value",
    "ci_low",
    "ci_high",
    "n_obs",
    "n_participants",
    "converged",
    "note",
    "t",
    "df",
)
MAR_NOTE = (
    "Linear mixed model (REML, random intercept per participant, arm x visit fixed "
    "effects) using every available score; valid if missing scores are missing at "
    "random (MAR): missingness may depend on observed scores but not on unobserved ones."
)


def _prepare(
    scores: pd.DataFrame,
    *,
    id_col: str,
    arm_col: str,
    visit_col: str,
    baseline: str,
    measures: Sequence[str] | None,
    require_baseline: bool,
) -> PreparedScores:
    return prepare_scores(
        scores,
        id_col=id_col,
        arm_col=arm_col,
        visit_col=visit_col,
        baseline=baseline,
        measures=measures,
        require_baseline=require_baseline,
    )


# --------------------------------------------------------------------------
# Mean score by visit (the paper's Fig 2C)
# --------------------------------------------------------------------------


def summary_by_visit(
    scores: pd.DataFrame,
    *,
    id_col: str = "participant_id",
    arm_col: str = "arm",
    visit_col: str = "visit",
    baseline: str = "baseline",
    measures: Sequence[str] | None = None,
    conf_level: float = 0.95,
) -> pd.DataFrame:
    """n, mean, SD, SE, t-based CI of the mean and median per measure x visit x arm.

    The interval is ``mean -/+ qt(1 - alpha/2, n - 1) * sd / sqrt(n)`` (what R's
    one-sample ``t.test`` reports); blank when n < 2.
    """
    prepared = _prepare(
        scores,
        id_col=id_col,
        arm_col=arm_col,
        visit_col=visit_col,
        baseline=baseline,
        measures=measures,
        require_baseline=False,
    )
    groups = index_groups(prepared)
    alpha = 1 - conf_level
    rows: list[dict[str, object]] = []
    for measure in prepared.measures:
        values = prepared.frame[measure].to_numpy(dtype=np.float64)
        present = ~np.isnan(values)
        for code, visit in enumerate(prepared.visits):
            here = present & (groups.visit_code == code)
            for arm, in_arm in zip(prepared.arms, (groups.arm_is_a, ~groups.arm_is_a), strict=True):
                x = values[here & in_arm]
                n = int(x.size)
                mean = r_mean(x)
                sd = r_sd(x)
                se = sd / math.sqrt(n) if n >= 2 else math.nan
                half = qt(1 - alpha / 2, n - 1) * se if n >= 2 else math.nan
                rows.append(
                    {
                        "measure": measure,
                        "visit": visit,
                        "arm": arm,
                        "n": n,
                        "mean": mean,
                        "sd": sd,
                        "se": se,
                        "ci_low": mean - half,
                        "ci_high": mean + half,
                        "median": r_median(x),
                    }
                )
    result = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    result["n"] = result["n"].astype(np.int64)
    return result


# --------------------------------------------------------------------------
# MID responders
# --------------------------------------------------------------------------


def fisher_exact_2xk(table: npt.ArrayLike) -> float:
    """Fisher's exact test p-value for a 2 x k table (k = 2 or 3), as R's ``fisher.test``.

    Sums the probabilities of all tables with the observed margins that are
    no more likely than the observed one (relative tolerance 1e-7, as R).
    """
    tab = np.asarray(table, dtype=np.int64)
    if tab.ndim != 2 or tab.shape[0] != 2 or tab.shape[1] not in (2, 3):
        raise ValueError("fisher_exact_2xk needs a 2 x 2 or 2 x 3 table")
    if np.any(tab < 0):
        raise ValueError("counts must be non-negative")
    # Enumerate the smaller row; the p-value does not depend on which row.
    if tab[0].sum() > tab[1].sum():
        tab = tab[::-1]
    cols = tab.sum(axis=0)
    r1 = int(tab[0].sum())
    order = np.argsort(cols, kind="stable")
    cols = cols[order]
    observed = tab[0][order]

    def log_weight(cells: FloatArray, col_totals: FloatArray) -> FloatArray:
        # log of prod_j choose(c_j, a_j): the table probability up to a constant.
        return np.asarray(
            np.sum(
                special.gammaln(col_totals + 1)
                - special.gammaln(cells + 1)
                - special.gammaln(col_totals - cells + 1),
                axis=-1,
            ),
            dtype=np.float64,
        )

    k = cols.size
    big = np.arange(0, min(int(cols[-1]), r1) + 1, dtype=np.float64)
    weights: list[FloatArray] = []
    if k == 2:
        small = r1 - big
        ok = (small >= 0) & (small <= cols[0])
        cells = np.stack([small[ok], big[ok]], axis=-1)
        weights.append(log_weight(cells, cols.astype(np.float64)))
    else:
        for a_small in range(0, min(int(cols[0]), r1) + 1):
            middle = r1 - a_small - big
            ok = (middle >= 0) & (middle <= cols[1])
            if not ok.any():
                continue
            cells = np.stack([np.full(int(ok.sum()), float(a_small)), middle[ok], big[ok]], axis=-1)
            weights.append(log_weight(cells, cols.astype(np.float64)))
    logw = np.concatenate(weights)
    obs = float(log_weight(observed.astype(np.float64)[None, :], cols.astype(np.float64))[0])
    top = float(logw.max())
    dens = np.exp(logw - top)
    d_obs = math.exp(obs - top)
    p = float(dens[dens <= d_obs * (1 + 1e-7)].sum() / dens.sum())
    return min(1.0, max(0.0, p))


def _mid_test(table: npt.NDArray[np.int64]) -> tuple[str, float, float, float]:
    """('fisher' | 'chisq', statistic, df, p) for a 2 x 3 arm-by-category table.

    Categories nobody fell into are dropped. Pearson's chi-square (Yates'
    correction for a 2 x 2 table, as R's ``chisq.test``) when every expected
    count is at least 5, otherwise Fisher's exact test.
    """
    used = table[:, table.sum(axis=0) > 0]
    if used.shape[1] < 2 or np.any(used.sum(axis=1) == 0):
        return ("", math.nan, math.nan, math.nan)
    expected = np.outer(used.sum(axis=1), used.sum(axis=0)) / used.sum()
    if np.all(expected >= 5):
        chi2, p, dof, _ = stats.chi2_contingency(used, correction=True)
        return ("chisq", float(chi2), float(dof), float(p))
    return ("fisher", math.nan, math.nan, fisher_exact_2xk(used))


def mid_responders(
    scores: pd.DataFrame,
    *,
    id_col: str = "participant_id",
    arm_col: str = "arm",
    visit_col: str = "visit",
    baseline: str = "baseline",
    thresholds: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Improved / stable / worsened rates per measure x follow-up visit x arm.

    Change = follow-up - baseline for participants with both; improved when
    change >= +MID, worsened when change <= -MID, otherwise stable (up to
    :data:`~scoring.compare.MID_TOLERANCE`, so that a change of exactly the MID
    between two prorated scores counts however floating point rounds it). Default
    MIDs are :data:`ETON_MIDS` (lower bounds of Eton et al. 2004); measures
    missing from the table are skipped. The arm comparison (the same values
    on both arms' rows) is Pearson's chi-square on the arm x category table,
    or Fisher's exact test when an expected count is below 5.
    """
    mids = dict(ETON_MIDS if thresholds is None else thresholds)
    for name, mid in mids.items():
        if not (isinstance(mid, int | float) and math.isfinite(mid) and mid > 0):
            raise CompareInputError(f"the MID for {name!r} must be a positive number, not {mid!r}")
    present = [m for m in mids if m in scores.columns]
    if not present:
        raise CompareInputError(
            f"none of the MID measures ({', '.join(mids)}) is a column of the table"
        )
    prepared = _prepare(
        scores,
        id_col=id_col,
        arm_col=arm_col,
        visit_col=visit_col,
        baseline=baseline,
        measures=present,
        require_baseline=True,
    )
    groups = index_groups(prepared)
    rows: list[dict[str, object]] = []
    for measure in prepared.measures:
        mid = float(mids[measure])
        values = prepared.frame[measure].to_numpy(dtype=np.float64)
        for visit in prepared.followups:
            by_arm = change_by_arm(prepared, groups, values, visit)
            counts = np.array(
                [
                    [
                        int(np.sum(c >= mid - MID_TOLERANCE)),
                        int(np.sum(np.abs(c) < mid - MID_TOLERANCE)),
                        int(np.sum(c <= -(mid - MID_TOLERANCE))),
                    ]
                    for c in by_arm
                ],
                dtype=np.int64,
            )
            test, statistic, df, p_value = _mid_test(counts)
            for arm, (improved, stable, worsened) in zip(prepared.arms, counts, strict=True):
                n = int(improved + stable + worsened)
                pct = [100.0 * k / n if n else math.nan for k in (improved, stable, worsened)]
                rows.append(
                    {
                        "measure": measure,
                        "visit": visit,
                        "arm": arm,
                        "mid": mid,
                        "n": n,
                        "improved": int(improved),
                        "stable": int(stable),
                        "worsened": int(worsened),
                        "pct_improved": pct[0],
                        "pct_stable": pct[1],
                        "pct_worsened": pct[2],
                        "test": test,
                        "statistic": statistic,
                        "df": df,
                        "p_value": p_value,
                    }
                )
    result = pd.DataFrame(rows, columns=list(MID_COLUMNS))
    for col in ("n", "improved", "stable", "worsened"):
        result[col] = result[col].astype(np.int64)
    return result


# --------------------------------------------------------------------------
# Linear mixed model
# --------------------------------------------------------------------------


def mixed_model(
    scores: pd.DataFrame,
    *,
    measure: str,
    id_col: str = "participant_id",
    arm_col: str = "arm",
    visit_col: str = "visit",
    baseline: str = "baseline",
    conf_level: float = 0.95,
) -> pd.DataFrame:
    """Random-intercept linear mixed model of one measure on arm x visit.

    Fits ``score ~ arm * visit + (1 | participant)`` by REML on every
    non-missing score (reference levels: arm b and the baseline visit), as
    ``nlme::lme(score ~ arm * visit, random = ~ 1 | id, method = "REML")``
    does, with :mod:`scoring.random_intercept` (exact REML in the one
    variance ratio). Returns the fixed effects (``kind = "fixed_effect"``)
    and the arm difference a - b at each visit (``kind =
    "arm_difference"``).

    Tests are t tests on nlme's containment degrees of freedom: the arm
    term (constant within a participant) has ``n_participants - 2``, the
    visit and arm x visit terms ``n_obs - n_participants - (their number)``.
    An arm difference at a visit combines coefficients of both strata and
    takes the smaller of their degrees of freedom (what emmeans does for
    ``lme`` fits). ``t`` is the test statistic and ``df`` its degrees of
    freedom; ``z`` is kept for compatibility and holds the same statistic
    (it was a Wald z before the t tests). Intervals are ``estimate -/+ qt(1 -
    alpha/2, df) * se``. The ``note`` column states the missing-at-random
    assumption the model relies on.
    """
    from scoring.random_intercept import fit_random_intercept

    prepared = _prepare(
        scores,
        id_col=id_col,
        arm_col=arm_col,
        visit_col=visit_col,
        baseline=baseline,
        measures=[measure],
        require_baseline=True,
    )
    frame = prepared.frame
    data = frame.loc[~frame[measure].isna()]
    arm_a, arm_b = prepared.arms
    # A visit enters the model only when both arms have scores there (otherwise
    # its arm difference is not estimable).
    arms_at = data.groupby(prepared.visit_col)[prepared.arm_col].nunique()
    visits = [v for v in prepared.visits if arms_at.get(v, 0) == 2]
    if prepared.baseline not in visits:
        raise CompareInputError(f"the mixed model needs baseline {measure} scores in both arms")
    data = data.loc[data[prepared.visit_col].isin(visits)]
    followups = [v for v in visits if v != prepared.baseline]

    def design(arm: pd.Series, visit: pd.Series) -> pd.DataFrame:
        def indicator(mask: pd.Series) -> FloatArray:
            return np.asarray(mask, dtype=np.float64)

        is_a = indicator(arm == arm_a)
        columns: dict[str, FloatArray] = {"(Intercept)": np.ones(len(arm))}
        for v in followups:
            columns[f"visit[{v}]"] = indicator(visit == v)
        columns[f"arm[{arm_a}]"] = is_a
        for v in followups:
            columns[f"arm[{arm_a}]:visit[{v}]"] = is_a * indicator(visit == v)
        return pd.DataFrame(columns, index=arm.index)

    exog = design(data[prepared.arm_col], data[prepared.visit_col])
    visit_index = {v: i for i, v in enumerate(visits)}
    participant, _ = pd.factorize(data[prepared.id_col])
    fit = fit_random_intercept(
        data[measure].to_numpy(dtype=np.float64),
        exog.to_numpy(dtype=np.float64),
        participant.astype(np.intp),
        np.asarray(data[prepared.visit_col].map(visit_index), dtype=np.intp),
        len(visits),
    )
    names = list(exog.columns)
    beta, cov = fit.beta, fit.cov_beta
    alpha = 1 - conf_level
    n_obs = fit.n_obs
    n_participants = fit.n_groups
    converged = fit.converged
    note = MAR_NOTE if converged else MAR_NOTE + " WARNING: the optimiser did not converge."

    def t_test(term: str, visit: str, contrast: FloatArray) -> dict[str, object]:
        estimate = float(contrast @ beta)
        se = float(math.sqrt(contrast @ cov @ contrast))
        df = float(np.min(fit.df[np.abs(contrast) > 0]))
        t = estimate / se if se > 0 else math.nan
        p = pt_two_sided(t, df) if se > 0 else math.nan
        half = qt(1 - alpha / 2, df) * se
        return {
            "measure": measure,
            "term": term,
            "visit": visit,
            "estimate": estimate,
            "se": se,
            "z": t,
            "p_value": float(p),
            "ci_low": estimate - half,
            "ci_high": estimate + half,
            "n_obs": n_obs,
            "n_participants": n_participants,
            "converged": converged,
            "note": note,
            "t": t,
            "df": df,
        }

    rows = []
    for i, name in enumerate(names):
        contrast = np.zeros(len(names))
        contrast[i] = 1.0
        rows.append({"kind": "fixed_effect", **t_test(name, "", contrast)})
    for v in visits:
        both = design(pd.Series([arm_a, arm_b]), pd.Series([v, v])).to_numpy()
        rows.append(
            {
                "kind": "arm_difference",
                **t_test(f"{arm_a} - {arm_b} at {v}", v, both[0] - both[1]),
            }
        )
    return pd.DataFrame(rows, columns=list(MIXED_COLUMNS))
