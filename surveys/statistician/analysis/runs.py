"""Analysis runs: start one, execute it exactly once, re-run it on its frozen snapshot.

:func:`execute_run` is what the Celery task calls; it is idempotent:

1. take the run's lease (``surveys.services.job_claims``) — a live executor
   elsewhere means "busy, try later";
2. claim the row under ``select_for_update``: a finished run is left alone
   (never recomputed); a queued one, or a running one whose executor died,
   gets a new claim token and ``attempts + 1``;
3. freeze the snapshot (Parquet + SHA-256) or, for a re-run, read the source
   run's snapshot back and check its hash; compute (``scoring.compare`` and
   the extras), the compliance table and the plot; write the files into a
   folder of this attempt;
4. store everything with a compare-and-set on the claim token, so only the
   executor that still holds the claim can finish the run.
"""

from __future__ import annotations

import datetime as dt
import logging
import platform
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import scipy
import statsmodels
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from scoring.compare import RESULT_COLUMNS, CompareInputError
from scoring.extras import ETON_MIDS, MID_COLUMNS, MIXED_COLUMNS, SUMMARY_COLUMNS
from scoring.facit import SCORING_VERSION
from scoring.instruments import get_score
from surveys.models import AnalysisRun, Arm, AuditEvent, ExportJob, JobStatus, Site, Trial, Visit
from surveys.services.job_claims import (
    ANALYSIS_LOCKS,
    EXPORT_LOCKS,
    Outcome,
    executor_alive,
    lease,
    lock_job_row,
    new_token,
)
from surveys.statistician.analysis import snapshot as snap
from surveys.statistician.analysis.compute import analyse, as_frame, records
from surveys.statistician.analysis.parameters import RunParameters
from surveys.statistician.analysis.plot import mean_by_visit_plot
from surveys.trial.compliance import compliance_table

log = logging.getLogger(__name__)
RESULTS_SCHEMA = 1
#: A run whose executor died this many times is failed instead of tried again.
MAX_ATTEMPTS = 3
#: A queued job untouched for this long is sent to the workers again by the recovery.
QUEUED_GRACE = dt.timedelta(minutes=2)
COMPLIANCE_COLUMNS = (
    "visit",
    "group",
    "randomized",
    "expected",
    "received",
    "compliance_pct",
    "completion_pct",
    "still_open",
    "missed_total",
)
#: Tables a run's results hold, with their columns (for CSV downloads).
TABLES: Mapping[str, tuple[str, ...]] = {
    "compare": RESULT_COLUMNS,
    "summary": SUMMARY_COLUMNS,
    "mid": MID_COLUMNS,
    "mixed": MIXED_COLUMNS,
    "compliance_arm": COMPLIANCE_COLUMNS,
    "compliance_site": COMPLIANCE_COLUMNS,
}


class RunRefused(ValidationError):
    pass


# --------------------------------------------------------------------------- starting


def run_enqueue(run: AnalysisRun) -> None:
    from surveys.tasks import run_analysis_task

    transaction.on_commit(lambda: run_analysis_task.delay(run.pk), robust=True)


def run_start(*, user: Any, parameters: Mapping[str, Any] | None = None) -> AnalysisRun:
    """Record a run (queued) and send it to a worker when the transaction commits."""
    params = RunParameters.from_dict(parameters)
    if params.snapshot_of is not None:
        source = AnalysisRun.objects.filter(pk=params.snapshot_of).first()
        if source is None or source.status != JobStatus.SUCCEEDED or not source.snapshot:
            raise RunRefused({"snapshot_of": "re-run only a run that succeeded"})
    with transaction.atomic():
        run = AnalysisRun.objects.create(parameters=params.as_dict(), created_by=user)
        run_enqueue(run)
    return run


def run_again(*, source: AnalysisRun, user: Any) -> AnalysisRun:
    """A new run with the same parameters on the same frozen snapshot."""
    parameters = dict(source.parameters)
    parameters["snapshot_of"] = parameters.get("snapshot_of") or source.pk
    return run_start(user=user, parameters=parameters)


# --------------------------------------------------------------------------- executing


def _claim(run_id: int, now: dt.datetime) -> tuple[Outcome | None, AnalysisRun | None]:
    with transaction.atomic():
        refused, run = lock_job_row(AnalysisRun, run_id, now)
        if refused is not None or run is None:
            return refused, run
        if run.status == JobStatus.RUNNING and run.attempts >= MAX_ATTEMPTS:
            run.status = JobStatus.FAILED
            run.finished_at = now
            run.error = (
                f"gave up after {run.attempts} attempts: each time the worker running it "
                "died (killed, out of memory, or over the time limit)"
            )
            run.save(update_fields=["status", "finished_at", "error"])
            return Outcome.DONE, None
        run.status = JobStatus.RUNNING
        run.attempts += 1
        run.worker = new_token()
        run.started_at = now
        run.error = ""
        run.save(update_fields=["status", "attempts", "worker", "started_at", "error"])
        return None, run


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


def _compliance(params: RunParameters, now: dt.datetime) -> dict[str, Any]:
    sites = Site.objects.all()
    if params.sites:
        sites = sites.filter(code__in=params.sites)
    return {
        "as_of": now.isoformat(),
        "by_arm": [row.as_dict() for row in compliance_table(sites=sites, now=now, by="arm")],
        "by_site": [row.as_dict() for row in compliance_table(sites=sites, now=now, by="site")],
    }


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
        "statsmodels": statsmodels.__version__,
    }


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
        compliance = source.results.get("compliance") or _compliance(params, now)
    else:
        data = snap.to_bytes(snap.freeze(params.filters))
        snapshot_hash = snap.digest(data)
        snapshot_name = default_storage.save(f"{folder}/snapshot.parquet", ContentFile(data))
        # Analyse what was written, read back: a re-run reads the same bytes.
        frame = snap.from_bytes(data, expected_hash=snapshot_hash)
        compliance = _compliance(params, now)
    timings["snapshot_s"] = time.perf_counter() - t0

    arms, visits = _trial_context(params)
    analysis = analyse(
        frame,
        measures=params.measures,
        baseline=params.baseline,
        plot_measure=params.plot_measure,
        mid_measures=params.mid_measures if params.mid_responders else (),
        mixed_measures=params.mixed_measures if params.mixed_model else (),
    )
    timings.update(analysis.timings)

    t0 = time.perf_counter()
    seen = set(frame["visit"].astype(str))
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

    results = {
        "schema": RESULTS_SCHEMA,
        "arms": arms,
        "visits": visits,
        "measures": [_measure_info(m) for m in analysis.measures],
        "plot_measure": params.plot_measure,
        "snapshot": {
            "rows": len(frame),
            "participants": int(frame["participant_id"].nunique()),
            "sha256": snapshot_hash,
            "source_run": params.snapshot_of,
        },
        "compare": records(analysis.compare),
        "summary": records(analysis.summary),
        "mid": records(analysis.mid),
        "mixed": records(analysis.mixed),
        "compliance": compliance,
        "notes": analysis.notes,
        "warnings": analysis.warnings,
        "timings": {k: round(v, 4) for k, v in timings.items()},
        "versions": _versions(),
        "attempt": run.attempts,
    }
    return {
        "results": results,
        "snapshot": snapshot_name,
        "snapshot_hash": snapshot_hash,
        "plot_png": plot_png,
        "plot_svg": plot_svg,
    }


def execute_run(run_id: int, *, now: dt.datetime | None = None) -> Outcome:
    """Run the analysis once. Safe to call again and from several workers."""
    with lease(ANALYSIS_LOCKS, run_id) as held:
        if not held:
            return Outcome.BUSY
        claimed_at = now or timezone.now()
        outcome, run = _claim(run_id, claimed_at)
        if outcome is not None or run is None:
            return outcome or Outcome.MISSING
        mine = AnalysisRun.objects.filter(pk=run.pk, status=JobStatus.RUNNING, worker=run.worker)
        try:
            stored = _compute(run, claimed_at)
        except Exception as exc:
            expected = isinstance(exc, CompareInputError | snap.SnapshotMismatch | ValidationError)
            if not expected:
                log.exception("analysis run %s failed", run.pk)
            message = str(exc) if expected else f"{type(exc).__name__}: {exc}"
            mine.update(status=JobStatus.FAILED, finished_at=timezone.now(), error=message[:5000])
            return Outcome.DONE
        finished = timezone.now()
        if not mine.update(status=JobStatus.SUCCEEDED, finished_at=finished, error="", **stored):
            return Outcome.ALREADY_DONE  # our claim was taken over; the other executor's wins
        AuditEvent.objects.create(
            at=finished,
            actor=run.created_by,
            actor_label=run.created_by.get_username(),
            action=AuditEvent.Action.ANALYSIS,
            details={
                "analysis_run": run.pk,
                "snapshot_sha256": stored["snapshot_hash"],
                "parameters": run.parameters,
                "attempt": run.attempts,
            },
        )
        return Outcome.DONE


# --------------------------------------------------------------------------- reading


def results_table(run: AnalysisRun, name: str) -> pd.DataFrame:
    """One of :data:`TABLES` from a run's stored results."""
    if name not in TABLES:
        raise KeyError(name)
    results = run.results or {}
    if name.startswith("compliance_"):
        rows = (results.get("compliance") or {}).get(f"by_{name.split('_', 1)[1]}", [])
        frame = pd.DataFrame(rows)
        return frame if len(frame.columns) else as_frame([], TABLES[name])
    return as_frame(results.get(name) or [], TABLES[name])


# --------------------------------------------------------------------------- recovery


def recover_stale_jobs(*, now: dt.datetime | None = None) -> dict[str, list[int]]:
    """Send again every job that no live worker is executing.

    Runs and exports left ``running`` by a dead worker (whole machine gone,
    so the broker will only redeliver after its visibility timeout), and
    queued ones whose message was lost (broker down at enqueue time). A
    message sent twice is harmless: the claim lets one execution through.
    """
    from surveys.tasks import run_analysis_task, run_export_task

    now = now or timezone.now()
    sent: dict[str, list[int]] = {"analysis_runs": [], "exports": []}
    for model, locks, task, key in (
        (AnalysisRun, ANALYSIS_LOCKS, run_analysis_task, "analysis_runs"),
        (ExportJob, EXPORT_LOCKS, run_export_task, "exports"),
    ):
        for pk, status, started_at, created_at in model.objects.filter(
            status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
        ).values_list("pk", "status", "started_at", "created_at"):
            if status == JobStatus.QUEUED and now - created_at < QUEUED_GRACE:
                continue
            if status == JobStatus.RUNNING and executor_alive(locks, pk, started_at):
                continue
            task.delay(pk)
            sent[key].append(pk)
    return sent
