"""Analysis runs executed in-process: results, snapshot, re-runs, and the run-once rules."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pandas as pd
import psycopg
import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection

from scoring.compare import compare
from scoring.deterioration import time_to_deterioration, ttd_table
from scoring.extras import mid_responders, mixed_model, summary_by_visit
from scoring.mmrm import mmrm
from scoring.sensitivity import Sensitivity, tipping_point
from surveys.jobs.claims import Outcome
from surveys.models import AnalysisRun, AuditEvent, JobStatus
from surveys.statistician.analysis import runs
from surveys.statistician.analysis.compute import participants_table, records
from surveys.statistician.analysis.parameters import parse_deterioration
from surveys.statistician.analysis.snapshot import digest, from_bytes, received_scores, to_bytes

pytestmark = pytest.mark.django_db

PAPER = ["TOI", "FACTB", "FACTG", "BCS", *(f"LR{i}" for i in range(1, 10))]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def run_now(user, **parameters) -> AnalysisRun:
    run = runs.run_start(user=user, parameters=parameters)
    assert runs.execute_run(run.pk) is Outcome.DONE
    run.refresh_from_db()
    return run


def snapshot_of(run: AnalysisRun) -> pd.DataFrame:
    with run.snapshot.open("rb") as fh:
        data = fh.read()
    assert digest(data) == run.snapshot_hash
    return from_bytes(data)


def test_a_run_stores_what_scoring_compare_gives_on_its_snapshot(study, stat_user):
    run = run_now(stat_user)
    assert run.status == JobStatus.SUCCEEDED, run.error
    assert run.attempts == 1 and run.started_at and run.finished_at
    snapshot = snapshot_of(run)
    assert list(snapshot.columns[:6]) == [
        "participant_id",
        "arm",
        "visit",
        "visit_number",
        "site",
        "state",
    ]
    # Every assessment of the 16 participants, in its state; the 30 forms received have scores.
    assert len(snapshot) == 64 and snapshot["participant_id"].nunique() == 16
    assert snapshot["state"].value_counts().to_dict() == {
        "received": 30,
        "missed": 18,
        "window_open": 16,
    }
    frame = received_scores(snapshot)
    assert len(frame) == 30 and frame["TOI"].notna().all()
    expected = compare(frame, measures=PAPER)
    assert run.results["compare"] == records(expected)
    assert run.results["summary"] == records(summary_by_visit(frame, measures=PAPER))
    mids = {"TOI": 5, "FACTB": 7, "FACTG": 5, "BCS": 2}
    assert run.results["mid"] == records(mid_responders(frame, thresholds=mids))
    toi = records(mixed_model(frame, measure="TOI"))
    assert [r for r in run.results["mixed"] if r["measure"] == "TOI"] == toi
    assert run.results["snapshot"] == {
        "rows": 64,
        "forms": 30,
        "participants": 16,
        "sha256": run.snapshot_hash,
        "source_run": None,
    }
    # TOI at 6 months: the row the page headlines.
    m6 = next(
        r
        for r in run.results["compare"]
        if (r["measure"], r["visit"], r["analysis"]) == ("TOI", "m6", "score")
    )
    assert (m6["n_a"], m6["n_b"]) == (7, 7) and m6["p_value"] is not None
    assert {r["group"] for r in run.results["compliance"]["by_arm"]} == {"A", "B"}
    # The SISAQOL analyses are scoring's, on the same snapshot (scoring/'s tests hold them to R).
    fits = [mmrm(frame, measure=m).table() for m in ("TOI", "FACTB", "FACTG", "BCS")]
    assert run.results["mmrm"] == records(pd.concat(fits, ignore_index=True))
    people = participants_table(snapshot)
    ttd = [
        time_to_deterioration(frame, parse_deterioration(name), participants=people, day_col="day")
        for name in ("TOI-5", "TOI-5-confirmed", "TOI-5-or-death", "FACTB-7", "FACTG-5", "BCS-2")
    ]
    assert run.results["ttd"] == records(ttd_table(ttd))
    # The sensitivity analyses impute only missing forms: at 6 months nobody had left.
    tip = tipping_point(frame, measure="TOI", visit="m6")
    expected = Sensitivity(mmrm=mmrm(frame, measure="TOI"), tipping=tip).table()
    expected["n_not_expected"] = 0
    assert run.results["sensitivity"] == records(expected)
    assert len(run.results["tipping"]) == len(tip.table)
    assert {r["definition"] for r in run.results["ttd"]} == {
        "TOI-5",
        "TOI-5-confirmed",
        "TOI-5-or-death",
        "FACTB-7",
        "FACTG-5",
        "BCS-2",
    }
    assert AuditEvent.objects.filter(action="analysis", details__analysis_run=run.pk).count() == 1


def test_the_plot_is_a_png_and_an_svg(study, stat_user):
    run = run_now(stat_user, measures=["TOI"], mixed_model=False, mid_responders=False)
    with run.plot_png.open("rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    with run.plot_svg.open("rb") as fh:
        root = ET.fromstring(fh.read())
    assert root.tag.endswith("svg")
    text = ET.tostring(root, encoding="unicode")
    assert "Baseline" in text and "6 months" in text and "Trial Outcome Index" in text


def test_rerunning_on_the_same_snapshot_gives_identical_numbers(study, stat_user):
    first = run_now(stat_user, cutoff="2026-12-31")
    # Data change after the first run: a re-run on its snapshot must not see it.
    from surveys.models import Score

    Score.objects.filter(assessment__visit__code="m6").update(toi=0.0)
    again = runs.run_again(source=first, user=stat_user)
    assert runs.execute_run(again.pk) is Outcome.DONE
    again.refresh_from_db()
    assert again.status == JobStatus.SUCCEEDED, again.error
    assert again.parameters["snapshot_of"] == first.pk
    assert again.snapshot_hash == first.snapshot_hash and again.snapshot.name == first.snapshot.name
    for table in ("compare", "summary", "mid", "mixed"):
        assert again.results[table] == first.results[table], table
    assert again.results["compliance"] == first.results["compliance"]
    with first.plot_svg.open("rb") as a, again.plot_svg.open("rb") as b:
        assert a.read() == b.read()
    # A fresh run sees the changed data: a different snapshot.
    fresh = run_now(stat_user, cutoff="2026-12-31")
    assert fresh.snapshot_hash != first.snapshot_hash


def test_freezing_unchanged_data_twice_gives_the_same_snapshot_hash(study, stat_user):
    assert run_now(stat_user).snapshot_hash == run_now(stat_user).snapshot_hash


def test_a_finished_run_is_never_recomputed(study, stat_user):
    run = run_now(stat_user, measures=["TOI"], mixed_model=False)
    assert runs.execute_run(run.pk) is Outcome.ALREADY_DONE
    run.refresh_from_db()
    assert run.attempts == 1
    assert AuditEvent.objects.filter(action="analysis").count() == 1


def test_a_run_held_by_a_live_executor_is_left_alone(study, stat_user, monkeypatch):
    monkeypatch.setattr("surveys.jobs.claims.LEASE_WAIT_SECONDS", 0.3)
    run = runs.run_start(user=stat_user, parameters={"measures": ["TOI"]})
    db = settings.DATABASES["default"]
    other = psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=connection.settings_dict["NAME"]
    )
    try:
        other.execute("SELECT pg_advisory_lock(%s, %s)", (AnalysisRun.lease_namespace, run.pk))
        assert runs.execute_run(run.pk) is Outcome.BUSY
        run.refresh_from_db()
        assert run.status == JobStatus.QUEUED and run.attempts == 0
    finally:
        other.close()  # the "executor" dies: its lock goes with its connection
    assert runs.execute_run(run.pk) is Outcome.DONE


def test_a_running_run_whose_executor_died_is_taken_over(study, stat_user):
    run = runs.run_start(user=stat_user, parameters={"measures": ["TOI"], "mixed_model": False})
    AnalysisRun.objects.filter(pk=run.pk).update(
        status=JobStatus.RUNNING, attempts=1, worker="dead-host:1#gone", started_at=run.created_at
    )
    assert runs.execute_run(run.pk) is Outcome.DONE
    run.refresh_from_db()
    assert run.status == JobStatus.SUCCEEDED and run.attempts == 2
    assert run.worker != "dead-host:1#gone" and run.results["attempt"] == 2


def test_a_run_whose_workers_keep_dying_is_failed_after_three_attempts(study, stat_user):
    run = runs.run_start(user=stat_user, parameters={"measures": ["TOI"]})
    AnalysisRun.objects.filter(pk=run.pk).update(
        status=JobStatus.RUNNING, attempts=AnalysisRun.max_attempts, started_at=run.created_at
    )
    assert runs.execute_run(run.pk) is Outcome.DONE
    run.refresh_from_db()
    assert run.status == JobStatus.FAILED and "gave up after 3 attempts" in run.error
    assert runs.execute_run(run.pk) is Outcome.ALREADY_DONE


def test_an_executor_that_lost_its_claim_cannot_store_results(study, stat_user, monkeypatch):
    run = runs.run_start(user=stat_user, parameters={"measures": ["TOI"], "mixed_model": False})
    real = runs._compute

    def compute_then_lose_the_claim(run_obj, now):
        stored = real(run_obj, now)
        # Meanwhile another executor took the run over (new token) and finished it.
        AnalysisRun.objects.filter(pk=run_obj.pk).update(
            worker="other:2#winner", status=JobStatus.SUCCEEDED, results={"winner": True}
        )
        return stored

    monkeypatch.setattr(runs, "_compute", compute_then_lose_the_claim)
    assert runs.execute_run(run.pk) is Outcome.ALREADY_DONE
    run.refresh_from_db()
    assert run.results == {"winner": True}
    assert not AuditEvent.objects.filter(action="analysis").exists()


def test_a_failed_run_records_the_error(study, stat_user):
    # m30 is a visit of the trial (so the run starts), but nobody has reached it yet.
    run = run_now(stat_user, sites=["A01"], measures=["TOI"], baseline="m30")
    assert run.status == JobStatus.FAILED
    assert "no baseline rows" in run.error
    assert run.finished_at is not None and not run.results


def test_a_tampered_snapshot_fails_the_rerun(study, stat_user):
    first = run_now(stat_user, measures=["TOI"], mixed_model=False)
    with open(first.snapshot.path, "ab") as fh:
        fh.write(b"tampered")
    again = runs.run_again(source=first, user=stat_user)
    runs.execute_run(again.pk)
    again.refresh_from_db()
    assert again.status == JobStatus.FAILED and "hash" in again.error


def test_parameters_are_validated_before_a_run_is_queued(stat_user, db):
    from django.core.exceptions import ValidationError

    for bad in (
        {"measures": ["TOI", "NOPE"]},
        {"cutoff": "soon"},
        {"colour": "red"},
        {"baseline": "no-such-visit"},
        {"deterioration": ["TOI-five"]},
        {"mmrm": "yes"},
    ):
        with pytest.raises(ValidationError):
            runs.run_start(user=stat_user, parameters=bad)
    with pytest.raises(ValidationError):
        runs.run_start(user=stat_user, parameters={"snapshot_of": 999_999})
    assert not AnalysisRun.objects.exists()


def test_a_run_frozen_before_assessment_states_re_runs_with_a_warning(study, stat_user):
    """A snapshot of format 1 (received forms only) still re-runs: the statistics of the
    paper, the MMRM and time to deterioration by visit months; no completion table."""
    first = run_now(stat_user, measures=["TOI"], mixed_model=False)
    old = received_scores(snapshot_of(first))[
        ["participant_id", "arm", "visit", "visit_number", "site", "TOI"]
    ]
    data = to_bytes(old)
    name = default_storage.save(f"analysis/old-{first.pk}/snapshot.parquet", ContentFile(data))
    AnalysisRun.objects.filter(pk=first.pk).update(
        snapshot=name,
        snapshot_hash=digest(data),
        results={**first.results, "schema": 1, "compliance": {"as_of": "2026-01-01T00:00:00"}},
    )
    first.refresh_from_db()
    again = runs.run_again(source=first, user=stat_user)
    assert runs.execute_run(again.pk) is Outcome.DONE
    again.refresh_from_db()
    assert again.status == JobStatus.SUCCEEDED, again.error
    assert again.results["compare"] == first.results["compare"]
    assert again.results["mmrm"] == first.results["mmrm"]
    assert {r["unit"] for r in again.results["ttd"]} == {"months"}
    assert again.results["compliance"]["by_arm"] == []
    assert any("predates assessment states" in w for w in again.results["warnings"])
