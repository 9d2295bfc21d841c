"""The statistician workspace pages: who may see them, exports to download, the run page."""

from __future__ import annotations

import io
import re

import pandas as pd
import pyreadstat
import pytest
from django.urls import reverse

from surveys.models import AnalysisRun, ExportJob, JobStatus
from surveys.statistician.analysis import runs

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def login(client, user):
    client.force_login(user)
    return client


def page_urls(export_pk: int, run_pk: int) -> list[str]:
    return [
        reverse("statistician:home"),
        reverse("statistician:export_new"),
        reverse("statistician:export", args=[export_pk]),
        reverse("statistician:export_download", args=[export_pk]),
        reverse("statistician:export_codebook", args=[export_pk]),
        reverse("statistician:run_new"),
        reverse("statistician:run", args=[run_pk]),
        reverse("statistician:run_file", args=[run_pk, "plot.png"]),
        reverse("statistician:run_file", args=[run_pk, "compare.csv"]),
    ]


def test_only_statisticians_and_admins_get_in(client, study, stat_user, coordinator_a):
    job = ExportJob.objects.create(kind="scored", format="csv", created_by=stat_user)
    run = AnalysisRun.objects.create(created_by=stat_user)
    urls = page_urls(job.pk, run.pk)
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url
    login(client, coordinator_a)
    for url in urls:
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("statistician:export_new"), {"kind": "scored"}).status_code == 403
    client.logout()
    login(client, stat_user)
    assert client.get(reverse("statistician:home")).status_code == 200
    assert client.get(reverse("statistician:export_new")).status_code == 200
    assert client.get(reverse("statistician:run_new")).status_code == 200


def test_a_statistician_exports_sdtm_qs_as_xpt_and_downloads_it_with_its_codebook(
    client, study, stat_user, tmp_path
):
    login(client, stat_user)
    response = client.post(
        reverse("statistician:export_new"),
        {"kind": "sdtm_qs", "format": "xpt", "visits": ["baseline", "m6"], "sites": ["A01"]},
    )
    job = ExportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("statistician:export", args=[job.pk])
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.filters == {"visits": ["baseline", "m6"], "sites": ["A01"]}
    page = client.get(response["Location"]).content.decode()
    assert "Download SAS XPT" in page and f"{job.row_count}" in page

    download = client.get(reverse("statistician:export_download", args=[job.pk]))
    assert download.status_code == 200
    assert f'filename="qs_{job.pk}.xpt"' in download["Content-Disposition"]
    data = b"".join(download.streaming_content)
    path = tmp_path / "qs.xpt"
    path.write_bytes(data)
    frame, meta = pyreadstat.read_xport(str(path))
    assert meta.table_name == "QS" and len(frame) == job.row_count
    assert set(frame["VISITNUM"]) == {1.0, 2.0}

    book = client.get(reverse("statistician:export_codebook", args=[job.pk]))
    codebook = pd.read_csv(io.BytesIO(b"".join(book.streaming_content)))
    assert codebook["variable"].tolist() == list(frame.columns)


def test_an_invalid_export_request_shows_the_form_again(client, study, stat_user):
    login(client, stat_user)
    response = client.post(reverse("statistician:export_new"), {"kind": "nope", "format": "csv"})
    assert response.status_code == 400
    assert not ExportJob.objects.exists()


def test_a_large_export_goes_to_a_worker(client, study, stat_user, monkeypatch):
    monkeypatch.setattr("surveys.statistician.exports.jobs.SYNC_ROW_LIMIT", 10)
    login(client, stat_user)
    response = client.post(reverse("statistician:export_new"), {"kind": "items", "format": "csv"})
    job = ExportJob.objects.get()
    assert job.status == JobStatus.QUEUED  # enqueued on commit, not built in the request
    page = client.get(response["Location"]).content.decode()
    assert 'http-equiv="refresh"' in page and "Queued" in page
    assert client.get(reverse("statistician:export_download", args=[job.pk])).status_code == 404


def test_the_run_page_shows_the_papers_tables_and_everything_downloads(client, study, stat_user):
    login(client, stat_user)
    response = client.post(
        reverse("statistician:run_new"),
        {
            "measures": ["TOI", "FACTB", "LR1"],
            "baseline": "baseline",
            "plot_measure": "TOI",
            "mid_responders": "on",
            "mixed_model": "on",
            "mmrm": "on",
            "deterioration": ["TOI-5", "TOI-6-confirmed-or-death"],
        },
    )
    run = AnalysisRun.objects.get()
    assert response.status_code == 302 and run.status == JobStatus.QUEUED
    assert 'http-equiv="refresh"' in client.get(response["Location"]).content.decode()
    runs.execute_run(run.pk)
    run.refresh_from_db()
    page = client.get(response["Location"]).content.decode()
    assert 'id="scores-TOI"' in page and 'id="change-TOI"' in page and 'id="scores-LR1"' in page
    assert 'id="mid"' in page and 'id="mixed"' in page and 'id="compliance"' in page
    toi_m6 = next(
        r
        for r in run.results["compare"]
        if (r["measure"], r["visit"], r["analysis"]) == ("TOI", "m6", "score")
    )
    assert f"{toi_m6['mean_a']:.1f} ({toi_m6['sd_a']:.1f})" in page  # mean (SD) as in Table 2
    assert run.snapshot_hash in page and "missing at random" in page
    # SISAQOL defaults, with a navigation between the sections.
    for section in ("completion", "scores", "items", "change", "mmrm", "sensitivity", "ttd"):
        assert f'href="#{section}"' in page and f'id="{section}"' in page, section
    assert "Missing data, defined." in page and "Completion, variable" in page
    assert "The paper's analysis is unadjusted" in page and "P (Holm)" in page
    assert 'id="mmrm-table"' in page and 'id="ttd-table"' in page
    assert not re.search(r">-0\.0+<|[ (]-0\.0+[ )<]", page)  # no "-0.0" anywhere
    assert run.parameters["deterioration"] == ["TOI-5", "TOI-6-confirmed-or-death"]
    assert "TOI-6-confirmed-or-death" in page
    for name in ("plot.png", "plot.svg", "snapshot.parquet", "snapshot.csv", "results.json"):
        got = client.get(reverse("statistician:run_file", args=[run.pk, name]))
        assert got.status_code == 200, name
    compare_csv = client.get(reverse("statistician:run_file", args=[run.pk, "compare.csv"]))
    table = pd.read_csv(io.StringIO(compare_csv.content.decode()), float_precision="round_trip")
    assert len(table) == len(run.results["compare"])
    assert table["p_value"].dropna().tolist() == [
        r["p_value"] for r in run.results["compare"] if r["p_value"] is not None
    ]
    snap = client.get(reverse("statistician:run_file", args=[run.pk, "snapshot.csv"]))
    rows = pd.read_csv(io.StringIO(snap.content.decode()))
    assert len(rows) == 64 and (rows["state"] == "received").sum() == 30
    assert client.get(reverse("statistician:run_file", args=[run.pk, "x.bin"])).status_code == 404


def test_the_run_page_shows_why_a_run_failed_and_re_runs_on_the_snapshot(client, study, stat_user):
    login(client, stat_user)
    failed = runs.run_start(user=stat_user, parameters={"baseline": "m30"})
    runs.execute_run(failed.pk)
    page = client.get(reverse("statistician:run", args=[failed.pk])).content.decode()
    assert 'id="run-error"' in page and "no baseline rows" in page

    ok = runs.run_start(user=stat_user, parameters={"measures": ["TOI"], "mixed_model": False})
    runs.execute_run(ok.pk)
    response = client.post(reverse("statistician:run_rerun", args=[ok.pk]))
    again = AnalysisRun.objects.latest("pk")
    assert response["Location"] == reverse("statistician:run", args=[again.pk])
    assert again.parameters["snapshot_of"] == ok.pk
    refused = client.post(reverse("statistician:run_rerun", args=[failed.pk]))
    assert refused.status_code == 302 and AnalysisRun.objects.count() == 3
