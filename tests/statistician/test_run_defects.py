"""Issue 12, defect 7: a run's compliance as of its cut-off; parameters checked against the trial.

Each test here failed on the code before the fix:

* a run with a cut-off stored today's compliance table (the m6 forms completed
  after the cut-off counted as received, a participant who died after the
  cut-off was not on study);
* ``baseline: "nope"`` and a measure the trial does not collect were accepted
  (201) and failed later in the worker with a message about a command-line flag;
* the run form offered the ARM measure, which E2108 does not collect.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from surveys.models import AnalysisRun, JobStatus
from surveys.statistician.analysis import runs
from surveys.trial.participants import participant_go_off_study
from tests.statistician.conftest import SWEEP_AT

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def run_with(user, **parameters) -> AnalysisRun:
    run = runs.run_start(user=user, parameters=parameters)
    runs.execute_run(run.pk, now=SWEEP_AT + dt.timedelta(days=30))
    run.refresh_from_db()
    assert run.status == JobStatus.SUCCEEDED, run.error
    return run


def row(run: AnalysisRun, label: str, arm: str) -> dict:
    """The run's compliance row for a visit (by label) and arm."""
    (found,) = [
        r
        for r in run.results["compliance"]["by_arm"]
        if r.get("visit_label", r["visit"]) == label and r["group"] == arm
    ]
    return found


def test_a_run_with_a_cutoff_reports_compliance_as_of_the_cutoff(study, stat_user):
    """The study: 16 women randomized 6-21 January 2025, arm A the even ones; baseline done on
    the day; 6-month forms on their target days (6-21 July 2025) except participants 14 and 15;
    18-month forms all missed. Participant 0 (arm A) dies on 1 December 2025."""
    participant_go_off_study(
        participant=study.participants[0],
        off_study_on=dt.date(2025, 12, 1),
        reason="death",
        actor="coord_a",
        now=SWEEP_AT,
    )
    # 10 July 2025: arm A's 6-month forms of 6, 8 and 10 July are in; the others' windows are open.
    run = run_with(stat_user, cutoff="2025-07-10")
    m6 = row(run, "6 months", "A")
    assert m6["received"] == 3  # today: 7 (every arm A form but participant 14's)
    assert m6["randomized"] == 8
    assert m6["died"] == 0  # she died after the cut-off: on study then
    assert m6["expected"] == 3 and m6["not_due"] == 5  # windows still open at the cut-off
    m18 = row(run, "18 months", "A")
    assert (m18["received"], m18["missed_total"], m18["not_due"]) == (0, 0, 8)  # not yet due
    assert row(run, "Baseline", "B")["received"] == 8
    assert run.results["compliance"]["as_of"].startswith("end of 2025-07-10")

    # Without a cut-off: as of the run, the death counts apart and the 18-month forms were missed.
    now = run_with(stat_user)
    assert row(now, "6 months", "A")["received"] == 7
    m18 = row(now, "18 months", "A")
    assert (m18["died"], m18["missed_total"], m18["received"]) == (1, 7, 0)
    assert m18["expected"] == 7  # the death is not a missing form


def test_a_participant_randomized_after_the_cutoff_is_not_in_the_compliance_table(study, stat_user):
    run = run_with(stat_user, cutoff="2025-01-10")  # participants 0-4 randomized by then
    assert row(run, "Baseline", "A")["randomized"] == 3
    assert row(run, "Baseline", "B")["randomized"] == 2
    assert run.results["snapshot"]["participants"] == 5


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.parametrize(
    ("parameters", "key", "words"),
    [
        ({"baseline": "nope"}, "baseline", "'nope' is not a visit of E2108"),
        ({"measures": ["TOI", "ARM"]}, "measures", "ARM is not collected in E2108"),
        ({"plot_measure": "ARM"}, "plot_measure", "ARM is not collected"),
        ({"sensitivity_visits": ["baseline"]}, "sensitivity_visits", "not a follow-up visit"),
        ({"deterioration": ["TOI-5", "ARM-3"]}, "deterioration", "no MID for ARM"),
        ({"sites": ["ZZZ"]}, "sites", "no site ZZZ"),
        ({"trial": "E9999"}, "trial", "no trial 'E9999'"),
    ],
)
def test_bad_run_parameters_are_refused_with_400_at_creation(
    study, stat_user, parameters, key, words
):
    response = api(stat_user).post(
        reverse("api:analysisrun-list"), {"parameters": parameters}, format="json"
    )
    assert response.status_code == 400, response.content
    body = response.json()
    text = str(body.get(key) or body.get("parameters") or body)
    assert words in text, body
    assert "--" not in text  # the run's own words, not a command-line flag
    assert not AnalysisRun.objects.exists()


def test_the_run_form_offers_only_what_the_trial_collects(client, study, stat_user):
    client.force_login(stat_user)
    page = client.get(reverse("statistician:run_new")).content.decode()
    assert 'value="TOI"' in page and 'value="LR9"' in page
    assert 'value="ARM"' not in page  # E2108 does not give the FACT-B+4 arm items
    response = client.post(
        reverse("statistician:run_new"),
        {"trial": "E2108", "measures": ["TOI", "ARM"], "baseline": "baseline"},
    )
    assert response.status_code == 400
    assert not AnalysisRun.objects.exists()
