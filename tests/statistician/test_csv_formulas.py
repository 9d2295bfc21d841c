"""Every CSV the system writes escapes text cells a spreadsheet would run as a formula.

Before: a study id ``=HYPERLINK(...)`` went into the export CSV as it was, and
opened in a spreadsheet it ran. Now it is written ``'=HYPERLINK(...)``; numeric
columns (a negative change from baseline) stay plain numbers.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from django.test import Client
from django.urls import reverse

from surveys.jobs.claims import Outcome
from surveys.models import Participant, Site
from surveys.statistician.analysis import runs
from surveys.statistician.exports.codebooks import codebook, write_dataset
from surveys.statistician.exports.datasets import codebook_context
from surveys.statistician.exports.filters import ExportFilters
from surveys.statistician.exports.kinds import KINDS, build_dataset
from surveys.statistician.exports.writers import write_codebook
from tests.tablet.conftest import open_assessment_for

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
HOSTILE = {
    "E2108-0001": '=HYPERLINK("http://x.io","y")',
    "E2108-0002": "@SUM(1+1)",
    "E2108-0003": "+1+2",
    "E2108-0004": "-2+3",
}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def hostile_ids(study):
    for old, new in HOSTILE.items():
        Participant.objects.filter(study_id=old).update(study_id=new)
    return study


def cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize("kind", [code for code, kind in KINDS.items() if kind.is_dataset])
def test_export_csvs_escape_formula_text_and_keep_numbers(hostile_ids, tmp_path, kind):
    frame = build_dataset(kind)
    path = tmp_path / f"{kind}.csv"
    write_dataset(frame, "csv", path, kind=kind)
    rows = cells(path.read_text())
    spec = KINDS[kind].dataset_spec()
    header = rows[0]
    numeric = [
        i
        for i, name in enumerate(header)
        if spec.var(name).type == "num" and not spec.var(name).date  # dates: ISO text
    ]
    text = [row[i] for row in rows[1:] for i in range(len(header)) if i not in numeric]
    for hostile in HOSTILE.values():
        assert hostile not in text, hostile
        assert any(hostile in cell for cell in text), hostile  # kept, escaped or embedded
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in text)
    # Numbers are untouched: negative values are written as numbers, never quoted.
    values = [row[i] for row in rows[1:] for i in numeric if row[i]]
    assert values and all(not v.startswith("'") for v in values)
    for v in values:
        float(v)
    if kind == "adqs":
        assert any(v.startswith("-") for v in values), "a negative change from baseline"
    # Read back with pandas: the apostrophe is part of the text (README/codebook say so).
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    if "SUBJID" in back.columns:
        assert "'" + HOSTILE["E2108-0001"] in set(back["SUBJID"])


def test_the_codebook_csv_escapes_its_text(hostile_ids, tmp_path):
    frame = build_dataset("scored")
    book = codebook("scored", frame, codebook_context(ExportFilters()))
    book.loc[0, "derivation"] = "=1+1"
    path = tmp_path / "codebook.csv"
    write_codebook(book, path)
    rows = cells(path.read_text())
    assert rows[1][-1] == "'=1+1"
    assert all(not c.startswith("=") for row in rows for c in row)


def test_the_compliance_csv_escapes_site_codes(coordinator_a, site_a, trial):
    open_assessment_for(trial, site_a)
    Site.objects.filter(pk=site_a.pk).update(code="=cmd|' /C calc'!A0")
    client = Client()
    client.force_login(coordinator_a)
    response = client.get(reverse("coordinator:compliance"), {"by": "site", "format": "csv"})
    assert response.status_code == 200
    rows = cells(response.content.decode())
    flat = [c for row in rows for c in row]
    assert "'=cmd|' /C calc'!A0" in flat
    assert not any(c.startswith("=") for c in flat)
    counts = [c for row in rows[1:] for c in row if c.lstrip("-").isdigit()]
    assert counts, "the numbers are still numbers"


def test_analysis_run_csvs_escape_text(hostile_ids, stat_user):
    run = runs.run_start(user=stat_user, parameters={"measures": ["TOI"], "mixed_model": False})
    assert runs.execute_run(run.pk) is Outcome.DONE
    client = Client()
    client.force_login(stat_user)
    snapshot = client.get(reverse("statistician:run_file", args=[run.pk, "snapshot.csv"]))
    assert snapshot.status_code == 200
    flat = [c for row in cells(snapshot.content.decode()) for c in row]
    assert "'" + HOSTILE["E2108-0001"] in flat
    assert not any(c.startswith(("=", "@", "+")) for c in flat)


def test_the_scoring_command_line_escapes_ids_in_its_csv(tmp_path):
    items = [
        *(f"GP{i}" for i in range(1, 8)),
        *(f"GS{i}" for i in range(1, 8)),
        *(f"GE{i}" for i in range(1, 7)),
        *(f"GF{i}" for i in range(1, 8)),
        *(f"B{i}" for i in range(1, 10)),
        "P2",
    ]
    answers = ",".join("2" for _ in items)
    source = tmp_path / "in.csv"
    source.write_text(
        f"study_id,visit,{','.join(items)}\n"
        f'"=HYPERLINK(""http://x.io"")",baseline,{answers}\nok,baseline,{answers}\n'
    )
    out = tmp_path / "out.csv"
    result = subprocess.run(
        [sys.executable, "-m", "scoring", "score", str(source), "-o", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    rows = cells(out.read_text())
    flat = [c for row in rows for c in row]
    assert '\'=HYPERLINK("http://x.io")' in flat
    assert "ok" in flat
