"""``python -m scoring score``: round trips, pass-through columns, every bad input."""

from __future__ import annotations

import csv
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from scoring.cli import main
from scoring.facit import COUNT_COLUMNS, SCORE_COLUMNS, score_form, score_frame

ROOT = Path(__file__).resolve().parents[2]
PWB = [f"GP{i}" for i in range(1, 8)]
SWB = [f"GS{i}" for i in range(1, 8)]
EWB = [f"GE{i}" for i in range(1, 7)]
FWB = [f"GF{i}" for i in range(1, 8)]
BCS = [*(f"B{i}" for i in range(1, 10)), "P2"]
ITEMS = PWB + SWB + EWB + FWB + BCS
OUTPUT = [*SCORE_COLUMNS, *COUNT_COLUMNS]


def form(value: Any = 2, blank: Sequence[str] = (), /, **items: Any) -> dict[str, Any]:
    answers: dict[str, Any] = dict.fromkeys(ITEMS, value)
    answers.update(dict.fromkeys(blank))
    answers.update(items)
    return answers


FORMS = [
    form(2, ["GP1"], GP2=1),  # PWB 91/6, full precision
    form(4),
    form(1, ["GS1", "GS2", "GS3", "GS4"]),  # SWB, FACTG, FACTB unscorable
    form(3, ["GE1"], GE2=8, GS7=9, B9=8),
]


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])
    return path


def read_csv_text(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def items_csv(path: Path, forms: Sequence[Mapping[str, Any]] = FORMS) -> Path:
    header = list(forms[0])
    return write_csv(path, header, [[f[c] for c in header] for f in forms])


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


# ------------------------------------------------------------------ round trips
def test_it_round_trips_a_csv_with_pass_through_columns_first_in_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header = ["patient_id", *ITEMS[:14], "note", *ITEMS[14:], "visit"]
    passthrough = [("007", "a, b", "baseline"), ("010", None, "6 mo"), ("0.50", '"q"', ""),
                   ("P-4", "ñandú", "18mo")]  # fmt: skip
    rows = []
    for (pid, note, visit), f in zip(passthrough, FORMS, strict=True):
        rows.append([pid, *[f[c] for c in ITEMS[:14]], note, *[f[c] for c in ITEMS[14:]], visit])
    src = write_csv(tmp_path / "in.csv", header, rows)
    out = tmp_path / "scores.csv"

    status, stdout, stderr = run(capsys, "score", src, "-o", out)

    assert (status, stderr) == (0, "")
    assert "scored 4 forms" in stdout
    columns, records = read_csv_text(out)
    assert columns == ["patient_id", "note", "visit", *OUTPUT]
    assert [(r["patient_id"], r["note"], r["visit"]) for r in records] == [
        ("007", "a, b", "baseline"), ("010", "", "6 mo"), ("0.50", '"q"', ""),
        ("P-4", "ñandú", "18mo"),
    ]  # fmt: skip
    for record, answers in zip(records, FORMS, strict=True):
        expected = score_form(answers)
        for name in OUTPUT:
            want = expected[name]
            if want is None:
                assert record[name] == "", name  # unscorable is blank
            elif name.endswith("_N"):
                assert record[name] == str(want), name
            else:
                assert float(record[name]) == want, name  # full precision
    assert float(records[0]["PWB"]) == 91 / 6


def test_it_round_trips_parquet_keeping_pass_through_types(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    df = pd.DataFrame(FORMS).astype("Int8")
    df.insert(
        0, "visit_date", pd.to_datetime(pd.Series(["2024-01-02", "2024-02-03", None, "2024-05-06"]))
    )
    df.insert(0, "patient", [1, 2, 3, 4])
    df["arm"] = pd.Series(["A", "B", None, "A"], dtype=object)
    src = tmp_path / "in.parquet"
    df.to_parquet(src, index=False)
    out = tmp_path / "out.parquet"

    status, _, stderr = run(capsys, "score", src, "-o", out)

    assert (status, stderr) == (0, "")
    result = pd.read_parquet(out)
    assert list(result.columns) == ["patient", "visit_date", "arm", *OUTPUT]
    for column in ("patient", "visit_date", "arm"):
        pd.testing.assert_series_equal(result[column], df[column])
    assert all(result[c].dtype == np.float64 for c in SCORE_COLUMNS)
    assert all(result[c].dtype == np.int64 for c in COUNT_COLUMNS)
    for i, answers in enumerate(FORMS):
        expected = score_form(answers)
        got = {k: (None if pd.isna(v) else v) for k, v in result.iloc[i][OUTPUT].items()}
        assert got == expected


@pytest.mark.parametrize(("source", "target"), [(".csv", ".parquet"), (".parquet", ".csv")])
def test_it_converts_between_csv_and_parquet_by_extension(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str, target: str
) -> None:
    src = tmp_path / f"in{source}"
    if source == ".csv":
        items_csv(src)
    else:
        pd.DataFrame(FORMS).to_parquet(src)
    out = tmp_path / f"out{target}"
    assert run(capsys, "score", src, "-o", out)[0] == 0
    result = (
        pd.read_parquet(out)
        if target == ".parquet"
        else pd.read_csv(out, float_precision="round_trip")
    )
    assert list(result.columns) == OUTPUT
    assert result["PWB"].tolist() == [91 / 6, 0.0, 21.0, 7.0]


def test_it_applies_the_factscorer_toi_rule_on_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sparse = form(2, PWB[:3] + FWB[:3] + BCS[:4])  # 14 of 24 TOI items
    src = items_csv(tmp_path / "in.csv", [sparse])
    run(capsys, "score", src, "-o", tmp_path / "facit.csv")
    run(capsys, "score", src, "-o", tmp_path / "fs.csv", "--toi-rule", "factscorer")
    assert read_csv_text(tmp_path / "facit.csv")[1][0]["TOI"] == ""
    assert float(read_csv_text(tmp_path / "fs.csv")[1][0]["TOI"]) == 48


def test_it_writes_arm_and_lr_items_when_present(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    forms = [form(2, B10=1, B11=2, B12=3, B13=4, LR1=3, LR9=8)]
    src = items_csv(tmp_path / "in.csv", forms)
    out = tmp_path / "out.csv"
    assert run(capsys, "score", src, "-o", out)[0] == 0
    columns, records = read_csv_text(out)
    assert columns == [*SCORE_COLUMNS, "ARM", *COUNT_COLUMNS, "ARM_N", "LR1", "LR9"]
    assert (records[0]["ARM"], records[0]["ARM_N"]) == ("8", "5")  # B3 2 + 3 + 2 + 1 + 0
    assert (records[0]["LR1"], records[0]["LR9"]) == ("3", "")


def test_it_writes_a_header_only_table_for_an_input_without_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = write_csv(tmp_path / "in.csv", ["id", *ITEMS], [])
    out = tmp_path / "out.csv"
    assert run(capsys, "score", src, "-o", out)[0] == 0
    assert read_csv_text(out) == (["id", *OUTPUT], [])


def test_it_runs_as_python_dash_m_scoring(tmp_path: Path) -> None:
    src = items_csv(tmp_path / "in.csv")
    bad = items_csv(tmp_path / "bad.csv", [form(2, GF2="two")])
    ok = subprocess.run(
        [sys.executable, "-m", "scoring", "score", str(src), "-o", str(tmp_path / "out.csv")],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert read_csv_text(tmp_path / "out.csv")[0] == OUTPUT
    failed = subprocess.run(
        [sys.executable, "-m", "scoring", "score", str(bad), "-o", str(tmp_path / "bad_out.csv")],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert failed.returncode == 2
    assert "row 1, column GF2: 'two'" in failed.stderr
    assert not (tmp_path / "bad_out.csv").exists()


# ------------------------------------------------------------------- bad input
@pytest.mark.parametrize("bad", ["5", "-1", "2.5", "abc", "4.5", "10"])
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_it_exits_2_naming_row_and_column_of_a_bad_value_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str, suffix: str
) -> None:
    forms = [form(2), form(2), form(2, GE3=bad)]
    src = tmp_path / f"in{suffix}"
    if suffix == ".csv":
        items_csv(src, forms)
    else:
        df = pd.DataFrame(forms)
        numeric = bad.lstrip("-").replace(".", "", 1).isdigit()
        df["GE3"] = pd.to_numeric(df["GE3"]) if numeric else df["GE3"].astype(str)
        df.to_parquet(src)
    out = tmp_path / "out.csv"

    status, stdout, stderr = run(capsys, "score", src, "-o", out)

    assert status == 2
    assert stdout == ""
    assert f"row 3, column GE3: '{bad}'" in stderr
    assert "GE3" in stderr.splitlines()[-1]
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [src]  # no partial file either


def test_it_lists_at_most_20_bad_cells_then_a_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    forms = [form(2, GP1=7, P2=7) for _ in range(25)]
    src = items_csv(tmp_path / "in.csv", forms)
    status, _, stderr = run(capsys, "score", src, "-o", tmp_path / "out.csv")
    assert status == 2
    assert stderr.count(", column ") == 20
    assert "50 invalid item responses in 25 data rows" in stderr
    assert "and 30 more invalid cells in 15 more rows" in stderr
    assert not (tmp_path / "out.csv").exists()


def test_it_exits_2_naming_missing_item_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    forms = [{k: v for k, v in form(2).items() if k not in ("GS7", "P2")}]
    src = items_csv(tmp_path / "in.csv", forms)
    status, _, stderr = run(capsys, "score", src, "-o", tmp_path / "out.csv")
    assert status == 2
    assert "missing required item columns: GS7, P2" in stderr
    assert not (tmp_path / "out.csv").exists()


def test_it_exits_2_for_a_duplicated_item_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = write_csv(tmp_path / "in.csv", [*ITEMS, "GP1"], [[2] * 38])
    status, _, stderr = run(capsys, "score", src, "-o", tmp_path / "out.csv")
    assert status == 2
    assert "GP1" in stderr
    assert not (tmp_path / "out.csv").exists()


def test_it_exits_2_when_a_pass_through_column_has_a_score_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = write_csv(tmp_path / "in.csv", ["PWB", *ITEMS], [["12", *[2] * 37]])
    status, _, stderr = run(capsys, "score", src, "-o", tmp_path / "out.csv")
    assert status == 2
    assert "PWB" in stderr
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("name", ["in.xlsx", "in.txt", "in", "in.csv.gz"])
def test_it_exits_2_for_an_input_that_is_not_csv_or_parquet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    src = items_csv(tmp_path / name)
    status, _, stderr = run(capsys, "score", src, "-o", tmp_path / "out.csv")
    assert status == 2
    assert "unsupported file type" in stderr
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("name", ["out.xlsx", "out", "out.json"])
def test_it_exits_2_for_an_output_that_is_not_csv_or_parquet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    src = items_csv(tmp_path / "in.csv")
    status, _, stderr = run(capsys, "score", src, "-o", tmp_path / name)
    assert status == 2
    assert "unsupported file type" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_it_exits_2_for_a_missing_input_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, stderr = run(capsys, "score", tmp_path / "nope.csv", "-o", tmp_path / "out.csv")
    assert status == 2
    assert "no such file" in stderr
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("in.parquet", b"PAR1 this is not parquet", "cannot be read as parquet"),
        ("in.csv", b"", "empty file"),
        ("in.csv", b"GP1,GP2\n1,2,3,4\n", "cannot be read as csv"),
        ("in.csv", "GP1,GP2\n1,ñ\n".encode("latin-1"), "cannot be read as csv"),
        ("in.parquet", b"", "cannot be read as parquet"),
    ],
)
def test_it_exits_2_for_a_file_that_cannot_be_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: bytes, reason: str
) -> None:
    src = tmp_path / name
    src.write_bytes(content)
    status, _, stderr = run(capsys, "score", src, "-o", tmp_path / "out.csv")
    assert status == 2
    assert reason in stderr
    assert not (tmp_path / "out.csv").exists()


def test_it_exits_2_for_an_input_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "dir.csv").mkdir()
    status, _, stderr = run(capsys, "score", tmp_path / "dir.csv", "-o", tmp_path / "out.csv")
    assert status == 2
    assert "dir.csv" in stderr


def test_it_exits_2_when_the_output_directory_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = items_csv(tmp_path / "in.csv")
    status, _, stderr = run(capsys, "score", src, "-o", tmp_path / "no" / "out.csv")
    assert status == 2
    assert "no such directory" in stderr


def test_it_leaves_an_existing_output_untouched_on_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.csv"
    out.write_text("previous results\n")
    src = items_csv(tmp_path / "in.csv", [form(2, B4="x")])
    assert run(capsys, "score", src, "-o", out)[0] == 2
    assert out.read_text() == "previous results\n"


def test_it_rejects_an_unknown_toi_rule_with_usage_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = items_csv(tmp_path / "in.csv")
    with pytest.raises(SystemExit) as exit_info:
        main(["score", str(src), "-o", str(tmp_path / "out.csv"), "--toi-rule", "sas"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()


def test_it_keeps_every_row_in_order_in_a_csv_large_enough_to_write_in_parallel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(3)
    n = 30_011
    values = rng.integers(0, 5, size=(n, len(ITEMS))).astype(float)
    values[rng.random(values.shape) < 0.2] = np.nan
    df = pd.DataFrame(values, columns=ITEMS).astype("Int8")
    df.insert(0, "id", [f"{i:06d}" for i in range(n)])
    src = tmp_path / "in.csv"
    df.to_csv(src, index=False)
    out = tmp_path / "out.csv"
    assert run(capsys, "score", src, "-o", out)[0] == 0
    result = pd.read_csv(out, dtype={"id": str}, float_precision="round_trip")
    assert result["id"].tolist() == df["id"].tolist()
    expected = score_frame(df)
    pd.testing.assert_frame_equal(result[OUTPUT], expected, check_dtype=False, check_exact=True)
