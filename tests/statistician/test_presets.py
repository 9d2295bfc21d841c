"""Analysis presets: saved, checked against the trial, run from the page and the API, and
shown beside their reference figures."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from surveys.models import AnalysisPreset, AnalysisRun, JobStatus
from surveys.statistician.analysis import runs
from surveys.statistician.analysis.presets import (
    E2108_PAPER,
    E2108_PAPER_REFERENCE,
    e2108_paper_preset,
    preset_save,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_a_preset_is_checked_like_a_run_and_replaced_by_name(study, stat_user):
    with pytest.raises(ValidationError) as bad:
        preset_save(name="x", parameters={"baseline": "week0"})
    assert "'week0' is not a visit of E2108" in str(bad.value)
    with pytest.raises(ValidationError, match="give the source"):
        preset_save(name="x", parameters={}, reference={"visits": {}})
    with pytest.raises(ValidationError, match=r"visits\.m6\.mean_a: a number"):
        preset_save(
            name="x",
            parameters={},
            reference={"source": "a paper", "visits": {"m6": {"mean_a": "7"}}},
        )
    assert not AnalysisPreset.objects.exists()
    first = preset_save(name=" TOI only ", parameters={"measures": ["TOI"]}, user=stat_user)
    again = preset_save(name="TOI only", parameters={"measures": ["TOI", "BCS"]})
    assert first.pk == again.pk and again.parameters["measures"] == ["TOI", "BCS"]
    assert again.parameters["trial"] == "E2108" and again.trial.protocol_id == "E2108"


def test_the_paper_preset_runs_and_the_run_shows_the_papers_figures(client, study, stat_user):
    preset = e2108_paper_preset(trial=study.trial)
    assert preset.name == E2108_PAPER and preset.parameters["sensitivity_visits"] == ["m18"]
    client.force_login(stat_user)
    home = client.get(reverse("statistician:home")).content.decode()
    assert E2108_PAPER in home and reverse("statistician:preset_run", args=[preset.pk]) in home
    response = client.post(reverse("statistician:preset_run", args=[preset.pk]))
    run = AnalysisRun.objects.get()
    assert response["Location"] == reverse("statistician:run", args=[run.pk])
    assert run.preset == preset and run.parameters["measures"][0] == "TOI"
    runs.execute_run(run.pk)
    run.refresh_from_db()
    assert run.status == JobStatus.SUCCEEDED, run.error
    assert run.results["reference"]["source"] == E2108_PAPER_REFERENCE["source"]
    page = client.get(reverse("statistician:run", args=[run.pk])).content.decode()
    assert 'id="paper-table"' in page and "74.2 (11.5)" in page and "68.0 (13.7)" in page
    assert "not given" in page  # figures the paper does not give are not made up
    assert 'href="#paper"' in page
    # The preset changes later: the run keeps the figures it was shown with.
    AnalysisPreset.objects.filter(pk=preset.pk).update(reference={"source": "another"})
    again = runs.run_again(source=run, user=stat_user)
    runs.execute_run(again.pk)
    again.refresh_from_db()
    assert again.results["reference"] == run.results["reference"]


def test_the_run_form_starts_from_a_preset_and_saves_one(client, study, stat_user):
    preset = preset_save(name="Items", parameters={"measures": ["LR1", "LR2"], "mmrm": False})
    client.force_login(stat_user)
    page = client.get(reverse("statistician:run_new") + f"?preset={preset.pk}").content.decode()
    assert "Starting from the preset <strong>Items</strong>" in page
    assert 'value="LR1" id="id_measures_8" checked' in page or 'value="LR1"' in page
    response = client.post(
        reverse("statistician:run_new"),
        {"measures": ["TOI"], "baseline": "baseline", "plot_measure": "TOI", "save_as": "Mine"},
    )
    assert response.status_code == 302
    mine = AnalysisPreset.objects.get(name="Mine")
    assert mine.parameters["measures"] == ["TOI"] and mine.created_by == stat_user
    # A bad run saves no preset either.
    response = client.post(
        reverse("statistician:run_new"),
        {
            "measures": ["TOI"],
            "baseline": "m6",
            "plot_measure": "TOI",
            "sensitivity_visits": ["m6"],
            "save_as": "Bad",
        },
    )
    assert response.status_code == 400 and "not a follow-up visit" in response.content.decode()
    assert not AnalysisPreset.objects.filter(name="Bad").exists()


def test_presets_through_the_api(study, stat_user, coordinator_a):
    client = api(stat_user)
    url = reverse("api:analysispreset-list")
    created = client.post(
        url,
        {
            "name": "18-month TOI",
            "parameters": {"measures": ["TOI"], "sensitivity_visits": ["m18"]},
            "reference": {"source": "Khan 2022", "visits": {"m18": {"mean_a": 74.2}}},
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["trial"] == "E2108" and body["created_by"] == "stat"
    refused = client.post(url, {"name": "bad", "parameters": {"measures": ["ARM"]}}, format="json")
    assert refused.status_code == 400 and "ARM is not collected" in str(refused.json())
    listed = client.get(url).json()["results"]
    assert [p["name"] for p in listed] == ["18-month TOI"]
    run_url = reverse("api:analysispreset-run", args=[body["id"]])
    started = client.post(run_url, {"parameters": {"mmrm": False}}, format="json")
    assert started.status_code == 201, started.content
    run = AnalysisRun.objects.get(pk=started.json()["id"])
    assert run.preset_id == body["id"] and run.parameters["mmrm"] is False
    assert started.json()["preset"] == body["id"]
    bad = client.post(run_url, {"parameters": {"baseline": "nope"}}, format="json")
    assert bad.status_code == 400 and AnalysisRun.objects.count() == 1
    # A run from a preset through the runs endpoint, overriding a parameter.
    via_runs = client.post(
        reverse("api:analysisrun-list"),
        {"preset": body["id"], "parameters": {"plot_measure": "BCS"}},
        format="json",
    )
    assert via_runs.status_code == 201 and via_runs.json()["parameters"]["plot_measure"] == "BCS"
    assert api(coordinator_a).get(url).status_code == 403
