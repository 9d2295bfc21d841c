"""Live cross-check against R on fresh random data (skipped when R, nlme or survival is missing).

The committed fixtures (make_r_reference_models.R) guard CI, which has no R;
here R is the oracle for new data at every run: the MMRM (nlme::gls, taken
to a tight optimum by fixtures/gls_tight.R), the random-intercept model
(nlme::lme), Kaplan-Meier medians, log-rank and Cox (survival), p.adjust
(Holm) and prop.test.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scoring.extras import mixed_model
from scoring.mmrm import mmrm
from scoring.multiplicity import holm
from scoring.proportions import prop_test
from scoring.survival import cox_ph, kaplan_meier, logrank
from tests.scoring.rreference import FIXTURES


def _r_has(*packages: str) -> bool:
    if shutil.which("Rscript") is None:
        return False
    code = "; ".join(f"library({p})" for p in packages)
    done = subprocess.run(["Rscript", "-e", code], capture_output=True, timeout=60, check=False)
    return done.returncode == 0


needs_r = pytest.mark.skipif(
    not _r_has("nlme", "survival"), reason="R with nlme and survival is not installed"
)

LIVE_R = r"""
suppressPackageStartupMessages({library(nlme); library(survival)})
a <- commandArgs(trailingOnly = TRUE)
out <- function(label, v) cat(label, sprintf("%.17g", v), "\n")
source(a[1])                                  # gls_tight.R
s <- read.csv(a[2], stringsAsFactors = FALSE)
arms <- sort(unique(s$arm)); visits <- c("baseline", "month3", "month6", "month12")
base <- s[s$visit == "baseline" & !is.na(s$score), ]
d <- s[s$visit != "baseline" & !is.na(s$score), ]
d$base <- base$score[match(d$id, base$id)]
d <- d[!is.na(d$base), ]
d$chg <- d$score - d$base
d$arm <- factor(d$arm, levels = rev(arms)); d$visit <- factor(d$visit, levels = visits[-1])
d$visit_index <- as.integer(d$visit)
d <- d[order(d$id, d$visit_index), ]
fit <- fit_gls_tight(d, fit_gls(d))
out("gls_coef", coef(fit)); out("gls_se", sqrt(diag(vcov(fit))))
out("gls_p", summary(fit)$tTable[, "p-value"]); out("gls_loglik", logLik(fit))
s2 <- s[!is.na(s$score), ]
s2$arm <- factor(s2$arm, levels = rev(arms)); s2$visit <- factor(s2$visit, levels = visits)
l <- summary(lme(score ~ arm * visit, random = ~ 1 | id, data = s2, method = "REML"))$tTable
out("lme_coef", l[, "Value"]); out("lme_se", l[, "Std.Error"]); out("lme_df", l[, "DF"])
out("lme_p", l[, "p-value"])
t <- read.csv(a[3], stringsAsFactors = FALSE)
t$arm <- factor(t$arm, levels = c("B", "A"))
for (g in c("A", "B")) {
  tab <- summary(survfit(Surv(time, event) ~ 1, data = t[t$arm == g, ]))$table
  out(paste0("km_", g), tab[c("median", "0.95LCL", "0.95UCL")])
}
out("logrank", survdiff(Surv(time, event) ~ arm, data = t)$chisq)
cx <- summary(coxph(Surv(time, event) ~ arm, data = t, ties = "efron"))
out("cox", c(cx$coefficients[1, c("coef", "se(coef)", "Pr(>|z|)")], cx$conf.int[1, 3:4]))
p <- scan(a[4], quiet = TRUE, na.strings = "NA")
out("holm", p.adjust(p, "holm"))
k <- scan(a[5], quiet = TRUE)
out("prop", suppressWarnings(prop.test(k[c(1, 3)], k[c(2, 4)])$p.value))
"""


def _scores(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for i in range(int(rng.integers(60, 120))):
        arm = "AB"[i % 2]
        base = float(np.round(rng.normal(60, 12), 2))
        if rng.random() > 0.03:
            rows.append((f"P{i:03d}", arm, "baseline", base))
        walk = 0.0
        for k, visit in enumerate(("month3", "month6", "month12")):
            walk += rng.normal(0, 5)
            if rng.random() < 0.08:
                continue  # intermittent miss
            score = base + walk + (3.0 * (k + 1) / 3 if arm == "A" else 0) + rng.normal(0, 3)
            rows.append((f"P{i:03d}", arm, visit, float(np.round(score, 2))))
            if rng.random() < 0.12:
                break
    return pd.DataFrame(rows, columns=["id", "arm", "visit", "score"])


@needs_r
def test_fresh_random_data_match_live_r(tmp_path: Path) -> None:
    rng = np.random.default_rng()
    scores = _scores(rng)
    scores.to_csv(tmp_path / "scores.csv", index=False)
    n = int(rng.integers(40, 120))
    times = pd.DataFrame(
        {
            "time": rng.integers(1, 25, n).astype(float),  # heavy ties
            "event": (rng.random(n) < 0.6).astype(int),
            "arm": np.where(np.arange(n) % 2 == 0, "A", "B"),
        }
    )
    times.to_csv(tmp_path / "times.csv", index=False)
    p = rng.random(int(rng.integers(3, 12))) / 10
    p[rng.random(p.size) < 0.2] = np.nan
    (tmp_path / "p.txt").write_text(" ".join("NA" if math.isnan(x) else repr(float(x)) for x in p))
    counts = [int(rng.integers(0, 30)), 30, int(rng.integers(0, 40)), 40]
    (tmp_path / "k.txt").write_text(" ".join(map(str, counts)))
    script = tmp_path / "live.R"
    script.write_text(LIVE_R)
    args = [FIXTURES / "gls_tight.R", *(tmp_path / f for f in ("scores.csv", "times.csv"))]
    args += [tmp_path / "p.txt", tmp_path / "k.txt"]
    done = subprocess.run(
        ["Rscript", str(script), *map(str, args)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    r = {
        line.split()[0]: np.array([math.nan if v == "NA" else float(v) for v in line.split()[1:]])
        for line in done.stdout.splitlines()
        if line.strip()
    }
    table = scores.rename(columns={"id": "participant_id", "score": "TOI"})

    fit = mmrm(table, measure="TOI")
    np.testing.assert_allclose(fit.coefficients["estimate"], r["gls_coef"], atol=1e-6)
    np.testing.assert_allclose(fit.coefficients["se"], r["gls_se"], atol=1e-6)
    np.testing.assert_allclose(fit.coefficients["p_value"], r["gls_p"], atol=1e-6)
    assert fit.loglik == pytest.approx(r["gls_loglik"][0], abs=1e-6)

    fixed = mixed_model(table, measure="TOI")
    fixed = fixed[fixed["kind"] == "fixed_effect"]
    # R orders arm, visits, interactions; ours visits, arm, interactions
    order = [0, 4, 1, 2, 3, 5, 6, 7]
    for col, key in (("estimate", "lme_coef"), ("se", "lme_se"), ("p_value", "lme_p")):
        np.testing.assert_allclose(fixed[col].to_numpy()[order], r[key], atol=1e-6, err_msg=col)
    np.testing.assert_array_equal(fixed["df"].to_numpy()[order], r["lme_df"])

    in_a = (times["arm"] == "A").to_numpy()
    for arm, mask in (("A", in_a), ("B", ~in_a)):
        km = kaplan_meier(times["time"][mask], times["event"][mask])
        np.testing.assert_array_equal(
            [km.median, km.median_low, km.median_high], r[f"km_{arm}"], err_msg=arm
        )
    assert logrank(times["time"], times["event"], in_a).chisq == pytest.approx(
        r["logrank"][0], rel=1e-10
    )
    cox = cox_ph(times["time"], times["event"], in_a)
    np.testing.assert_allclose(
        [cox.coef, cox.se, cox.p_value, cox.hr_low, cox.hr_high], r["cox"], rtol=1e-6, atol=1e-9
    )
    np.testing.assert_array_equal(holm(p), r["holm"])
    assert prop_test(*counts).p_value == pytest.approx(r["prop"][0], rel=1e-12, nan_ok=True)
