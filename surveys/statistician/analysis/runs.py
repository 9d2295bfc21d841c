"""Analysis runs: start one, execute it exactly once, re-run it on its frozen snapshot.

:func:`execute_run` is what the Celery task calls; it goes through the one job
runner (:mod:`surveys.jobs.runner`: lease, claim with an attempt cap,
compare-and-set on the claim token, audit). The work of a run
(:func:`_compute`):

* freeze the snapshot (Parquet + SHA-256): every assessment of the
  participants randomized by the data cut-off, in its state as of the
  cut-off, with the scores of the forms received by then; or, for a re-run,
  read the source run's snapshot back and check its hash;
* compute (:mod:`~surveys.statistician.analysis.compute`: the paper's tests
  with Holm, completion, MMRM, sensitivity analyses, time to deterioration,
  MID responders, the random-intercept model, survival) and the plot; write
  the files into a folder of this attempt.

Parameters are checked against the trial when the run is started
(:func:`~surveys.statistician.analysis.parameters.for_trial`), so a bad
request is refused at once instead of failing in the worker.
"""

from __future__ import annotations

import datetime as dt
import platform
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import scipy
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from scoring.compare import RESULT_COLUMNS, CompareInputError
from scoring.deterioration import TTD_COLUMNS
from scoring.extras import ETON_MIDS, MID_COLUMNS, MIXED_COLUMNS, SUMMARY_COLUMNS
from scoring.facit import SCORING_VERSION
from scoring.instruments import get_score
from scoring.mmrm import MMRM_COLUMNS
from surveys.jobs.claims import Outcome
from surveys.jobs.dispatch import enqueue
from surveys.jobs.runner import Done, execute
from surveys.models import AnalysisPreset, AnalysisRun, Arm, Assessment, JobStatus, Trial, Visit
from surveys.statistician.analysis import snapshot as snap
from surveys.statistician.analysis.compute import (
    COMPLETION_COLUMNS_RUN,
    SENSITIVITY_COLUMNS_RUN,
    SURVIVAL_COLUMNS,
    TIPPING_COLUMNS_RUN,
    analyse,
    as_frame,
    records,
)
from surveys.statistician.analysis.parameters import RunParameters, for_trial
from surveys.statistician.analysis.plot import mean_by_visit_plot

#: 2: snapshots of every assessment with its state; completion, MMRM, sensitivity, TTD.
RESULTS_SCHEMA = 2
#: Tables a run's results hold, with their columns (for CSV downloads).
TABLES: Mapping[str, tuple[str, ...]] = {
    "compare": RESULT_COLUMNS,
    "summary": SUMMARY_COLUMNS,
    "compliance_arm": COMPLETION_COLUMNS_RUN,
    "compliance_site": COMPLETION_COLUMNS_RUN,
    "mmrm": MMRM_COLUMNS,
    "sensitivity": SENSITIVITY_COLUMNS_RUN,
    "tipping": TIPPING_COLUMNS_RUN,
    "ttd": TTD_COLUMNS,
    "mid": MID_COLUMNS,
    "mixed": MIXED_COLUMNS,
    "survival": SURVIVAL_COLUMNS,
}
#: Where each table lives in the results JSON.
_RESULT_KEYS = {
    "compliance_arm": ("compliance", "by_arm"),
    "compliance_site": ("compliance", "by_site"),
}


class RunRefused(ValidationError):
    pass


# --------------------------------------------------------------------------- starting


def run_start(
    *,
    user: Any,
    parameters: Mapping[str, Any] | None = None,
    preset: AnalysisPreset | None = None,
) -> AnalysisRun:
    """Record a run (queued) and send it to a worker when the transaction commits.

    With a *preset*, its parameters are the defaults that *parameters*
    override, and the run shows the preset's reference figures. Raises
    ``ValidationError`` (keyed by parameter) when the parameters do not fit
    the trial; nothing is recorded then.
    """
    merged = {**(preset.parameters if preset else {}), **(parameters or {})}
    params = for_trial(RunParameters.from_dict(merged))
    if params.snapshot_of is not None:
        source = AnalysisRun.objects.filter(pk=params.snapshot_of).first()
        if source is None or source.status != JobStatus.SUCCEEDED or not source.snapshot:
            raise RunRefused({"snapshot_of": "re-run only a run that succeeded"})
    with transaction.atomic():
        run = AnalysisRun.objects.create(
            parameters=params.as_dict(), created_by=user, preset=preset
        )
        enqueue(run)
    return run


def run_again(*, source: AnalysisRun, user: Any) -> AnalysisRun:
    """A new run with the same parameters on the same frozen snapshot."""
    parameters = dict(source.parameters)
    parameters["snapshot_of"] = parameters.get("snapshot_of") or source.pk
    return run_start(user=user, parameters=parameters, preset=source.preset)


# --------------------------------------------------------------------------- executing


def _trial_context(params: RunParameters) -> tuple[dict[str, str], list[dict[str, Any]]]:
    trials = Trial.objects.all()
    if params.trial:
        trials = trials.filter(protocol_id=params.trial)
    arms = dict(Arm.objects.filter(trial__in=trials).order_by("code").values_list("code", "label"))
    visits = [
        {"code": code, "label": label, "number": number}
        for number, code, label in Visit.objects.filter(trial__in=trials)
        .order_by("number")
        .values_list("number", "code", "label")
        .distinct()
    ]
    return arms, visits


def _measure_info(code: str) -> dict[str, Any]:
    score = get_score(code)
    return {
        "code": code,
        "label": score.label_en,
        "range": list(score.range),
        "higher_is_better": score.higher_is_better,
        "mid": ETON_MIDS.get(code),
    }


def _versions() -> dict[str, str]:
    return {
        "scoring": SCORING_VERSION,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scipy": scipy.__version__,
    }


def _reference(run: AnalysisRun, params: RunParameters) -> dict[str, Any] | None:
    """The published figures the run is shown beside: its preset's, frozen into the run."""
    if params.snapshot_of is not None:
        source = AnalysisRun.objects.get(pk=params.snapshot_of)
        frozen = (source.results or {}).get("reference")
        if frozen:
            return dict(frozen)
    if run.preset is not None and run.preset.reference:
        return {**run.preset.reference, "preset": run.preset.name}
    return None


def _compute(run: AnalysisRun, now: dt.datetime) -> dict[str, Any]:
    """Everything a successful run stores (field name -> value)."""
    started = time.perf_counter()
    params = RunParameters.from_dict(run.parameters)
    folder = f"analysis/run-{run.pk}/attempt-{run.attempts}"
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if params.snapshot_of is not None:
        source = AnalysisRun.objects.get(pk=params.snapshot_of)
        with source.snapshot.open("rb") as fh:
            data = fh.read()
        frame = snap.from_bytes(data, expected_hash=source.snapshot_hash)
        snapshot_name, snapshot_hash = source.snapshot.name, source.snapshot_hash
        as_of = (source.results.get("compliance") or {}).get("as_of") or "unknown"
    else:
        data = snap.to_bytes(snap.freeze(params.filters, now=now))
        snapshot_hash = snap.digest(data)
        snapshot_name = default_storage.save(f"{folder}/snapshot.parquet", ContentFile(data))
        # Analyse what was written, read back: a re-run reads the same bytes.
        frame = snap.from_bytes(data, expected_hash=snapshot_hash)
        as_of = (
            f"end of {params.cutoff.isoformat()} (site-local)" if params.cutoff else now.isoformat()
        )
    timings["snapshot_s"] = time.perf_counter() - t0

    arms, visits = _trial_context(params)
    analysis = analyse(
        frame,
        measures=params.measures,
        baseline=params.baseline,
        plot_measure=params.plot_measure,
        mid_measures=params.mid_measures if params.mid_responders else (),
        mixed_measures=params.mixed_measures if params.mixed_model else (),
        mmrm_measures=params.mixed_measures if params.mmrm else (),
        deterioration=params.deterioration_definitions,
        sensitivity_measure=params.sensitivity_measure,
        sensitivity_visits=params.sensitivity_visits,
        visit_order=[v["code"] for v in visits],
    )
    timings.update(analysis.timings)

    t0 = time.perf_counter()
    scores = snap.received_scores(frame)
    seen = set(scores["visit"].astype(str))
    plot_visits = [(v["code"], v["label"]) for v in visits if v["code"] in seen]
    plot_label = get_score(params.plot_measure).label_en
    png, svg = mean_by_visit_plot(
        analysis.summary,
        measure=params.plot_measure,
        measure_label=plot_label,
        visits=plot_visits,
        arm_labels=arms,
    )
    plot_png = default_storage.save(f"{folder}/mean_{params.plot_measure}.png", ContentFile(png))
    plot_svg = default_storage.save(f"{folder}/mean_{params.plot_measure}.svg", ContentFile(svg))
    timings["plot_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - started

    labels = {v["code"]: v["label"] for v in visits}

    def completion_rows(table: pd.DataFrame | None) -> list[dict[str, Any]]:
        rows = records(table)
        for row in rows:
            row["visit_label"] = labels.get(row["visit"], row["visit"])
        return rows

    results = {
        "schema": RESULTS_SCHEMA,
        "arms": arms,
        "visits": visits,
        "measures": [_measure_info(m) for m in analysis.measures],
        "plot_measure": params.plot_measure,
        "snapshot": {
            "rows": len(frame),
            "forms": len(scores),
            "participants": int(frame["participant_id"].nunique()),
            "sha256": snapshot_hash,
            "source_run": params.snapshot_of,
        },
        "compare": records(analysis.compare),
        "summary": records(analysis.summary),
        "compliance": {
            "as_of": as_of,
            "by_arm": completion_rows(analysis.completion),
            "by_site": completion_rows(analysis.completion_site),
        },
        "mmrm": records(analysis.mmrm),
        "sensitivity": records(analysis.sensitivity),
        "tipping": records(analysis.tipping),
        "ttd": records(analysis.ttd),
        "mid": records(analysis.mid),
        "mixed": records(analysis.mixed),
        "survival": records(analysis.survival),
        "missed_reasons": {
            **dict(Assessment.MissedReason.choices),
            snap.UNRECORDED: "reason not recorded",
        },
        "notes": analysis.notes,
        "warnings": analysis.warnings,
        "timings": {k: round(v, 4) for k, v in timings.items()},
        "versions": _versions(),
        "attempt": run.attempts,
    }
    reference = _reference(run, params)
    if reference:
        results["reference"] = reference
    return {
        "results": results,
        "snapshot": snapshot_name,
        "snapshot_hash": snapshot_hash,
        "plot_png": plot_png,
        "plot_svg": plot_svg,
    }


def _work(run: AnalysisRun, now: dt.datetime) -> Done:
    stored = _compute(run, now)
    return Done(
        fields=stored,
        audit={
            "analysis_run": run.pk,
            "snapshot_sha256": stored["snapshot_hash"],
            "parameters": run.parameters,
            "attempt": run.attempts,
        },
    )


#: Failures that are the input's fault (not a bug): stored as they are, not logged as errors.
EXPECTED_ERRORS: tuple[type[Exception], ...] = (
    CompareInputError,
    snap.SnapshotMismatch,
    ValidationError,
)


def execute_run(run_id: int, *, now: dt.datetime | None = None) -> Outcome:
    """Run the analysis once. Safe to call again and from several workers."""
    return execute(AnalysisRun, run_id, work=_work, expected=EXPECTED_ERRORS, now=now)


# --------------------------------------------------------------------------- reading


def results_table(run: AnalysisRun, name: str) -> pd.DataFrame:
    """One of :data:`TABLES` from a run's stored results."""
    if name not in TABLES:
        raise KeyError(name)
    results = run.results or {}
    if name in _RESULT_KEYS:
        section, key = _RESULT_KEYS[name]
        rows = (results.get(section) or {}).get(key, [])
        frame = pd.DataFrame(rows)
        return frame if len(frame.columns) else as_frame([], TABLES[name])
    return as_frame(results.get(name) or [], TABLES[name])
