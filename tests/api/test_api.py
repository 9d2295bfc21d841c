"""REST API: scoping by role and site, read-only statisticians, exports and runs, the schema."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from surveys.accounts.tokens import api_token_create
from surveys.models import AnalysisRun, Assessment, ExportJob, Participant, Response, Score
from surveys.statistician.analysis import runs

pytestmark = pytest.mark.django_db

SCOPED = ("participant", "assessment", "response", "score")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def everything(client: APIClient, url: str) -> list[dict]:
    rows, page = [], url
    while page:
        body = client.get(page).json()
        rows += body["results"]
        page = body["next"]
    return rows


def sites_of(rows: list[dict], kind: str) -> set[str]:
    if kind in ("participant", "assessment", "score"):
        return {r["site"] for r in rows}
    ids = {r["assessment"] for r in rows}
    return set(
        Assessment.objects.filter(pk__in=ids).values_list("participant__site__code", flat=True)
    )


def test_a_coordinator_sees_only_her_sites(study, coordinator_a):
    client = api(coordinator_a)
    for kind in SCOPED:
        rows = everything(client, reverse(f"api:{kind}-list"))
        assert rows, kind
        assert sites_of(rows, kind) == {"A01"}, kind
    other = Participant.objects.filter(site__code="B01").first()
    assert client.get(reverse("api:participant-detail", args=[other.pk])).status_code == 404
    other_score = Score.objects.filter(assessment__participant__site__code="B01").first()
    assert client.get(reverse("api:score-detail", args=[other_score.pk])).status_code == 404
    assert client.get(reverse("api:export-list")).status_code == 403
    assert client.get(reverse("api:analysisrun-list")).status_code == 403


def test_a_statistician_reads_every_site_and_cannot_write(study, stat_user, coordinator_a):
    client = api(stat_user)
    rows = everything(client, reverse("api:participant-list"))
    assert len(rows) == 16 and {r["site"] for r in rows} == {"A01", "B01"}
    assert client.get(reverse("api:response-list")).json()["count"] == Response.objects.count()
    missed = Assessment.objects.filter(status="missed", missed_reason="").first()
    url = reverse("api:assessment-missed-reason", args=[missed.pk])
    denied = client.post(url, {"missed_reason": "too_ill"}, format="json")
    assert denied.status_code == 403
    assert client.post(reverse("api:participant-list"), {}, format="json").status_code == 403
    assert client.delete(reverse("api:participant-detail", args=[rows[0]["id"]])).status_code in (
        403,
        405,
    )
    missed.refresh_from_db()
    assert missed.missed_reason == ""


def test_a_coordinator_records_a_missed_reason_at_her_site_only(study, coordinator_a):
    client = api(coordinator_a)
    mine = Assessment.objects.filter(status="missed", participant__site__code="A01").last()
    theirs = Assessment.objects.filter(status="missed", participant__site__code="B01").first()
    ok = client.post(
        reverse("api:assessment-missed-reason", args=[mine.pk]),
        {"missed_reason": "patient_refused"},
        format="json",
    )
    assert ok.status_code == 200 and ok.json()["missed_reason"] == "patient_refused"
    assert (
        client.post(
            reverse("api:assessment-missed-reason", args=[theirs.pk]),
            {"missed_reason": "patient_refused"},
            format="json",
        ).status_code
        == 404
    )
    other = client.post(
        reverse("api:assessment-missed-reason", args=[mine.pk]),
        {"missed_reason": "other"},
        format="json",
    )
    assert other.status_code == 400


def test_a_user_without_a_role_and_anonymous_see_nothing(study, db):
    from tests.factories import UserFactory

    assert api().get(reverse("api:participant-list")).status_code in (401, 403)
    nobody = UserFactory()
    for kind in SCOPED:
        assert api(nobody).get(reverse(f"api:{kind}-list")).status_code == 403


def test_token_authentication_and_filters(study, stat_user):
    _, raw = api_token_create(
        user=stat_user, name="R", days=30, read_only=True, verified=True, now=timezone.now()
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    body = client.get(reverse("api:score-list") + "?visit=m6&site=B01&arm=B").json()
    assert body["count"] == 3  # participants 9, 11, 13 (14 and 15 have no 6-month form)
    assert {(r["visit"], r["site"], r["arm_code"]) for r in body["results"]} == {("m6", "B01", "B")}
    assert set(body) == {"count", "next", "previous", "results"}
    missed = client.get(reverse("api:assessment-list") + "?status=missed&visit=m18").json()
    assert missed["count"] == 16
    query = "?participant=E2108-0002&item_code=GS7&visit=baseline"
    one = client.get(reverse("api:response-list") + query)
    assert [(r["value"], r["declined"]) for r in one.json()["results"]] == [(None, True)]


def test_a_statistician_creates_an_export_and_downloads_it(study, stat_user, coordinator_a):
    client = api(stat_user)
    created = client.post(
        reverse("api:export-list"),
        {"kind": "scored", "format": "parquet", "filters": {"arms": ["A"]}},
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["status"] == "succeeded" and body["row_count"] == 15
    data = b"".join(client.get(body["download"]).streaming_content)
    frame = pd.read_parquet(io.BytesIO(data))
    assert len(frame) == 15 and set(frame["ARMCD"]) == {"A"}
    book = pd.read_csv(
        io.BytesIO(b"".join(client.get(body["codebook_download"]).streaming_content))
    )
    assert book["variable"].tolist() == list(frame.columns)
    bad = client.post(
        reverse("api:export-list"),
        {"kind": "scored", "format": "csv", "filters": {"x": 1}},
        format="json",
    )
    assert bad.status_code == 400
    assert ExportJob.objects.count() == 1
    denied = api(coordinator_a).post(
        reverse("api:export-list"), {"kind": "scored", "format": "csv"}, format="json"
    )
    assert denied.status_code == 403


def test_a_statistician_starts_an_analysis_run_and_reads_its_results(study, stat_user):
    client = api(stat_user)
    created = client.post(
        reverse("api:analysisrun-list"),
        {"parameters": {"measures": ["TOI", "BCS"], "mixed_model": False}},
        format="json",
    )
    assert created.status_code == 201, created.json()
    run = AnalysisRun.objects.get(pk=created.json()["id"])
    assert run.status == "queued" and run.parameters["measures"] == ["TOI", "BCS"]
    runs.execute_run(run.pk)
    detail = client.get(reverse("api:analysisrun-detail", args=[run.pk])).json()
    assert detail["status"] == "succeeded"
    assert {r["measure"] for r in detail["results"]["compare"]} == {"TOI", "BCS"}
    listed = client.get(reverse("api:analysisrun-list")).json()["results"]
    assert "results" not in listed[0]
    png = client.get(reverse("api:analysisrun-plot-png", args=[run.pk]))
    assert png.status_code == 200 and b"".join(png.streaming_content)[:4] == b"\x89PNG"
    bad = client.post(
        reverse("api:analysisrun-list"), {"parameters": {"measures": ["NOPE"]}}, format="json"
    )
    assert bad.status_code == 400


def test_the_openapi_schema_generates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for path in ("/api/participants/", "/api/scores/", "/api/exports/", "/api/analysis-runs/"):
        assert path in text
