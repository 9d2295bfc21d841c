"""Mixed model for repeated measures (MMRM) on change from baseline.

The SISAQOL-recommended primary longitudinal analysis of a PRO score:

    change = score(visit) - score(baseline)
    change ~ arm * visit + baseline,  unstructured covariance across visits, REML

using every post-baseline change a participant has (a participant with
missed visits contributes the visits they have; their covariance is the
sub-matrix of the visits observed). This is the model

    nlme::gls(chg ~ arm * visit + base,
              correlation = corSymm(form = ~ visit_index | id),
              weights = varIdent(form = ~ 1 | visit), method = "REML")

fitted by our own REML (:mod:`scoring.reml`: profiled fixed effects,
analytic gradient, log-Cholesky parametrisation of the covariance, BFGS then
Newton to convergence). t tests and intervals use the residual degrees of
freedom ``N - p`` (number of changes minus number of coefficients), as
``summary.gls`` does. Valid when missing scores are missing at random.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from scoring.compare import MIN_PER_ARM, CompareInputError, index_groups, prepare_scores
from scoring.reml import ModelError, fit_unstructured, group_by_pattern
from scoring.rstats import pt_two_sided, qt

FloatArray = npt.NDArray[np.float64]

MMRM_NOTE = (
    "MMRM: change from baseline ~ arm x visit + baseline score, unstructured covariance "
    "across visits, REML, every available post-baseline score; valid if missing scores are "
    "missing at random (MAR)."
)

#: Columns of :meth:`MMRMResult.table` (the long table the command line writes).
MMRM_COLUMNS: tuple[str, ...] = (
    "measure",
    "kind",
    "term",
    "visit",
    "arm",
    "estimate",
    "se",
    "df",
    "t",
    "p_value",
    "ci_low",
    "ci_high",
    "n",
    "converged",
    "note",
)

BaselineMean = Literal["participants", "observations"]


@dataclass(frozen=True)
class MMRMResult:
    """An MMRM fit. Differences are always arm a minus arm b (sorted arm labels).

    ``coefficients``: term, estimate, se, df, t, p_value, ci_low, ci_high
    (terms ``(Intercept)``, ``arm[a]``, ``visit[v]`` for every visit after the
    first, ``baseline``, ``arm[a]:visit[v]``; reference arm b, first visit).
    ``lsmeans``: visit, arm, n (changes), estimate, se, df, ci_low, ci_high.
    ``differences``: visit, n_a, n_b, estimate, se, df, t, p_value, ci_low,
    ci_high. ``covariance``/``correlation``: the fitted K x K matrices of the
    changes, rows and columns labelled by visit.
    """

    measure: str
    arm_a: str
    arm_b: str
    visits: tuple[str, ...]
    coefficients: pd.DataFrame
    lsmeans: pd.DataFrame
    differences: pd.DataFrame
    covariance: pd.DataFrame
    correlation: pd.DataFrame
    baseline_mean: float
    n_participants: int
    n_obs: int
    df_residual: int
    loglik: float
    converged: bool
    iterations: int
    gradient_max: float
    message: str
    #: Participants with follow-up scores but no baseline score (not analysed).
    excluded_no_baseline: int
    #: Participants with a baseline score but no analysable follow-up score.
    excluded_no_followup: int
    #: Follow-up visits left out because an arm had fewer than two changes there.
    dropped_visits: tuple[str, ...]
    conf_level: float

    @property
    def note(self) -> str:
        text = MMRM_NOTE
        if self.dropped_visits:
            left_out = ", ".join(self.dropped_visits)
            text += f" Visits left out (fewer than 2 changes in an arm): {left_out}."
        if not self.converged:
            text += f" WARNING: the REML optimiser did not converge ({self.message})."
        return text

    def table(self) -> pd.DataFrame:
        """One long table: coefficients, LS means, differences, covariance, correlation."""
        rows: list[dict[str, object]] = []

        def add(kind: str, term: str, visit: str, arm: str, n: int, stats: object) -> None:
            assert isinstance(stats, Mapping)
            rows.append(
                {
                    "measure": self.measure,
                    "kind": kind,
                    "term": term,
                    "visit": visit,
                    "arm": arm,
                    "n": n,
                    "converged": self.converged,
                    "note": self.note,
                    **_stats(stats),
                }
            )

        for r in self.coefficients.to_dict("records"):
            add("coefficient", str(r["term"]), "", "", self.n_obs, r)
        for r in self.lsmeans.to_dict("records"):
            add("lsmean", f"{r['arm']} at {r['visit']}", str(r["visit"]), str(r["arm"]),
                int(r["n"]), r)  # fmt: skip
        for r in self.differences.to_dict("records"):
            term = f"{self.arm_a} - {self.arm_b} at {r['visit']}"
            add("difference", term, str(r["visit"]), "", int(r["n_a"]) + int(r["n_b"]), r)
        for kind, matrix in (("covariance", self.covariance), ("correlation", self.correlation)):
            values = matrix.to_numpy(dtype=np.float64)
            for i, v in enumerate(self.visits):
                for j, w in enumerate(self.visits):
                    add(kind, w, v, "", self.n_obs, {"estimate": float(values[i, j])})
        table = pd.DataFrame(rows, columns=list(MMRM_COLUMNS))
        table["n"] = table["n"].astype(np.int64)
        return table


def _stats(row: Mapping[Hashable, object]) -> dict[str, object]:
    keys = ("estimate", "se", "df", "t", "p_value", "ci_low", "ci_high")
    return {k: row.get(k, math.nan) for k in keys}


@dataclass(frozen=True)
class ChangeData:
    """Post-baseline changes in long format, one row per participant x visit."""

    frame: pd.DataFrame  # id, arm, visit, base, chg
    arms: tuple[str, str]
    visits: tuple[str, ...]
    dropped_visits: tuple[str, ...]
    excluded_no_baseline: int
    excluded_no_followup: int


def change_data(
    scores: pd.DataFrame,
    *,
    measure: str,
    id_col: str = "participant_id",
    arm_col: str = "arm",
    visit_col: str = "visit",
    baseline: str = "baseline",
    visits: Sequence[str] | None = None,
) -> ChangeData:
    """Validate a long score table and derive the change rows an MMRM analyses."""
    prepared = prepare_scores(
        scores,
        id_col=id_col,
        arm_col=arm_col,
        visit_col=visit_col,
        baseline=baseline,
        measures=[measure],
        require_baseline=True,
    )
    groups = index_groups(prepared)
    values = prepared.frame[measure].to_numpy(dtype=np.float64)
    base_code = prepared.visits.index(prepared.baseline)
    base_of = np.full(groups.n_participants, np.nan)
    at_base = (groups.visit_code == base_code) & ~np.isnan(values)
    base_of[groups.participant_code[at_base]] = values[at_base]
    followup = (groups.visit_code != base_code) & ~np.isnan(values)
    wanted = list(prepared.followups if visits is None else visits)
    unknown = [v for v in wanted if v not in prepared.followups]
    if unknown:
        raise CompareInputError(
            f"visit(s) {', '.join(map(repr, unknown))} not found among the follow-up visits "
            f"({', '.join(map(repr, prepared.followups))})"
        )
    has_base = ~np.isnan(base_of[groups.participant_code])
    rows = followup & has_base & np.isin(prepared.frame[prepared.visit_col], wanted)
    no_base = np.unique(groups.participant_code[followup & ~has_base])
    frame = pd.DataFrame(
        {
            "id": prepared.frame[prepared.id_col].to_numpy()[rows],
            "arm": prepared.frame[prepared.arm_col].to_numpy()[rows],
            "visit": prepared.frame[prepared.visit_col].to_numpy()[rows],
            "base": base_of[groups.participant_code[rows]],
            "chg": values[rows] - base_of[groups.participant_code[rows]],
        }
    )
    arm_a, arm_b = prepared.arms
    counts = frame.groupby(["visit", "arm"]).size()
    kept: list[str] = []
    dropped: list[str] = []
    for v in wanted:
        n_a = int(counts.get((v, arm_a), 0))
        n_b = int(counts.get((v, arm_b), 0))
        (kept if min(n_a, n_b) >= MIN_PER_ARM else dropped).append(v)
    if not kept:
        raise CompareInputError(
            f"no follow-up visit has at least {MIN_PER_ARM} {measure} changes from baseline in "
            "both arms"
        )
    frame = frame.loc[frame["visit"].isin(kept)].reset_index(drop=True)
    analysed = set(frame["id"])
    with_base = set(prepared.frame[prepared.id_col].to_numpy()[at_base])
    return ChangeData(
        frame=frame,
        arms=prepared.arms,
        visits=tuple(kept),
        dropped_visits=tuple(dropped),
        excluded_no_baseline=len(no_base),
        excluded_no_followup=len(with_base - analysed),
    )


def term_names(arm_a: str, visits: Sequence[str]) -> list[str]:
    rest = list(visits[1:])
    return [
        "(Intercept)",
        f"arm[{arm_a}]",
        *(f"visit[{v}]" for v in rest),
        "baseline",
        *(f"arm[{arm_a}]:visit[{v}]" for v in rest),
    ]


def design_row(is_a: float, visit_index: int, base: float, n_visits: int) -> FloatArray:
    """One row of the design matrix (the columns of :func:`term_names`)."""
    dummies = np.zeros(n_visits - 1)
    if visit_index > 0:
        dummies[visit_index - 1] = 1.0
    return np.concatenate([[1.0, is_a], dummies, [base], is_a * dummies])


def _design(
    frame: pd.DataFrame, arm_a: str, visits: Sequence[str]
) -> tuple[FloatArray, npt.NDArray[np.intp]]:
    k = len(visits)
    vi = np.asarray(frame["visit"].map({v: i for i, v in enumerate(visits)}), dtype=np.intp)
    is_a = (frame["arm"] == arm_a).to_numpy(dtype=np.float64)
    dummies = (vi[:, None] == np.arange(1, k)[None, :]).astype(np.float64)
    x = np.column_stack(
        [np.ones(len(frame)), is_a, dummies, frame["base"].to_numpy(), is_a[:, None] * dummies]
    )
    return x, vi


def _start_covariance(resid: FloatArray, vi: npt.NDArray[np.intp], k: int) -> FloatArray:
    overall = float(np.var(resid)) or 1.0
    diag = []
    for j in range(k):
        r = resid[vi == j]
        v = float(np.var(r)) if r.size > 1 else overall
        diag.append(v if v > 1e-8 * overall else overall)
    return np.diag(diag)


def mmrm(
    scores: pd.DataFrame,
    *,
    measure: str,
    id_col: str = "participant_id",
    arm_col: str = "arm",
    visit_col: str = "visit",
    baseline: str = "baseline",
    visits: Sequence[str] | None = None,
    conf_level: float = 0.95,
    baseline_mean: BaselineMean = "participants",
) -> MMRMResult:
    """Fit the MMRM of change from baseline in ``measure``; see the module docstring.

    ``scores`` is the long table :func:`scoring.compare.compare` takes (one row
    per participant x visit); ``visits`` restricts the follow-up visits
    analysed (default: all). Participants without a baseline score are left
    out (counted in ``excluded_no_baseline``), as are follow-up visits where
    an arm has fewer than two changes (``dropped_visits``).

    **LS means.** The LS mean of arm x at visit v is the model's mean change
    for a participant of arm x at visit v whose baseline score is the mean
    baseline ``b``: ``L' beta`` with ``L`` the design row (arm x, visit v,
    baseline ``b``), SE ``sqrt(L' V L)`` with ``V`` the covariance of
    ``beta``, interval ``L' beta -/+ qt(1 - alpha/2, N - p) SE``. The same
    ``b`` is used for both arms, so the arm difference (LS mean a - LS mean
    b, which does not depend on ``b`` because the model has no arm x
    baseline term) is adjusted for any baseline imbalance. With
    ``baseline_mean="participants"`` (default) ``b`` is the mean of the
    analysed participants' baselines, each participant counted once; with
    ``"observations"`` it is the mean over the analysed change rows (each
    participant counted once per visit analysed), which is what emmeans'
    default reference grid uses for a covariate. No cell is averaged over
    the other factor, so emmeans' "equal weights" (balance over arm) only
    concerns margins this function does not report; the average of the two
    arms' LS means at a visit is such a margin.

    Raises :class:`CompareInputError` for unusable input (as ``compare``)
    and :class:`scoring.reml.ModelError` when the model cannot be fitted.
    """
    if not 0 < conf_level < 1:
        raise ValueError("conf_level must be between 0 and 1")
    data = change_data(
        scores,
        measure=measure,
        id_col=id_col,
        arm_col=arm_col,
        visit_col=visit_col,
        baseline=baseline,
        visits=visits,
    )
    frame = data.frame
    arm_a, arm_b = data.arms
    vis = data.visits
    k = len(vis)
    x, vi = _design(frame, arm_a, vis)
    y = frame["chg"].to_numpy(dtype=np.float64)
    pid, _ = pd.factorize(frame["id"])
    _check_pairs(pid, vi, vis)
    grouped = group_by_pattern(y, x, pid.astype(np.intp), vi, k)
    n, p = x.shape
    df_res = n - p
    if df_res <= 0:
        raise ModelError("no residual degrees of freedom (as many coefficients as changes)")
    beta_ols, *_ = np.linalg.lstsq(x, y, rcond=None)
    start = _start_covariance(y - x @ beta_ols, vi, k)
    sigma, ev, conv = fit_unstructured(grouped, start)
    beta, cov = ev.beta, ev.xtvx_inv
    q = qt(1 - (1 - conf_level) / 2, df_res)

    def test(contrast: FloatArray) -> dict[str, float]:
        est = float(contrast @ beta)
        se = math.sqrt(float(contrast @ cov @ contrast))
        t = est / se if se > 0 else math.nan
        return {
            "estimate": est,
            "se": se,
            "df": float(df_res),
            "t": t,
            "p_value": pt_two_sided(t, df_res),
            "ci_low": est - q * se,
            "ci_high": est + q * se,
        }

    names = term_names(arm_a, vis)
    coefficients = pd.DataFrame(
        [{"term": name, **test(np.eye(p)[i])} for i, name in enumerate(names)]
    )
    if baseline_mean == "participants":
        b = float(frame.drop_duplicates("id")["base"].mean())
    elif baseline_mean == "observations":
        b = float(frame["base"].mean())
    else:
        raise ValueError("baseline_mean must be 'participants' or 'observations'")
    counts = frame.groupby(["visit", "arm"]).size()
    lsm_rows, diff_rows = [], []
    for j, v in enumerate(vis):
        rows = {arm: design_row(float(arm == arm_a), j, b, k) for arm in (arm_a, arm_b)}
        for arm in (arm_a, arm_b):
            stats = test(rows[arm])
            del stats["t"], stats["p_value"]
            lsm_rows.append({"visit": v, "arm": arm, "n": int(counts.get((v, arm), 0)), **stats})
        diff_rows.append(
            {
                "visit": v,
                "n_a": int(counts.get((v, arm_a), 0)),
                "n_b": int(counts.get((v, arm_b), 0)),
                **test(rows[arm_a] - rows[arm_b]),
            }
        )
    sd = np.sqrt(np.diag(sigma))
    labels = list(vis)
    return MMRMResult(
        measure=measure,
        arm_a=arm_a,
        arm_b=arm_b,
        visits=vis,
        coefficients=coefficients,
        lsmeans=pd.DataFrame(lsm_rows),
        differences=pd.DataFrame(diff_rows),
        covariance=pd.DataFrame(sigma, index=labels, columns=labels),
        correlation=pd.DataFrame(sigma / np.outer(sd, sd), index=labels, columns=labels),
        baseline_mean=b,
        n_participants=grouped.n_groups,
        n_obs=n,
        df_residual=df_res,
        loglik=-ev.deviance / 2,
        converged=conv.converged,
        iterations=conv.iterations,
        gradient_max=conv.gradient_max,
        message=conv.message,
        excluded_no_baseline=data.excluded_no_baseline,
        excluded_no_followup=data.excluded_no_followup,
        dropped_visits=data.dropped_visits,
        conf_level=conf_level,
    )


def _check_pairs(
    pid: npt.NDArray[np.intp], vi: npt.NDArray[np.intp], visits: Sequence[str]
) -> None:
    """Every pair of visits needs participants seen at both, or their correlation is unknown."""
    k = len(visits)
    seen = np.zeros((int(pid.max()) + 1, k), dtype=np.int64)
    seen[pid, vi] = 1
    together = seen.T @ seen
    for i in range(k):
        for j in range(i + 1, k):
            if together[i, j] < 2:
                raise ModelError(
                    f"fewer than two participants have changes at both {visits[i]} and "
                    f"{visits[j]}: their correlation cannot be estimated"
                )
