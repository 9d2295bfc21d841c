"""The demo's "E2108 paper" run against R: its MMRM equals ``nlme::gls`` and its time to
deterioration equals ``survival``, on the run's own snapshot (skipped without R).

The statistics are checked against R on many tables in tests/scoring/; this is the
end-to-end check that the run feeds them the right data: the snapshot's received forms,
the study days of the forms, the deaths as of the cut-off.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from scoring.deterioration import derive_times
from surveys.models import AnalysisPreset
from surveys.statistician.analysis.compute import participants_table
from surveys.statistician.analysis.parameters import parse_deterioration
from surveys.statistician.analysis.runs import execute_run, run_start
from surveys.statistician.analysis.snapshot import from_bytes, received_scores
from tests.scoring.rreference import FIXTURES
from tests.scoring.test_live_r import needs_r

R_SCRIPT = r"""
suppressPackageStartupMessages({library(nlme); library(survival)})
a <- commandArgs(trailingOnly = TRUE)
out <- function(label, v) cat(label, sprintf("%.17g", v), "\n")
source(a[1])                                  # gls_tight.R
d <- read.csv(a[2], stringsAsFactors = FALSE)
d$arm <- factor(d$arm, levels = c("B", "A"))
d$visit <- factor(d$visit, levels = c("m6", "m18", "m30"))
d$visit_index <- as.integer(d$visit)
d <- d[order(d$id, d$visit_index), ]
fit <- fit_gls_tight(d, fit_gls(d))
out("coef", coef(fit)); out("se", sqrt(diag(vcov(fit)))); out("p", summary(fit)$tTable[, "p-value"])
b <- coef(fit); V <- vcov(fit); n <- names(b)
for (v in levels(d$visit)) {
  L <- as.numeric(n == "armA" | n == paste0("armA:visit", v))
  est <- sum(L * b); se <- sqrt(drop(t(L) %*% V %*% L)); df <- fit$dims$N - fit$dims$p
  out(paste0("diff_", v), c(est, se, 2 * pt(-abs(est / se), df)))
}
for (f in a[-(1:2)]) {
  t <- read.csv(f, stringsAsFactors = FALSE); t$arm <- factor(t$arm, levels = c("B", "A"))
  tag <- sub("[.]csv$", "", basename(f))
  for (g in c("A", "B")) {
    tab <- summary(survfit(Surv(time, event) ~ 1, data = t[t$arm == g, ]))$table
    out(paste0(tag, "_km_", g), tab[c("median", "0.95LCL", "0.95UCL")])
  }
  out(paste0(tag, "_logrank"), survdiff(Surv(time, event) ~ arm, data = t)$chisq)
  cx <- summary(coxph(Surv(time, event) ~ arm, data = t, ties = "efron"))
  out(paste0(tag, "_cox"), c(cx$conf.int[1, c(1, 3, 4)], cx$coefficients[1, "Pr(>|z|)"]))
}
"""


@pytest.fixture
def demo_run(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    call_command("seed_demo", "--as-of", "2027-03-15", "--no-run", stdout=io.StringIO())
    run = run_start(user=get_user_model().objects.get(username="stat"),
                    preset=AnalysisPreset.objects.get())  # fmt: skip
    execute_run(run.pk, now=dt.datetime(2027, 3, 15, 9, tzinfo=dt.UTC))
    run.refresh_from_db()
    with run.snapshot.open("rb") as fh:
        return run, from_bytes(fh.read(), expected_hash=run.snapshot_hash)


def _numbers(text: str) -> dict[str, np.ndarray]:
    return {
        line.split()[0]: np.array([math.nan if v == "NA" else float(v) for v in line.split()[1:]])
        for line in text.splitlines()
        if line.strip()
    }


@needs_r
def test_the_paper_runs_mmrm_and_time_to_deterioration_equal_r(demo_run, tmp_path: Path):
    run, snapshot = demo_run
    scores = received_scores(snapshot)
    base = scores.loc[scores["visit"] == "baseline"].set_index("participant_id")["TOI"].dropna()
    follow = scores.loc[(scores["visit"] != "baseline") & scores["TOI"].notna()].copy()
    follow = follow.loc[follow["participant_id"].isin(base.index)]
    follow["base"] = follow["participant_id"].map(base)
    changes = pd.DataFrame(
        {
            "id": follow["participant_id"],
            "arm": follow["arm"],
            "visit": follow["visit"],
            "base": follow["base"],
            "chg": follow["TOI"] - follow["base"],
        }
    )
    changes.to_csv(tmp_path / "chg.csv", index=False, float_format="%.17g")
    people = participants_table(snapshot)
    files = []
    for name in run.parameters["deterioration"]:
        times = derive_times(
            scores, parse_deterioration(name), participants=people, day_col="day"
        ).frame
        path = tmp_path / f"{name}.csv"
        times[["arm", "time", "event"]].to_csv(path, index=False)
        files.append(path)
    script = tmp_path / "check.R"
    script.write_text(R_SCRIPT)
    done = subprocess.run(
        ["Rscript", str(script), str(FIXTURES / "gls_tight.R"), str(tmp_path / "chg.csv"),
         *map(str, files)],
        capture_output=True, text=True, check=True, timeout=600,
    )  # fmt: skip
    r = _numbers(done.stdout)

    mmrm = pd.DataFrame(run.results["mmrm"])
    toi = mmrm.loc[mmrm["measure"] == "TOI"]
    coef = toi.loc[toi["kind"] == "coefficient"]
    # R's terms: (Intercept), armA, visitm18, visitm30, base, armA:visitm18, armA:visitm30
    assert coef["term"].tolist()[0] == "(Intercept)" and len(coef) == len(r["coef"])
    order = [coef["term"].tolist().index(t) for t in _our_terms(coef["term"].tolist())]
    for ours, theirs in (("estimate", "coef"), ("se", "se"), ("p_value", "p")):
        np.testing.assert_allclose(coef[ours].to_numpy()[order], r[theirs], atol=1e-6, err_msg=ours)
    for _, row in toi.loc[toi["kind"] == "difference"].iterrows():
        np.testing.assert_allclose(
            [row["estimate"], row["se"], row["p_value"]], r[f"diff_{row['visit']}"], atol=1e-6
        )

    ttd = pd.DataFrame(run.results["ttd"])
    for name in run.parameters["deterioration"]:
        mine = ttd.loc[ttd["definition"] == name].set_index(["kind", "arm"])
        for arm in ("A", "B"):
            got = mine.loc[("median", arm), ["estimate", "ci_low", "ci_high"]].to_numpy(float)
            np.testing.assert_array_equal(got, r[f"{name}_km_{arm}"], err_msg=f"{name} {arm}")
        assert mine.loc[("logrank", "A vs B"), "statistic"] == pytest.approx(
            r[f"{name}_logrank"][0], rel=1e-10
        )
        hr = mine.loc[("hazard_ratio", "A / B"), ["estimate", "ci_low", "ci_high", "p_value"]]
        np.testing.assert_allclose(hr.to_numpy(float), r[f"{name}_cox"], rtol=1e-6, err_msg=name)


def _our_terms(terms: list[str]) -> list[str]:
    """Our coefficient names in R's order (intercept, arm, visits, baseline, interactions)."""
    arm = [t for t in terms if t.startswith("arm[") and ":" not in t]
    visits = [t for t in terms if t.startswith("visit[")]
    inter = [t for t in terms if ":" in t]
    return ["(Intercept)", *arm, *visits, "baseline", *inter]
