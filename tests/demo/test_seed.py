"""The seeded demo: the same trial at any as-of date, reproducing the E2108 paper.

Seeded through ``manage.py seed_demo`` at three as-of dates (each in a savepoint that is
rolled back), the demo must give identical participants, arms, answers, statuses and
reasons (dates shifted), and the "E2108 paper (JCO 2022)" preset, run through the
function the worker calls, identical results within the preset's bounds.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import Count, Max
from django.test import Client
from django.urls import reverse

from surveys.demo.seed import DEMO_SITES
from surveys.jobs.claims import Outcome
from surveys.models import (
    AnalysisPreset,
    AnalysisRun,
    Assessment,
    JobStatus,
    Participant,
    Response,
    Score,
    Site,
)
from surveys.statistician.analysis.presets import E2108_PAPER
from surveys.statistician.analysis.runs import execute_run, run_start
from tests.conftest import wait_for
from tests.demo.paper import assert_reproduces_the_paper

AS_OF = (dt.date(2026, 11, 29), dt.date(2027, 3, 15), dt.date(2027, 6, 1))


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def seed(as_of: dt.date, *extra: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", "--as-of", as_of.isoformat(), "--no-run", *extra, stdout=out)
    return out.getvalue()


def fingerprint(as_of: dt.date) -> dict[str, Any]:
    """Everything about the trial, with dates as days before the as-of date."""

    def ago(day: dt.date | None) -> int | None:
        return None if day is None else (as_of - day).days

    people = {
        p.study_id: (p.arm.code, p.site.code, p.language, ago(p.randomized_on),
                     ago(p.off_study_on), p.off_study_reason)
        for p in Participant.objects.select_related("arm", "site")
    }  # fmt: skip
    assessments = {}
    for a in Assessment.objects.select_related("participant", "visit"):
        done = (
            a.completed_at.astimezone(a.participant.site.tzinfo).date() if a.completed_at else None
        )
        assessments[(a.participant.study_id, a.visit.code)] = (
            a.status, a.missed_reason, a.missed_reason_text, a.assistance, a.language,
            None if done is None else (done - a.participant.randomized_on).days,
        )  # fmt: skip
        # (Windows are calendar months: 6 months is 181 to 184 days, so window dates are
        # not compared; what happens inside them is, through the statuses and study days.)
    answers = sorted(
        Response.objects.values_list(
            "assessment__participant__study_id", "assessment__visit__code", "item_code",
            "value", "declined",
        )
    )  # fmt: skip
    scores = sorted(
        Score.objects.values_list(
            "assessment__participant__study_id", "assessment__visit__code", "toi", "factb",
            "factg", "bcs",
        )
    )  # fmt: skip
    return {"people": people, "assessments": assessments, "answers": answers, "scores": scores}


def comparable(results: dict[str, Any]) -> dict[str, Any]:
    """A run's results without what names the date or the clock."""
    out = {k: v for k, v in results.items() if k not in ("timings", "compliance", "reference")}
    out["compliance"] = {k: v for k, v in results["compliance"].items() if k != "as_of"}
    out["reference"] = {k: v for k, v in results["reference"].items() if k != "note"}
    return out


@pytest.mark.django_db
def test_the_demo_is_the_same_trial_at_any_date_and_reproduces_the_paper():
    seen: list[dict[str, Any]] = []
    for as_of in AS_OF:
        with transaction.atomic():
            printed = seed(as_of)
            preset = AnalysisPreset.objects.get(name=E2108_PAPER)
            cutoff = dt.date.fromisoformat(preset.parameters["cutoff"])
            stat = get_user_model().objects.get(username="stat")
            run = run_start(user=stat, preset=preset)
            clock = dt.datetime.combine(as_of, dt.time(9), tzinfo=dt.UTC)
            assert execute_run(run.pk, now=clock) is Outcome.DONE
            run.refresh_from_db()
            assert run.status == JobStatus.SUCCEEDED, run.error
            last_form = Assessment.objects.aggregate(last=Max("completed_at"))["last"]
            statuses = dict(
                Assessment.objects.values_list("status").annotate(n=Count("pk")).order_by()
            )
            seen.append(
                {
                    "trial": fingerprint(as_of),
                    "results": comparable(run.results),
                    "snapshot": run.snapshot_hash,
                    "cutoff": (as_of - cutoff).days,
                    "last_form": (as_of - last_form.date()).days,
                    "statuses": statuses,
                    "printed": printed.replace(as_of.isoformat(), "AS-OF").replace(
                        cutoff.isoformat(), "CUTOFF"
                    ),
                }
            )
            assert f"as of {as_of.isoformat()}: 268 participants" in printed
            again = seed(as_of)
            assert "The demo trial exists already" in again and "earlier version" not in again
            worklist = Client()
            worklist.force_login(get_user_model().objects.get(username="coord_west"))
            listed = reverse("coordinator:worklist") + "?view=all&status=open&sort=-study_id"
            page = worklist.get(listed).content.decode()
            assert "E2108-0267" in page  # a recent participant's open baseline (site WCC)
            transaction.set_rollback(True)
    first = seen[0]
    for other in seen[1:]:
        assert other["trial"]["people"] == first["trial"]["people"]
        assert other["trial"]["assessments"] == first["trial"]["assessments"]
        assert other["trial"]["answers"] == first["trial"]["answers"]
        assert other["trial"]["scores"] == first["trial"]["scores"]
        assert other["snapshot"] == first["snapshot"]  # the same bytes: no dates in it
        assert other["results"] == first["results"]  # every P value, bit for bit
        for key in ("cutoff", "last_form", "statuses"):
            assert other[key] == first[key], key
    assert 1 <= first["last_form"] <= 3  # the last data just before the as-of date
    statuses = first["statuses"]
    assert statuses["open"] >= 3 and statuses["in_progress"] == 1  # the tablet has work
    assert statuses["scheduled"] > 0 and statuses["not_expected"] > 100
    assert statuses["completed"] > 600 and statuses["missed"] > 150
    results = seen[0]["results"]
    assert results["snapshot"]["participants"] == 256  # the recent ones are after the cut-off
    assert_reproduces_the_paper(results)


@pytest.mark.django_db
def test_seed_demo_refuses_a_date_that_is_not_one():
    with pytest.raises(CommandError, match="is not a date"):
        call_command("seed_demo", "--as-of", "29/11/2026", stdout=io.StringIO())
    assert not Participant.objects.exists()


@pytest.mark.django_db
def test_an_older_demo_database_is_kept_and_the_way_to_a_new_one_is_said(trial):
    for code, name, tz, _country in DEMO_SITES:  # what the earlier demo had: trial and sites
        Site.objects.create(code=code, name=name, timezone=tz)
    out = io.StringIO()
    call_command("seed_demo", stdout=out)  # the trial exists, without the paper's preset
    assert "seeded by an earlier version" in out.getvalue() and "make clean" in out.getvalue()
    assert not AnalysisRun.objects.exists()


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_seed_demo_queues_the_paper_run_and_the_worker_reproduces_the_paper(celery_worker):
    out = io.StringIO()
    call_command("seed_demo", "--as-of", AS_OF[0].isoformat(), stdout=out)
    run = AnalysisRun.objects.get()
    assert f"Analysis run {run.pk} of the preset queued" in out.getvalue()
    done = wait_for(
        lambda: AnalysisRun.objects.filter(
            pk=run.pk, status__in=(JobStatus.SUCCEEDED, JobStatus.FAILED)
        ).first(),
        timeout=120,
    )
    assert done.status == JobStatus.SUCCEEDED, done.error
    assert done.preset.name == E2108_PAPER and done.results["reference"]["measure"] == "TOI"
    assert_reproduces_the_paper(done.results)
