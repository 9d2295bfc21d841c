"""Missing-data sensitivity analyses for one visit's arm comparison.

The use case is the protocol's comparison of the change in TOI at one
follow-up visit (18 months). Two analyses make different assumptions about
the scores nobody observed; docs/statistics.md says why these two.

1. **MMRM under MAR** (:func:`scoring.mmrm.mmrm`): the arm difference at the
   visit from the repeated-measures model, using everyone's available
   visits. Valid if, given the observed scores and arm, missingness does not
   depend on the unobserved scores.
2. **Delta-adjusted multiple imputation, tipping point**
   (:func:`tipping_point`): missing follow-up scores are imputed under MAR,
   then the imputed scores at the analysis visit in one arm are shifted by
   delta (worse outcomes for the arm the MAR analysis favours), over a grid
   of deltas. The tipping point is the delta at which the comparison stops
   being significant: how much worse than MAR-predicted that arm's missing
   participants would have to be to overturn the conclusion.

The imputation is "proper" (Rubin 1987; Little and Rubin 2002): separately
in each arm and for each follow-up visit in time order, the score is
regressed on the baseline score and the (completed) earlier visits among
the participants observed at that visit; the regression parameters are
drawn from their posterior under a non-informative prior (``sigma^2 =
RSS / chi^2_(n - q)``, ``beta ~ N(beta_hat, sigma^2 (Z'Z)^-1)``), and each
missing score is drawn from the regression with those parameters. For
monotone dropout this is the standard monotone regression method (SAS PROC
MI ``MONOTONE REG``); intermittently missing visits are filled in by the
same pass, conditioning on the completed earlier visits. Each completed
data set is analysed by ANCOVA of the change at the visit on arm and
baseline score, and the results are combined by Rubin's rules with the
Barnard-Rubin (1999) degrees of freedom (:func:`rubin`). Everything is
deterministic given ``seed``; the same imputations are shifted for every
delta, so the estimate is exactly linear in delta.

Participants without a baseline score are left out of both analyses
(counted); participants with a baseline but no follow-up are in the
imputation analysis (all their follow-up is imputed) and contribute nothing
to the MMRM.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from scoring.compare import CompareInputError, prepare_scores
from scoring.mmrm import MMRMResult, mmrm
from scoring.reml import ModelError
from scoring.rstats import pt_two_sided, qt

FloatArray = npt.NDArray[np.float64]


# --------------------------------------------------------------------------
# Rubin's rules
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Pooled:
    """Rubin's rules for one scalar estimate over m imputations."""

    estimate: float
    #: mean within-imputation variance (U bar)
    within: float
    #: between-imputation variance (B)
    between: float
    #: total variance T = U bar + (1 + 1/m) B
    total: float
    se: float
    df: float
    t: float
    p_value: float
    ci_low: float
    ci_high: float
    m: int
    #: relative increase in variance due to missing data, (1 + 1/m) B / U bar
    riv: float
    #: proportion of the total variance due to missing data, (1 + 1/m) B / T
    lambda_: float
    #: fraction of missing information, (riv + 2 / (df + 3)) / (riv + 1)
    fmi: float


def rubin(
    estimates: npt.ArrayLike,
    variances: npt.ArrayLike,
    *,
    df_complete: float | None = None,
    conf_level: float = 0.95,
) -> Pooled:
    """Pool m complete-data estimates and their variances (Rubin 1987).

    Degrees of freedom: Rubin's ``(m - 1) / lambda^2`` and, when the
    complete-data degrees of freedom ``df_complete`` are given, the
    Barnard-Rubin (1999) small-sample version ``1 / (1/df_old + 1/df_obs)``
    with ``df_obs = (df_complete + 1) / (df_complete + 3) * df_complete * (1 -
    lambda)`` (what R's mice uses). With no between-imputation variance the
    Rubin df is infinite (a normal reference).
    """
    q = np.asarray(estimates, dtype=np.float64).ravel()
    u = np.asarray(variances, dtype=np.float64).ravel()
    m = q.size
    if m < 2 or u.size != m:
        raise ValueError("need at least two imputations, with one variance per estimate")
    qbar = float(np.mean(q))
    ubar = float(np.mean(u))
    b = float(np.var(q, ddof=1))
    total = ubar + (1 + 1 / m) * b
    lam = (1 + 1 / m) * b / total
    riv = (1 + 1 / m) * b / ubar
    df_old = (m - 1) / lam**2 if lam > 0 else math.inf
    if df_complete is None:
        df = df_old
    else:
        df_obs = (df_complete + 1) / (df_complete + 3) * df_complete * (1 - lam)
        df = df_obs if math.isinf(df_old) else df_old * df_obs / (df_old + df_obs)
    se = math.sqrt(total)
    t = qbar / se
    if math.isinf(df):
        from scoring.rstats import pnorm, qnorm

        p = 2 * pnorm(-abs(t))
        crit = qnorm(1 - (1 - conf_level) / 2)
    else:
        p = pt_two_sided(t, df)
        crit = qt(1 - (1 - conf_level) / 2, df)
    return Pooled(
        estimate=qbar,
        within=ubar,
        between=b,
        total=total,
        se=se,
        df=df,
        t=t,
        p_value=p,
        ci_low=qbar - crit * se,
        ci_high=qbar + crit * se,
        m=m,
        riv=riv,
        lambda_=lam,
        fmi=(riv + 2 / (df + 3)) / (riv + 1),
    )


# --------------------------------------------------------------------------
# Imputation
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Wide:
    """One row per participant with a baseline: arm, baseline, follow-up visits."""

    ids: npt.NDArray[np.object_]
    in_a: npt.NDArray[np.bool_]
    base: FloatArray
    y: FloatArray  # (n, K), NaN = missing
    visits: tuple[str, ...]
    arms: tuple[str, str]
    excluded_no_baseline: int


def _wide(
    scores: pd.DataFrame,
    *,
    measure: str,
    visit: str,
    id_col: str,
    arm_col: str,
    visit_col: str,
    baseline: str,
) -> _Wide:
    prepared = prepare_scores(
        scores,
        id_col=id_col,
        arm_col=arm_col,
        visit_col=visit_col,
        baseline=baseline,
        measures=[measure],
        require_baseline=True,
    )
    if visit not in prepared.followups:
        raise CompareInputError(
            f"visit {visit!r} is not a follow-up visit (found: "
            f"{', '.join(map(repr, prepared.followups))})"
        )
    visits = prepared.followups[: prepared.followups.index(visit) + 1]
    frame = prepared.frame
    wide = frame.pivot_table(
        index=prepared.id_col,
        columns=prepared.visit_col,
        values=measure,
        aggfunc="first",
        dropna=False,
    ).reindex(columns=[prepared.baseline, *visits])
    arms = frame.drop_duplicates(prepared.id_col).set_index(prepared.id_col)[prepared.arm_col]
    arm_of = arms.reindex(wide.index)
    has_base = wide[prepared.baseline].notna().to_numpy()
    wide = wide.loc[has_base]
    arm_of = arm_of.loc[has_base]
    return _Wide(
        ids=wide.index.to_numpy(dtype=object),
        in_a=(arm_of == prepared.arms[0]).to_numpy(),
        base=wide[prepared.baseline].to_numpy(dtype=np.float64),
        y=wide[list(visits)].to_numpy(dtype=np.float64),
        visits=visits,
        arms=prepared.arms,
        excluded_no_baseline=int((~has_base).sum()),
    )


def _impute_arm(
    base: FloatArray, y: FloatArray, rng: np.random.Generator, arm: str, visits: Sequence[str]
) -> FloatArray:
    """One proper imputation of one arm's follow-up scores (sequential regression)."""
    done = y.copy()
    n = len(base)
    for k in range(y.shape[1]):
        observed = ~np.isnan(y[:, k])
        missing = ~observed
        if not missing.any():
            continue
        z = np.column_stack([np.ones(n), base, done[:, :k]])
        zo = z[observed]
        q = z.shape[1]
        dof = int(observed.sum()) - q
        if dof < 1:
            raise ModelError(
                f"arm {arm}: {int(observed.sum())} observed scores at {visits[k]} are too few "
                f"to impute from baseline and {k} earlier visit(s)"
            )
        gram = zo.T @ zo
        try:
            chol = np.linalg.cholesky(np.linalg.inv(gram))
        except np.linalg.LinAlgError as exc:
            raise ModelError(f"arm {arm}: the imputation model at {visits[k]} is singular") from exc
        beta_hat = np.linalg.solve(gram, zo.T @ y[observed, k])
        rss = float(np.sum((y[observed, k] - zo @ beta_hat) ** 2))
        sigma2 = rss / rng.chisquare(dof)
        beta = beta_hat + math.sqrt(sigma2) * (chol @ rng.standard_normal(q))
        done[missing, k] = z[missing] @ beta + math.sqrt(sigma2) * rng.standard_normal(
            int(missing.sum())
        )
    return done


def _ancova(
    change: FloatArray, in_a: npt.NDArray[np.bool_], base: FloatArray
) -> tuple[float, float]:
    """Arm a - b in ``change ~ arm + baseline`` by least squares: (estimate, variance)."""
    x = np.column_stack([np.ones(len(change)), in_a.astype(np.float64), base])
    gram_inv = np.linalg.inv(x.T @ x)
    beta = gram_inv @ (x.T @ change)
    resid = change - x @ beta
    sigma2 = float(resid @ resid) / (len(change) - 3)
    return float(beta[1]), sigma2 * float(gram_inv[1, 1])


TIPPING_COLUMNS: tuple[str, ...] = (
    "delta",
    "shift_arm",
    "estimate",
    "se",
    "df",
    "t",
    "p_value",
    "ci_low",
    "ci_high",
    "fmi",
    "significant",
)


@dataclass(frozen=True)
class TippingPoint:
    """Delta-adjusted MI over a grid of deltas (see the module docstring).

    ``table`` has :data:`TIPPING_COLUMNS`, one row per delta, in the order
    given. ``tipping_delta`` is the first delta of the grid (walking away from
    0) at which the comparison is no longer significant, and
    ``tipping_delta_exact`` the delta where the p-value crosses ``alpha``
    (solved between that grid point and the one before); both None when the
    comparison is not significant at delta 0 or stays significant over the
    whole grid (``note`` says which).
    """

    measure: str
    visit: str
    arms: tuple[str, str]
    shift_arm: str
    table: pd.DataFrame
    tipping_delta: float | None
    tipping_delta_exact: float | None
    alpha: float
    n_imputations: int
    seed: int
    n_participants: int
    n_missing_a: int
    n_missing_b: int
    excluded_no_baseline: int
    note: str
    #: The pooled result at ``tipping_delta_exact`` (p = alpha there), as a row of ``table``.
    at_tipping_point: dict[str, object] | None = None


def tipping_point(
    scores: pd.DataFrame,
    *,
    measure: str,
    visit: str,
    id_col: str = "participant_id",
    arm_col: str = "arm",
    visit_col: str = "visit",
    baseline: str = "baseline",
    deltas: Sequence[float] | None = None,
    shift_arm: str | None = None,
    n_imputations: int = 50,
    seed: int = 2108,
    alpha: float = 0.05,
) -> TippingPoint:
    """Delta-adjusted multiple imputation of the change at ``visit``; the tipping point.

    ``shift_arm`` (default: the arm the MAR analysis favours) is the arm whose
    imputed scores at ``visit`` are shifted by each delta; ``deltas``
    (default: 0 to 20 points in steps of 0.5, in the direction that moves
    the comparison towards no difference) must start at 0. Raises
    :class:`CompareInputError` for unusable input and
    :class:`scoring.reml.ModelError` when an imputation model cannot be
    fitted.
    """
    if n_imputations < 2:
        raise ValueError("n_imputations must be at least 2")
    data = _wide(
        scores,
        measure=measure,
        visit=visit,
        id_col=id_col,
        arm_col=arm_col,
        visit_col=visit_col,
        baseline=baseline,
    )
    arm_a, arm_b = data.arms
    if shift_arm is not None and shift_arm not in data.arms:
        raise ValueError(f"shift_arm must be {arm_a!r} or {arm_b!r}, not {shift_arm!r}")
    rng = np.random.default_rng(seed)
    target_missing = np.isnan(data.y[:, -1])
    completed = []
    for _ in range(n_imputations):
        y = np.empty_like(data.y)
        for arm_mask, arm in ((data.in_a, arm_a), (~data.in_a, arm_b)):
            y[arm_mask] = _impute_arm(data.base[arm_mask], data.y[arm_mask], rng, arm, data.visits)
        completed.append(y[:, -1] - data.base)
    df_complete = len(data.base) - 3

    def pooled(delta: float, shifted: npt.NDArray[np.bool_]) -> Pooled:
        bump = delta * (target_missing & shifted)
        results = [_ancova(change + bump, data.in_a, data.base) for change in completed]
        est, var = zip(*results, strict=True)
        return rubin(est, var, df_complete=df_complete)

    at_zero = pooled(0.0, data.in_a)
    if shift_arm is None:
        shift_arm = arm_a if at_zero.estimate >= 0 else arm_b
    shifted = data.in_a if shift_arm == arm_a else ~data.in_a
    if deltas is None:
        # towards no difference: shifting arm a down lowers a - b, arm b down raises it
        toward = -1.0 if (shift_arm == arm_a) == (at_zero.estimate >= 0) else 1.0
        grid = [float(toward * d) + 0.0 for d in np.arange(0, 20.0001, 0.5)]  # no -0.0
    else:
        grid = [float(d) for d in deltas]
        if not grid or grid[0] != 0:
            raise ValueError("deltas must start at 0 (the MAR analysis)")

    def row(delta: float) -> dict[str, object]:
        fit = pooled(delta, shifted)
        return {
            "delta": delta,
            "shift_arm": shift_arm,
            "estimate": fit.estimate,
            "se": fit.se,
            "df": fit.df,
            "t": fit.t,
            "p_value": fit.p_value,
            "ci_low": fit.ci_low,
            "ci_high": fit.ci_high,
            "fmi": fit.fmi,
            "significant": bool(fit.p_value < alpha),
        }

    rows = [row(delta) for delta in grid]
    table = pd.DataFrame(rows, columns=list(TIPPING_COLUMNS))
    tip: float | None = None
    exact: float | None = None
    at_tip: dict[str, object] | None = None
    if not rows[0]["significant"]:
        note = f"not significant at delta 0 (p = {rows[0]['p_value']:.3g}): no tipping point"
    else:
        lost = [i for i, r in enumerate(rows) if not r["significant"]]
        if not lost:
            note = (
                f"still significant at delta {grid[-1]:g}: the tipping point lies beyond the grid"
            )
        else:
            i = lost[0]
            tip = grid[i]
            from scipy import optimize

            exact = float(
                optimize.brentq(
                    lambda d: pooled(d, shifted).p_value - alpha, grid[i - 1], grid[i], xtol=1e-10
                )
            )
            at_tip = row(exact)
            note = (
                f"significance (p < {alpha:g}) is lost when the missing {measure} scores at "
                f"{visit} in arm {shift_arm} are {abs(exact):.3g} points "
                f"{'worse' if exact < 0 else 'better'} than predicted under MAR"
            )
    in_a_missing = target_missing & data.in_a
    return TippingPoint(
        measure=measure,
        visit=visit,
        arms=data.arms,
        shift_arm=shift_arm,
        table=table,
        tipping_delta=tip,
        tipping_delta_exact=exact,
        alpha=alpha,
        n_imputations=n_imputations,
        seed=seed,
        n_participants=len(data.base),
        n_missing_a=int(in_a_missing.sum()),
        n_missing_b=int((target_missing & ~data.in_a).sum()),
        excluded_no_baseline=data.excluded_no_baseline,
        note=note,
        at_tipping_point=at_tip,
    )


# --------------------------------------------------------------------------
# Both analyses together
# --------------------------------------------------------------------------

SENSITIVITY_COLUMNS: tuple[str, ...] = (
    "analysis",
    "assumption",
    "measure",
    "visit",
    "estimate",
    "se",
    "df",
    "p_value",
    "ci_low",
    "ci_high",
    "n",
    "tipping_delta",
    "note",
)


_STATS = ("estimate", "se", "df", "p_value", "ci_low", "ci_high")


@dataclass(frozen=True)
class Sensitivity:
    mmrm: MMRMResult
    tipping: TippingPoint

    def table(self) -> pd.DataFrame:
        """The MMRM estimate, the MI estimate at delta 0, and the tipping point, one row each.

        The tipping-point row holds the pooled result at the exact tipping delta
        (where p = alpha) and the delta itself in ``tipping_delta``; blank when
        there is no tipping point (see ``note``).
        """
        diffs = self.mmrm.differences
        diff = diffs.loc[diffs["visit"] == self.tipping.visit].iloc[0].to_dict()
        zero = self.tipping.table.iloc[0].to_dict()
        rows: list[dict[str, object]] = [
            {
                "analysis": "MMRM",
                "assumption": "MAR",
                **{k: diff[k] for k in _STATS},
                "n": int(diff["n_a"]) + int(diff["n_b"]),
                "note": self.mmrm.note,
            },
            {
                "analysis": "multiple imputation, ANCOVA",
                "assumption": "MAR (delta 0)",
                **{k: zero[k] for k in _STATS},
                "n": self.tipping.n_participants,
                "note": f"{self.tipping.n_imputations} imputations, seed {self.tipping.seed}",
            },
        ]
        tip = self.tipping
        at = tip.at_tipping_point or {}
        rows.append(
            {
                "analysis": "delta-adjusted MI, tipping point",
                "assumption": f"MNAR: arm {tip.shift_arm}'s missing scores shifted by delta",
                **{k: at.get(k, math.nan) for k in _STATS},
                "n": tip.n_participants,
                "tipping_delta": math.nan
                if tip.tipping_delta_exact is None
                else tip.tipping_delta_exact,
                "note": tip.note,
            }
        )
        table = pd.DataFrame(rows)
        table["measure"] = tip.measure
        table["visit"] = tip.visit
        return table.reindex(columns=list(SENSITIVITY_COLUMNS))


def sensitivity_analyses(
    scores: pd.DataFrame,
    *,
    measure: str,
    visit: str,
    id_col: str = "participant_id",
    arm_col: str = "arm",
    visit_col: str = "visit",
    baseline: str = "baseline",
    deltas: Sequence[float] | None = None,
    shift_arm: str | None = None,
    n_imputations: int = 50,
    seed: int = 2108,
    alpha: float = 0.05,
) -> Sensitivity:
    """The MMRM (MAR) and the delta-adjusted MI tipping point for ``measure`` at ``visit``."""
    fit = mmrm(
        scores,
        measure=measure,
        id_col=id_col,
        arm_col=arm_col,
        visit_col=visit_col,
        baseline=baseline,
    )
    if visit not in fit.visits:
        raise CompareInputError(f"the MMRM has no estimate at {visit!r} (visits: {fit.visits})")
    tip = tipping_point(
        scores,
        measure=measure,
        visit=visit,
        deltas=deltas,
        shift_arm=shift_arm,
        n_imputations=n_imputations,
        seed=seed,
        alpha=alpha,
        id_col=id_col,
        arm_col=arm_col,
        visit_col=visit_col,
        baseline=baseline,
    )
    return Sensitivity(mmrm=fit, tipping=tip)
