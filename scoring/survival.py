"""Kaplan-Meier, the log-rank test and the Cox model, as R's survival package computes them.

* :func:`kaplan_meier`: ``survfit(Surv(time, event) ~ 1)`` with its defaults:
  the product-limit estimate, Greenwood's variance on the log scale
  (``std.err`` = SE of log S), ``conf.type = "log"`` intervals capped at 1,
  undefined (NaN) where S = 0. The median and its 95% interval follow
  ``print.survfit`` (``survival:::survmean``): the first time the curve (for
  the limits: the lower and the upper confidence curve) is at or below 0.5;
  when the curve equals 0.5 exactly (within ``sqrt(.Machine$double.eps)``)
  over a stretch, the midpoint between the start of the stretch and the
  next time the curve drops. Never at or below 0.5: NaN ("not reached").
* :func:`logrank`: ``survdiff(Surv(time, event) ~ arm)`` (rho = 0), the
  chi-square with the hypergeometric variance and 1 degree of freedom.
* :func:`cox_ph`: ``coxph(Surv(time, event) ~ arm, ties = "efron")`` with one
  binary covariate, Newton-Raphson to convergence, Wald interval
  ``exp(beta -/+ z se)``, ``se`` from the information at the estimate.

Times are compared exactly: survival's ``timefix`` (which merges times that
differ by a relative 1e-8) changes nothing for day or month counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scoring.rstats import pnorm, qnorm

FloatArray = npt.NDArray[np.float64]

_TOL = math.sqrt(np.finfo(float).eps)


def _inputs(time: npt.ArrayLike, event: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    t = np.asarray(time, dtype=np.float64).ravel()
    e = np.asarray(event, dtype=np.float64).ravel()
    if t.shape != e.shape:
        raise ValueError("time and event must have the same length")
    if not np.all(np.isfinite(t)):
        raise ValueError("times must be finite numbers")
    if not np.all((e == 0) | (e == 1)):
        raise ValueError("event must be 0 (censored) or 1 (event)")
    return t, e


@dataclass(frozen=True)
class KaplanMeier:
    """A Kaplan-Meier curve at every distinct time (event or censoring), as ``survfit``."""

    time: FloatArray
    n_risk: FloatArray
    n_event: FloatArray
    n_censor: FloatArray
    surv: FloatArray
    #: SE of log S (Greenwood); infinite once everybody at risk has had the event.
    std_err: FloatArray
    lower: FloatArray
    upper: FloatArray
    n: int
    events: int
    median: float
    median_low: float
    median_high: float
    conf_level: float


def _first_at_or_below_half(curve: FloatArray, time: FloatArray) -> float:
    """``minmin`` in ``survival:::survmean``."""
    keep = ~np.isnan(curve) & (curve < 0.5 + _TOL)
    if not keep.any():
        return math.nan
    x = time[keep]
    y = curve[keep]
    if abs(y[0] - 0.5) < _TOL and np.any(y < y[0]):
        return float((x[0] + x[np.flatnonzero(y < y[0])[0]]) / 2)
    return float(x[0])


def kaplan_meier(
    time: npt.ArrayLike, event: npt.ArrayLike, conf_level: float = 0.95
) -> KaplanMeier:
    """Kaplan-Meier estimate with log-scale intervals and the median (see the module doc)."""
    t, e = _inputs(time, event)
    if t.size == 0:
        raise ValueError("no observations")
    times, inverse = np.unique(t, return_inverse=True)
    total = np.bincount(inverse, minlength=times.size).astype(np.float64)
    d = np.bincount(inverse, weights=e, minlength=times.size)
    n_risk = total[::-1].cumsum()[::-1]
    surv = np.cumprod((n_risk - d) / n_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(d > 0, d / (n_risk * (n_risk - d)), 0.0)
    std_err = np.sqrt(np.cumsum(term))
    z = qnorm(1 - (1 - conf_level) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_s = np.where(surv > 0, np.log(np.where(surv > 0, surv, 1.0)), np.nan)
        lower = np.exp(log_s - z * std_err)
        upper = np.minimum(np.exp(log_s + z * std_err), 1.0)
    lower[surv == 0] = np.nan
    upper[surv == 0] = np.nan
    return KaplanMeier(
        time=times,
        n_risk=n_risk,
        n_event=np.asarray(d, dtype=np.float64),
        n_censor=np.asarray(total - d, dtype=np.float64),
        surv=surv,
        std_err=std_err,
        lower=lower,
        upper=upper,
        n=int(t.size),
        events=int(e.sum()),
        median=_first_at_or_below_half(surv, times),
        median_low=_first_at_or_below_half(lower, times),
        median_high=_first_at_or_below_half(upper, times),
        conf_level=conf_level,
    )


@dataclass(frozen=True)
class LogRank:
    """``survdiff``: observed and expected events in arm a and arm b, chi-square, p."""

    observed_a: float
    expected_a: float
    observed_b: float
    expected_b: float
    variance: float
    chisq: float
    df: int
    p_value: float


def _chisq1_upper(x: float) -> float:
    """``pchisq(x, 1, lower.tail = FALSE)`` = 2 * pnorm(-sqrt(x))."""
    if math.isnan(x):
        return math.nan
    return 2 * pnorm(-math.sqrt(x))


def logrank(time: npt.ArrayLike, event: npt.ArrayLike, in_a: npt.ArrayLike) -> LogRank:
    """Two-group log-rank test; ``in_a`` marks the members of arm a."""
    t, e = _inputs(time, event)
    a = np.asarray(in_a, dtype=bool).ravel()
    if a.shape != t.shape:
        raise ValueError("in_a must have the same length as time")
    if a.all() or not a.any():
        raise ValueError("the log-rank test needs two groups")
    times, inverse = np.unique(t, return_inverse=True)
    size = times.size
    total = np.bincount(inverse, minlength=size).astype(np.float64)
    total_a = np.bincount(inverse, weights=a.astype(np.float64), minlength=size)
    d = np.bincount(inverse, weights=e, minlength=size)
    d_a = np.bincount(inverse, weights=e * a, minlength=size)
    n = total[::-1].cumsum()[::-1]
    n_a = total_a[::-1].cumsum()[::-1]
    at = d > 0
    n, n_a, d, d_a = n[at], n_a[at], d[at], d_a[at]
    expected_a = float(np.sum(d * n_a / n))
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.where(n > 1, d * (n_a / n) * (1 - n_a / n) * (n - d) / (n - 1), 0.0)
    variance = float(np.sum(v))
    observed_a = float(d_a.sum())
    events = float(d.sum())
    chisq = (observed_a - expected_a) ** 2 / variance if variance > 0 else math.nan
    return LogRank(
        observed_a=observed_a,
        expected_a=expected_a,
        observed_b=events - observed_a,
        expected_b=events - expected_a,
        variance=variance,
        chisq=chisq,
        df=1,
        p_value=_chisq1_upper(chisq),
    )


@dataclass(frozen=True)
class CoxResult:
    """Cox model of arm a versus arm b (one binary covariate), Efron ties."""

    coef: float
    se: float
    hr: float
    hr_low: float
    hr_high: float
    z: float
    p_value: float
    loglik_null: float
    loglik: float
    iterations: int
    converged: bool
    message: str
    conf_level: float


@dataclass(frozen=True)
class _EventTimes:
    """Risk-set and event sums at each distinct event time, for the Efron likelihood."""

    r0: FloatArray  # number at risk
    r1: FloatArray  # of whom in arm a
    d_count: npt.NDArray[np.intp]  # events
    d0: FloatArray  # events, as float
    d1: FloatArray  # events in arm a
    frac: FloatArray  # l / d for l = 0..d-1, concatenated over the event times


def _efron(beta: float, groups: _EventTimes) -> tuple[float, float, float]:
    """Efron partial log-likelihood, score and information at ``beta``."""
    r0, r1, d_count, d0, d1, frac = (
        groups.r0, groups.r1, groups.d_count, groups.d0, groups.d1, groups.frac,
    )  # fmt: skip
    # risk-set sums at each event time (x binary, so x^2 = x: S2 = S1)
    w = np.exp(beta)
    s0_all = r0 + (w - 1) * r1  # sum over the risk set of exp(beta x)
    s1_all = w * r1
    ties0 = d0 + (w - 1) * d1  # sum over the tied events of exp(beta x)
    ties1 = w * d1
    # expand each event time into its d tie-fractions l/d, l = 0..d-1
    s0 = np.repeat(s0_all, d_count) - frac * np.repeat(ties0, d_count)
    s1 = np.repeat(s1_all, d_count) - frac * np.repeat(ties1, d_count)
    ratio = s1 / s0
    loglik = float(beta * d1.sum() - np.sum(np.log(s0)))
    score = float(d1.sum() - ratio.sum())
    info = float(np.sum(ratio - ratio * ratio))
    return loglik, score, info


def cox_ph(
    time: npt.ArrayLike,
    event: npt.ArrayLike,
    in_a: npt.ArrayLike,
    conf_level: float = 0.95,
    max_iter: int = 100,
) -> CoxResult:
    """``coxph(Surv(time, event) ~ arm, ties = "efron")``: hazard ratio of arm a to arm b."""
    t, e = _inputs(time, event)
    x = np.asarray(in_a, dtype=np.float64).ravel()
    if x.shape != t.shape:
        raise ValueError("in_a must have the same length as time")
    times, inverse = np.unique(t, return_inverse=True)
    size = times.size
    count = np.bincount(inverse, minlength=size).astype(np.float64)
    count_a = np.bincount(inverse, weights=x, minlength=size)
    d = np.bincount(inverse, weights=e, minlength=size)
    d_a = np.bincount(inverse, weights=e * x, minlength=size)
    r0 = count[::-1].cumsum()[::-1]  # number at risk (exp(0 x))
    r1 = count_a[::-1].cumsum()[::-1]  # of whom in arm a
    at = d > 0
    d_int = d[at].astype(np.intp)
    frac = np.concatenate([np.arange(k) / k for k in d_int]) if d_int.size else np.zeros(0)
    groups = _EventTimes(
        r0=r0[at], r1=r1[at], d_count=d_int, d0=_f64(d[at]), d1=_f64(d_a[at]), frac=frac
    )
    nan_result = CoxResult(
        coef=math.nan, se=math.nan, hr=math.nan, hr_low=math.nan, hr_high=math.nan,
        z=math.nan, p_value=math.nan, loglik_null=math.nan, loglik=math.nan, iterations=0,
        converged=False, message="", conf_level=conf_level,
    )  # fmt: skip
    if not d.any():
        return _replace(nan_result, message="no events")
    if x.all() or not x.any():
        return _replace(nan_result, message="the Cox model needs two groups")
    events_a, events = float(d_a.sum()), float(d.sum())
    loglik0, _, _ = _efron(0.0, groups)
    if events_a == 0 or events_a == events:
        return _replace(
            nan_result,
            loglik_null=loglik0,
            message="the hazard ratio is not finite: all events are in one arm",
        )
    beta, (loglik, score, info) = 0.0, _efron(0.0, groups)
    converged = False
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007
        step = score / info
        new_beta = beta + step
        new = _efron(new_beta, groups)
        halvings = 0
        while new[0] < loglik and halvings < 50:  # step halving, as coxph
            step /= 2
            new_beta = beta + step
            new = _efron(new_beta, groups)
            halvings += 1
        beta, (loglik, score, info) = new_beta, new
        if abs(step) <= 1e-12 * max(1.0, abs(beta)):
            converged = True
            break
    se = 1 / math.sqrt(info)
    z_crit = qnorm(1 - (1 - conf_level) / 2)
    z = beta / se
    return CoxResult(
        coef=beta,
        se=se,
        hr=math.exp(beta),
        hr_low=math.exp(beta - z_crit * se),
        hr_high=math.exp(beta + z_crit * se),
        z=z,
        p_value=2 * pnorm(-abs(z)),
        loglik_null=loglik0,
        loglik=loglik,
        iterations=iterations,
        converged=converged,
        message="converged" if converged else "Newton-Raphson did not converge",
        conf_level=conf_level,
    )


def _f64(a: npt.ArrayLike) -> FloatArray:
    return np.asarray(a, dtype=np.float64)


def _replace(result: CoxResult, **changes: object) -> CoxResult:
    import dataclasses

    return dataclasses.replace(result, **changes)  # type: ignore[arg-type]
