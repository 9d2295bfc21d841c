"""Files that open ready to use: SAS/R/Stata programs, .dta/.sav, JSON codebook, items_wide,
manifest, and the export job that writes them all."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from surveys.models import ExportJob, Score
from surveys.statistician.exports import build_dataset, export_kind, write_dataset
from surveys.statistician.exports.codebooks import codebook_json
from surveys.statistician.exports.jobs import export_create, run_export_job
from surveys.statistician.exports.programs import write_programs
from surveys.statistician.exports.writers import PANDAS_XPT_NOTE

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="R is not installed")
@pytest.mark.parametrize("kind", ["items", "scored", "items_wide"])
def test_the_generated_r_script_reads_the_csv_with_labels_and_the_same_values(
    study, tmp_path, kind
):
    frame = build_dataset(kind)
    spec = export_kind(kind).dataset_spec()
    write_dataset(frame, "csv", tmp_path / "data.csv", kind=kind)
    script = next(
        p for p in write_programs(frame, spec, "data.csv", tmp_path, "data") if p.suffix == ".R"
    )
    name = spec.name.lower()
    out = subprocess.run(
        [
            "Rscript",
            "-e",
            f'source("{script}"); d <- {name}; '
            'keep <- names(d)[!grepl("_F$", names(d))]; '
            'write.csv(d[, keep], "back.csv", row.names = FALSE, na = ""); '
            f'cat(attr(d${frame.columns[0]}, "label"), "\\n"); '
            'cat(sapply(d, class)[["STUDYID"]], "\\n")',
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert spec.var(str(frame.columns[0])).label in out.stdout and "character" in out.stdout
    back = pd.read_csv(
        tmp_path / "back.csv",
        dtype={v.name: str for v in spec.variables if v.type == "char"},
        keep_default_na=False,
        na_values=[""],
    )
    assert list(back.columns) == list(frame.columns)
    for var in spec.variables:
        if var.name not in frame:
            continue
        if var.type == "num":
            a = pd.to_numeric(frame[var.name]).to_numpy(dtype=float, na_value=np.nan)
            assert np.allclose(
                a, back[var.name].to_numpy(dtype=float), equal_nan=True, rtol=1e-12
            ), var.name
        else:
            assert (
                frame[var.name].fillna("").astype(str).tolist()
                == back[var.name].fillna("").tolist()
            ), var.name
    if kind == "items":
        labels = subprocess.run(
            [
                "Rscript",
                "-e",
                f'source("{script}"); print(levels(items$VALUE_F)); '
                'print(attr(items$VALUE, "labels"))',
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
        assert "Not at all" in labels and "Very much" in labels


def test_the_sas_and_stata_programs_declare_every_column_label_and_format(study, tmp_path):
    frame = build_dataset("items")
    spec = export_kind("items").dataset_spec()
    sas, _, do = write_programs(frame, spec, "items.csv", tmp_path, "items")
    sas_text, do_text = sas.read_text(), do.read_text()
    for name in frame.columns:
        label = spec.var(name).label
        assert f'{name} = "{label}"' in sas_text
        assert f'label variable {name} "{label}"' in do_text
    assert "value RESPONSEF 0='Not at all'" in sas_text and "format VALUE RESPONSEF.;" in sas_text
    assert (
        'label define RESPONSE 0 "Not at all"' in do_text
        and "label values VALUE RESPONSE" in do_text
    )
    assert "input STUDYID $" in sas_text and "case(preserve)" in do_text


@pytest.mark.parametrize("fmt", ["dta", "sav"])
def test_stata_and_spss_files_carry_variable_and_value_labels(study, tmp_path, fmt):
    frame = build_dataset("items")
    path = tmp_path / f"items.{fmt}"
    write_dataset(frame, fmt, path, kind="items")
    back, meta = getattr(pyreadstat, f"read_{fmt}")(str(path))
    assert (
        meta.column_names_to_labels["VALUE"]
        == export_kind("items").dataset_spec().var("VALUE").label
    )
    assert meta.variable_value_labels["VALUE"][0] == "Not at all"
    assert np.array_equal(
        back["VALUE"].to_numpy(dtype=float), frame["VALUE"].to_numpy(dtype=float), equal_nan=True
    )


def test_items_wide_is_read_by_the_scoring_command_and_gives_the_stored_scores(study, tmp_path):
    frame = build_dataset("items_wide")
    assert len(frame) == 30 and not frame.duplicated(["SUBJID", "VISITNUM"]).any()
    write_dataset(frame, "csv", tmp_path / "wide.csv", kind="items_wide")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "scoring",
            "score",
            str(tmp_path / "wide.csv"),
            "-o",
            str(tmp_path / "scored.csv"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    scored = pd.read_csv(tmp_path / "scored.csv", dtype={"SUBJID": str})
    row = scored.loc[(scored["SUBJID"] == "E2108-0003") & (scored["VISITNUM"] == 1)].iloc[0]
    stored = Score.objects.get(
        assessment__participant__study_id="E2108-0003", assessment__visit__code="baseline"
    )
    assert row["TOI"] == pytest.approx(stored.toi) and row["PWB"] == pytest.approx(stored.pwb)


def test_the_json_codebook_has_machine_readable_codelists_and_the_pandas_note(study):
    frame = build_dataset("items")
    book = codebook_json("items", frame)
    response = book["codelists"]["RESPONSE"]
    assert [t["value"] for t in response["terms"]] == [0, 1, 2, 3, 4]
    assert response["sponsor_defined"] is True
    assert next(v for v in book["variables"] if v["variable"] == "VALUE")["codelist"] == "RESPONSE"
    assert PANDAS_XPT_NOTE in book["notes"]
    readme = (ROOT / "README.md").read_text()
    assert "5.4e-79" in readme and "pyreadstat" in readme


def test_an_export_job_stores_manifest_codebooks_and_programs_and_serves_them(
    study, stat_user, client
):
    job = export_create(user=stat_user, kind="items", fmt="csv", filters={})
    run_export_job(job.pk)
    job.refresh_from_db()
    assert job.status == "succeeded"
    stem = f"items_{job.pk}"
    assert set(job.files) == {
        f"{stem}{s}" for s in ("_codebook.json", ".sas", ".R", ".do", "_manifest.csv")
    }
    client.force_login(stat_user)
    manifest = client.get(f"/statistician/exports/{job.pk}/files/{stem}_manifest.csv")
    assert manifest.status_code == 200
    table = pd.read_csv(
        pd.io.common.BytesIO(b"".join(manifest.streaming_content)), keep_default_na=False
    )
    data_row = table.loc[table["file"] == f"{stem}.csv"].iloc[0]
    with job.file.open("rb") as fh:
        import hashlib

        assert hashlib.sha256(fh.read()).hexdigest() == data_row["sha256"]
    assert int(data_row["rows"]) == job.row_count
    assert client.get(f"/statistician/exports/{job.pk}/files/nope.txt").status_code == 404
    api = client.get(f"/api/exports/{job.pk}/")
    assert set(api.json()["files"]) == set(job.files)


def test_a_package_export_runs_as_a_job_and_downloads_a_zip(study, stat_user, client):
    client.force_login(stat_user)
    response = client.post("/statistician/exports/new/", {"kind": "cdisc_package"})
    assert response.status_code == 302
    job = ExportJob.objects.latest("pk")
    assert (job.kind, job.format, job.status, job.filters) == (
        "cdisc_package",
        "zip",
        "queued",
        {"include_dates": True},
    )
    run_export_job(job.pk)
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    download = client.get(f"/statistician/exports/{job.pk}/download/")
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    page = client.get(f"/statistician/exports/{job.pk}/")
    assert b"eCTD module 5" in page.content
    bad = client.post(
        "/api/exports/", {"kind": "cdisc_package", "format": "csv"}, content_type="application/json"
    )
    assert bad.status_code == 400
    odm = client.post(
        "/api/exports/",
        {"kind": "cdisc_odm", "filters": {"trial": "E2108"}},
        content_type="application/json",
    )
    assert odm.status_code == 201 and odm.json()["format"] == "xml"


def test_an_export_of_an_empty_trial_still_writes_every_file(trial, stat_user):
    job = export_create(user=stat_user, kind="scored", fmt="csv", filters={})
    run_export_job(job.pk)
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    assert job.row_count == 0 and len(job.files) == 5
