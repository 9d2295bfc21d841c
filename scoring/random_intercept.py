"""Random-intercept linear mixed model by REML, as ``nlme::lme(..., random = ~ 1 | id)``.

The model ``y_ij = x_ij' beta + b_i + e_ij`` with ``b_i ~ N(0, tau^2)`` and
``e_ij ~ N(0, sigma^2)`` gives every participant the covariance
``sigma^2 (I + gamma J)`` over their observed visits, ``gamma = tau^2 /
sigma^2``. ``sigma^2`` has a closed-form REML estimate for each ``gamma``
(``r' W^-1 r / (N - p)``, ``W = I + gamma J``), so the REML criterion is a
function of ``gamma`` alone; its minimum is found as the root of the
analytic derivative (Brent on ``log gamma``, to 1e-13), or at ``gamma = 0``
when the derivative is positive everywhere (then nlme reports a vanishing
``tau``). The fixed effects, their covariance ``sigma^2 (X' W^-1 X)^-1`` and
everything derived from them are what ``nlme::lme(method = "REML")``
reports.

Degrees of freedom follow nlme's containment rule (``nlme:::getFixDF``): a
column of the design that varies within some participant is estimated in
the residual stratum, ``N - n_groups - (number of such columns)``; one that
is constant within every participant but varies between them in the
participant stratum, ``n_groups - (number of such columns) - 1`` (the 1 is
the intercept); the intercept gets the larger of the two.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scoring.reml import GroupedData, ModelError, evaluate, group_by_pattern

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

_LOG_GAMMA_RANGE = (-40.0, 25.0)


@dataclass(frozen=True)
class RandomInterceptFit:
    beta: FloatArray
    #: Covariance matrix of ``beta``.
    cov_beta: FloatArray
    #: Containment degrees of freedom of each coefficient.
    df: FloatArray
    sigma2: float
    tau2: float
    #: REML log-likelihood (nlme's ``logLik``).
    loglik: float
    n_obs: int
    n_groups: int
    converged: bool
    message: str


def containment_df(x: FloatArray, group: IntArray) -> FloatArray:
    """nlme's denominator degrees of freedom for each column of ``x`` (one grouping level)."""
    n = x.shape[0]
    order = np.argsort(group, kind="stable")
    g = group[order]
    xs = x[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    n_groups = len(starts)
    first = np.repeat(xs[starts], np.diff(np.r_[starts, n]), axis=0)
    inner = np.any(xs != first, axis=0)  # varies within some participant
    tolerance = math.sqrt(np.finfo(float).eps)
    constant = np.sum(np.abs(x[1:] - x[0]), axis=0) < tolerance * (np.sum(np.abs(x), axis=0) + 1)
    outer = ~constant & ~inner
    df_outer = float(n_groups - int(outer.sum()))
    df_inner = float(n - n_groups - int(inner.sum()))
    if constant.any():
        df_outer -= 1
    else:
        df_inner += 1
    out = np.where(inner, df_inner, df_outer)
    out[constant] = max(df_outer, df_inner)
    return np.asarray(out, dtype=np.float64)


def _profile(data: GroupedData, gamma: float) -> tuple[float, float, float]:
    """(profiled -2 l_R, its derivative in log gamma, r' W^-1 r) at ``gamma``."""
    k = data.n_visits
    w = np.eye(k) + gamma * np.ones((k, k))
    ev = evaluate(data, w)
    assert ev.gradient is not None and ev.gradient_quadratic is not None
    nu = data.n_obs - data.n_params
    q = ev.quadratic
    dev = ev.deviance - q + nu * math.log(q / nu) + nu
    # d/dgamma: the log-determinant part of G plus (nu / q) times the quadratic part,
    # each contracted with dW/dgamma = J.
    d_gamma = float(np.sum(ev.gradient - ev.gradient_quadratic)) + nu / q * float(
        np.sum(ev.gradient_quadratic)
    )
    return dev, d_gamma * gamma, q


def fit_random_intercept(
    y: FloatArray, x: FloatArray, group: IntArray, visit: IntArray, n_visits: int
) -> RandomInterceptFit:
    """REML fit of ``y ~ x + (1 | group)``; ``visit`` only labels rows within a participant."""
    from scipy import optimize

    data = group_by_pattern(y, x, group, visit, n_visits)
    nu = data.n_obs - data.n_params
    if nu <= 0:
        raise ModelError("no residual degrees of freedom (as many coefficients as scores)")
    lo, hi = _LOG_GAMMA_RANGE

    def slope(u: float) -> float:
        return _profile(data, math.exp(u))[1]

    converged, message = True, "converged"
    if slope(lo) >= 0:
        gamma = 0.0  # the criterion increases with gamma: no between-participant variance
        message = "converged at the boundary (tau = 0)"
    elif slope(hi) <= 0:
        gamma = math.exp(hi)
        converged, message = False, "the between-participant variance has no finite estimate"
    else:
        u = optimize.brentq(slope, lo, hi, xtol=1e-13, rtol=4 * np.finfo(float).eps, maxiter=500)
        gamma = math.exp(float(u))
    k = data.n_visits
    ev = evaluate(data, np.eye(k) + gamma * np.ones((k, k)), gradient=False)
    sigma2 = ev.quadratic / nu
    dev = ev.deviance - ev.quadratic + nu * math.log(sigma2) + nu
    return RandomInterceptFit(
        beta=ev.beta,
        cov_beta=sigma2 * ev.xtvx_inv,
        df=containment_df(x, group),
        sigma2=sigma2,
        tau2=gamma * sigma2,
        loglik=-dev / 2,
        n_obs=data.n_obs,
        n_groups=data.n_groups,
        converged=converged,
        message=message,
    )
