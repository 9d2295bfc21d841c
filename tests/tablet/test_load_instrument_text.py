"""``manage.py load_instrument_text``: licensed wording, checked in full, loaded all or nothing."""

from __future__ import annotations

import csv
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from scoring.instruments import E2108_LR, FACT_B_V4
from surveys.models import InstrumentText

pytestmark = pytest.mark.django_db
HEADER = ["instrument", "version", "language", "item_code", "text"]


def rows_for(instrument, language: str = "es", prefix: str = "Texto") -> list[list[str]]:
    return [
        [instrument.code, instrument.version, language, code, f"{prefix} {code}, con coma"]
        for code in instrument.item_codes
    ]


def write(tmp_path: Path, rows: list[list[str]], header=HEADER, name="wording.csv") -> Path:
    path = tmp_path / name
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def load(path: Path, *args: str) -> str:
    out = StringIO()
    call_command("load_instrument_text", str(path), *args, stdout=out, stderr=out)
    return out.getvalue()


def failure(path: Path) -> str:
    err = StringIO()
    with pytest.raises(CommandError) as info:
        call_command("load_instrument_text", str(path), stdout=StringIO(), stderr=err)
    return f"{info.value}\n{err.getvalue()}"


def test_a_complete_file_is_loaded(tmp_path):
    path = write(tmp_path, rows_for(FACT_B_V4) + rows_for(E2108_LR, language="en"))
    output = load(path, "--source", "FACIT licence 42")
    assert "FACT-B 4 (es): 37 texts loaded" in output
    assert InstrumentText.objects.count() == 37 + 9
    gp1 = InstrumentText.objects.get(instrument="FACT-B", language="es", item_code="GP1")
    assert (gp1.version, gp1.text, gp1.source) == ("4", "Texto GP1, con coma", "FACIT licence 42")


def test_loading_again_replaces_the_wording_of_that_language(tmp_path):
    load(write(tmp_path, rows_for(FACT_B_V4)))
    output = load(write(tmp_path, rows_for(FACT_B_V4, prefix="Nuevo"), name="v2.csv"))
    assert "37 replaced" in output
    assert InstrumentText.objects.count() == 37
    assert InstrumentText.objects.get(item_code="GP1").text.startswith("Nuevo")


def test_a_dry_run_writes_nothing(tmp_path):
    output = load(write(tmp_path, rows_for(FACT_B_V4)), "--dry-run")
    assert "would load 37 texts for FACT-B 4 (es)" in output
    assert not InstrumentText.objects.exists()


def test_a_byte_order_mark_and_header_case_are_accepted(tmp_path):
    path = tmp_path / "excel.csv"
    body = StringIO()
    csv.writer(body).writerows([[h.upper() for h in HEADER], *rows_for(E2108_LR)])
    path.write_text("\ufeff" + body.getvalue(), encoding="utf-8")
    load(path)
    assert InstrumentText.objects.count() == 9


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.__setitem__(0, "FACT-X"), "unknown instrument 'FACT-X'"),
        (lambda r: r.__setitem__(1, "5"), "FACT-B version '5' is not the shipped one ('4')"),
        (lambda r: r.__setitem__(2, "fr"), "unknown language 'fr'"),
        (lambda r: r.__setitem__(3, "B10"), "'B10' is not an item of FACT-B 4"),
        (lambda r: r.__setitem__(4, "   "), "the text of GP1 is empty"),
        (lambda r: r.__setitem__(4, "x" * 2001), "longer than 2000 characters"),
        (lambda r: r.__setitem__(4, "bad\x07bell"), "control characters"),
    ],
)
def test_one_bad_row_loads_nothing_and_names_the_line(tmp_path, change, message):
    rows = rows_for(FACT_B_V4) + rows_for(E2108_LR)
    change(rows[0])  # GP1, line 2
    report = failure(write(tmp_path, rows))
    assert message in report
    assert "line 2" in report
    assert "nothing was loaded" in report
    assert not InstrumentText.objects.exists()


def test_a_duplicate_row_is_refused(tmp_path):
    rows = rows_for(E2108_LR)
    rows.append(list(rows[0]))
    report = failure(write(tmp_path, rows))
    assert "E2108-LR draft-1 es LR1 is already on line 2" in report
    assert not InstrumentText.objects.exists()


def test_an_incomplete_instrument_is_refused(tmp_path):
    rows = [r for r in rows_for(FACT_B_V4) if r[3] not in ("GS7", "P2")]
    report = failure(write(tmp_path, rows))
    assert "FACT-B 4 (es) is incomplete: no text for GS7, P2" in report
    assert not InstrumentText.objects.exists()


def test_a_wrong_header_is_refused(tmp_path):
    report = failure(
        write(
            tmp_path,
            rows_for(E2108_LR),
            header=["instrument", "version", "lang", "item_code", "text"],
        )
    )
    assert "missing: language" in report and "unexpected: lang" in report


def test_a_row_with_an_unquoted_comma_is_refused(tmp_path):
    path = tmp_path / "loose.csv"
    lines = [",".join(HEADER)] + [",".join([*r[:4], f"Text {r[3]}"]) for r in rows_for(E2108_LR)]
    lines[1] = lines[1] + ", and more"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = failure(path)
    assert "line 2: 6 columns, expected 5" in report
    assert not InstrumentText.objects.exists()


def test_a_file_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(",".join(HEADER).encode() + b"\nE2108-LR,draft-1,es,LR1,Se\xf1al\n")
    assert "not UTF-8" in failure(path)


def test_an_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("", encoding="utf-8")
    assert "the file is empty" in failure(path)
    path.write_text(",".join(HEADER) + "\n", encoding="utf-8")
    assert "no rows after the header" in failure(path)


def test_a_missing_file_is_a_clear_error(tmp_path):
    assert "cannot read the file" in failure(tmp_path / "nope.csv")
