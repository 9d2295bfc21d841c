"""Restricted maximum likelihood (REML) for linear models with grouped errors.

Both longitudinal models in this package have the same shape: participant
*i* contributes the scores ``y_i`` observed at a subset ``S_i`` of ``K``
visits, the rows ``X_i`` of a fixed-effects design, and errors
``e_i ~ N(0, Sigma[S_i, S_i])`` independent between participants, where
``Sigma`` is one ``K x K`` covariance matrix. The unstructured MMRM lets
``Sigma`` be any positive-definite matrix (:mod:`scoring.mmrm`); the random
intercept model has ``Sigma = sigma^2 (I + gamma J)``
(:mod:`scoring.random_intercept`).

For a given ``Sigma`` the generalised least squares estimate and the REML
criterion

    -2 l_R(Sigma) = sum_i log|Sigma_i| + log|X' V^-1 X| + r' V^-1 r + (N - p) log(2 pi)

(``V`` block diagonal with blocks ``Sigma_i``, ``r = y - X beta_hat``) are
computed here, together with the gradient of ``-2 l_R`` with respect to
``Sigma``. Participants are grouped by their pattern of observed visits so
that every pattern costs one small Cholesky factorisation; no ``N x N``
matrix is ever formed. This is exactly the criterion ``nlme::gls`` and
``nlme::lme`` maximise with ``method = "REML"`` (they differ only in how they
parametrise ``Sigma``), so the optimum, and everything computed at it, is
the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import linalg

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

LOG_2PI = math.log(2 * math.pi)


class ModelError(ValueError):
    """The model cannot be fitted to these data (the message says why)."""


@dataclass(frozen=True)
class Pattern:
    """The participants observed at exactly the visits ``visits`` (0-based, ascending)."""

    visits: IntArray
    x: FloatArray  # (n_participants, k, p)
    y: FloatArray  # (n_participants, k)
    rows: IntArray  # (n_participants, k): the data rows, for residuals


@dataclass(frozen=True)
class GroupedData:
    """Data arranged by missingness pattern for :func:`evaluate`."""

    patterns: tuple[Pattern, ...]
    n_obs: int
    n_groups: int
    n_visits: int
    n_params: int


def group_by_pattern(
    y: FloatArray, x: FloatArray, group: IntArray, visit: IntArray, n_visits: int
) -> GroupedData:
    """Arrange rows (one per participant x visit) by participant and visit pattern.

    ``group`` holds participant codes (any integers), ``visit`` the visit index
    0..K-1 of each row. A participant may not have two rows at one visit.
    """
    n, p = x.shape
    if y.shape != (n,) or group.shape != (n,) or visit.shape != (n,):
        raise ValueError("y, x, group and visit must have the same number of rows")
    if n == 0:
        raise ModelError("no observations")
    if visit.min() < 0 or visit.max() >= n_visits:
        raise ValueError("visit index out of range")
    order = np.lexsort((visit, group))
    g_sorted = group[order]
    starts = np.flatnonzero(np.r_[True, g_sorted[1:] != g_sorted[:-1]])
    ends = np.r_[starts[1:], n]
    v_sorted = visit[order]
    if np.any((v_sorted[1:] == v_sorted[:-1]) & (g_sorted[1:] == g_sorted[:-1])):
        raise ModelError("a participant has two rows at the same visit")
    # A pattern key per participant: a bit mask of the visits observed.
    masks = np.zeros(len(starts), dtype=np.int64)
    np.add.at(masks, np.repeat(np.arange(len(starts)), ends - starts), 1 << v_sorted)
    patterns = []
    for mask in np.unique(masks):
        members = np.flatnonzero(masks == mask)
        k = int(ends[members[0]] - starts[members[0]])
        rows = order[starts[members][:, None] + np.arange(k)[None, :]]
        patterns.append(
            Pattern(
                visits=np.flatnonzero([(int(mask) >> j) & 1 for j in range(n_visits)]).astype(
                    np.intp
                ),
                x=x[rows],
                y=y[rows],
                rows=rows,
            )
        )
    return GroupedData(
        patterns=tuple(patterns),
        n_obs=n,
        n_groups=len(starts),
        n_visits=n_visits,
        n_params=p,
    )


@dataclass(frozen=True)
class Evaluation:
    """GLS fit and REML criterion at one ``Sigma``."""

    beta: FloatArray
    #: ``(X' V^-1 X)^-1``: the covariance of ``beta`` (for a ``Sigma`` on the data's scale).
    xtvx_inv: FloatArray
    #: ``-2 l_R``
    deviance: float
    #: ``r' V^-1 r``
    quadratic: float
    #: d(-2 l_R)/d Sigma as a symmetric matrix G: d(-2 l_R) = trace(G dSigma).
    gradient: FloatArray | None
    #: The part of ``gradient`` that comes from ``r' V^-1 r``.
    gradient_quadratic: FloatArray | None


def evaluate(data: GroupedData, sigma: FloatArray, *, gradient: bool = True) -> Evaluation:
    """GLS estimate, REML deviance and (optionally) its gradient at ``sigma``.

    Raises :class:`numpy.linalg.LinAlgError` when ``sigma`` restricted to a
    pattern is not positive definite, :class:`ModelError` when the design is
    rank deficient.
    """
    p = data.n_params
    xtvx = np.zeros((p, p))
    xtvy = np.zeros(p)
    logdet = 0.0
    inverses = []
    for pat in data.patterns:
        sub = sigma[np.ix_(pat.visits, pat.visits)]
        chol = linalg.cho_factor(sub, lower=True, check_finite=False)
        inv = linalg.cho_solve(chol, np.eye(len(pat.visits)), check_finite=False)
        inverses.append(inv)
        logdet += len(pat.y) * 2.0 * float(np.sum(np.log(np.diag(chol[0]))))
        vx = np.einsum("kl,nlp->nkp", inv, pat.x)
        xtvx += np.einsum("nkp,nkq->pq", pat.x, vx)
        xtvy += np.einsum("nkp,nk->p", vx, pat.y)
    try:
        xchol = linalg.cho_factor(xtvx, lower=True, check_finite=False)
    except linalg.LinAlgError as exc:
        raise ModelError("the fixed-effects design is rank deficient") from exc
    diag = np.diag(xchol[0])
    if np.min(diag) <= 1e-10 * np.max(diag):
        raise ModelError("the fixed-effects design is rank deficient")
    beta = linalg.cho_solve(xchol, xtvy, check_finite=False)
    xtvx_inv = linalg.cho_solve(xchol, np.eye(p), check_finite=False)
    logdet_x = 2.0 * float(np.sum(np.log(diag)))
    quad = 0.0
    grad = np.zeros_like(sigma) if gradient else None
    grad_q = np.zeros_like(sigma) if gradient else None
    for pat, inv in zip(data.patterns, inverses, strict=True):
        r = pat.y - pat.x @ beta
        vr = r @ inv  # rows: Sigma_i^-1 r_i (inv symmetric)
        quad += float(np.einsum("nk,nk->", r, vr))
        if grad is not None and grad_q is not None:
            n_i = len(pat.y)
            # sum_i X_i A^-1 X_i'  and  sum_i r_i r_i'
            m = np.einsum("nkp,pq,nlq->kl", pat.x, xtvx_inv, pat.x)
            g_quad = -(vr.T @ vr)  # -sum_i Sigma_i^-1 r_i r_i' Sigma_i^-1
            where = np.ix_(pat.visits, pat.visits)
            grad[where] += n_i * inv - inv @ m @ inv + g_quad
            grad_q[where] += g_quad
    n_minus_p = data.n_obs - p
    deviance = logdet + logdet_x + quad + n_minus_p * LOG_2PI
    return Evaluation(
        beta=beta,
        xtvx_inv=xtvx_inv,
        deviance=deviance,
        quadratic=quad,
        gradient=None if grad is None else (grad + grad.T) / 2,
        gradient_quadratic=None if grad_q is None else (grad_q + grad_q.T) / 2,
    )


def residual_rows(data: GroupedData, beta: FloatArray) -> FloatArray:
    """Residuals ``y - X beta`` in the original row order."""
    out = np.empty(data.n_obs)
    for pat in data.patterns:
        out[pat.rows] = pat.y - pat.x @ beta
    return out


# --------------------------------------------------------------------------
# Unstructured covariance: Sigma = L L' with a log-Cholesky parametrisation
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Convergence:
    """How the optimiser ended; ``converged`` is the verdict the results carry."""

    converged: bool
    iterations: int
    gradient_max: float
    message: str


def _unpack(theta: FloatArray, k: int) -> FloatArray:
    low = np.zeros((k, k))
    low[np.tril_indices(k)] = theta
    idx = np.arange(k)
    low[idx, idx] = np.exp(low[idx, idx])
    return low


def _pack(low: FloatArray) -> FloatArray:
    k = low.shape[0]
    work = low.copy()
    idx = np.arange(k)
    work[idx, idx] = np.log(work[idx, idx])
    return np.asarray(work[np.tril_indices(k)], dtype=np.float64)


def _theta_gradient(grad_sigma: FloatArray, low: FloatArray) -> FloatArray:
    """Chain rule from d/dSigma to the log-Cholesky parameters."""
    k = low.shape[0]
    d_low = 2.0 * grad_sigma @ low  # d/dL of trace(G L L'), G symmetric
    idx = np.arange(k)
    d_low[idx, idx] *= low[idx, idx]  # L_jj = exp(theta)
    return np.asarray(d_low[np.tril_indices(k)], dtype=np.float64)


def fit_unstructured(
    data: GroupedData, start: FloatArray, *, gtol: float = 1e-9, max_iter: int = 500
) -> tuple[FloatArray, Evaluation, Convergence]:
    """REML estimate of an unstructured ``Sigma`` (K x K, positive definite).

    Quasi-Newton (BFGS, analytic gradient) from ``start``, then Newton steps
    on a Hessian obtained by central differences of the analytic gradient
    until the step is below 1e-10 in every (log-Cholesky) parameter, so the
    optimum is found to far more digits than nlme's default tolerances.
    Converged means: the final gradient is below ``gtol`` times
    ``max(1, |deviance|)`` in every parameter and the Hessian is positive
    definite.
    """
    from scipy import optimize

    k = data.n_visits
    scale = max(1.0, float(np.mean(np.diag(start))))

    def objective(theta: FloatArray) -> tuple[float, FloatArray]:
        low = _unpack(theta, k)
        try:
            ev = evaluate(data, low @ low.T)
        except np.linalg.LinAlgError:
            return math.inf, np.zeros_like(theta)
        assert ev.gradient is not None
        return ev.deviance, _theta_gradient(ev.gradient, low)

    theta = _pack(np.asarray(np.linalg.cholesky(start), dtype=np.float64))
    iterations = 0
    res = optimize.minimize(
        objective,
        theta,
        jac=True,
        method="BFGS",
        options={"gtol": 1e-7 * scale, "maxiter": max_iter},
    )
    theta = np.asarray(res.x, dtype=np.float64)
    iterations += int(res.nit)
    hessian_ok = False
    dev, grad = objective(theta)
    for _ in range(20):
        hess = _fd_hessian(lambda t: objective(t)[1], theta)
        try:
            chol = linalg.cho_factor(hess, lower=True, check_finite=False)
        except linalg.LinAlgError:
            hessian_ok = False
            break
        hessian_ok = True
        step = linalg.cho_solve(chol, grad, check_finite=False)
        new_theta = theta - step
        new_dev, new_grad = objective(new_theta)
        halvings = 0
        while not new_dev <= dev + 1e-9 * abs(dev) and halvings < 30:
            step /= 2
            new_theta = theta - step
            new_dev, new_grad = objective(new_theta)
            halvings += 1
        if not math.isfinite(new_dev):
            break
        theta, dev, grad = new_theta, new_dev, new_grad
        iterations += 1
        if np.max(np.abs(step)) < 1e-10:
            break
    low = _unpack(theta, k)
    sigma = low @ low.T
    ev = evaluate(data, sigma)
    gmax = float(np.max(np.abs(grad))) if grad.size else 0.0
    converged = bool(hessian_ok and gmax <= gtol * max(1.0, abs(ev.deviance)))
    message = (
        "converged"
        if converged
        else (
            "the REML criterion has no positive-definite Hessian at the solution"
            if not hessian_ok
            else f"gradient {gmax:.3g} above tolerance"
        )
    )
    return sigma, ev, Convergence(converged, iterations, gmax, message)


def _fd_hessian(
    grad: Callable[[FloatArray], FloatArray], theta: FloatArray, h: float = 1e-5
) -> FloatArray:
    """Symmetrised central-difference Jacobian of the analytic gradient."""
    n = theta.size
    out = np.empty((n, n))
    for j in range(n):
        e = np.zeros(n)
        e[j] = h
        out[:, j] = (np.asarray(grad(theta + e)) - np.asarray(grad(theta - e))) / (2 * h)
    return (out + out.T) / 2
