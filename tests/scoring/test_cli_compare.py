"""``python -m scoring compare``: round trips and exit status 2 on bad input."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scoring.cli import main
from scoring.compare import RESULT_COLUMNS, compare
from scoring.io import read_table
from tests.scoring.rreference import FIXTURES

REPO = Path(__file__).resolve().parents[2]
SCORES_CSV = FIXTURES / "compare_scores.csv"


def read_results(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        # Numbers back as float64 (blank = NaN); pandas' default float parser is
        # not correctly rounded, its "round_trip" one is.
        return pd.read_csv(
            path, keep_default_na=False, na_values=[""], float_precision="round_trip"
        )
    return pd.read_parquet(path)


def assert_same_results(written: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(written.columns) == list(RESULT_COLUMNS)
    for column in RESULT_COLUMNS:
        got, want = written[column].to_numpy(), expected[column].to_numpy()
        if expected[column].dtype.kind == "f":
            # Every double must survive the file exactly (shortest round-trip form).
            np.testing.assert_array_equal(got.astype(float), want.astype(float))
        else:
            assert [str(v) for v in got] == [str(v) for v in want], column


def test_round_trip_through_main_writes_exactly_what_compare_returns(tmp_path: Path) -> None:
    out = tmp_path / "results.csv"
    code = main(["compare", str(SCORES_CSV), "-o", str(out), "--measures", "TOI,BCS"])
    assert code == 0
    expected = compare(read_table(SCORES_CSV), measures=["TOI", "BCS"])
    assert_same_results(read_results(out), expected)


def test_parquet_in_and_out(tmp_path: Path) -> None:
    scores = read_table(SCORES_CSV)
    for col in ("TOI", "BCS", "FACTG"):
        scores[col] = pd.to_numeric(scores[col])
    source = tmp_path / "scores.parquet"
    scores.to_parquet(source)
    out = tmp_path / "results.parquet"
    assert main(["compare", str(source), "-o", str(out)]) == 0
    written = read_results(out)
    assert_same_results(written, compare(scores))
    assert set(written["measure"]) == {"BCS", "FACTG", "TOI"}  # the defaults present


def test_custom_column_names_and_baseline(tmp_path: Path) -> None:
    scores = read_table(SCORES_CSV).rename(
        columns={"participant_id": "USUBJID", "arm": "TRT01P", "visit": "AVISIT"}
    )
    scores["AVISIT"] = scores["AVISIT"].replace({"baseline": "Baseline"})
    source = tmp_path / "adqs.csv"
    scores.to_csv(source, index=False)
    out = tmp_path / "results.csv"
    argv = [
        "compare",
        str(source),
        "-o",
        str(out),
        "--id",
        "USUBJID",
        "--arm",
        "TRT01P",
        "--visit",
        "AVISIT",
        "--baseline",
        "Baseline",
        "--measures",
        " TOI , FACTG ",
    ]
    assert main(argv) == 0
    written = read_results(out)
    assert written["visit"].iloc[0] == "Baseline"
    assert list(dict.fromkeys(written["measure"])) == ["TOI", "FACTG"]


def test_subprocess_python_m_scoring_compare(tmp_path: Path) -> None:
    out = tmp_path / "results.csv"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "scoring",
            "compare",
            str(SCORES_CSV),
            "-o",
            str(out),
            "--measures",
            "TOI",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "wrote 10 rows" in proc.stdout
    assert_same_results(read_results(out), compare(read_table(SCORES_CSV), measures=["TOI"]))


def test_subprocess_bad_input_exits_2_with_the_reason(tmp_path: Path) -> None:
    source = tmp_path / "scores.csv"
    source.write_text("participant_id,arm,visit,TOI\np1,A,baseline,50\np2,A,baseline,40\n")
    out = tmp_path / "results.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "scoring", "compare", str(source), "-o", str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert "expected exactly two arms in column 'arm', found 1: 'A'" in proc.stderr
    assert not out.exists()


BASE = "participant_id,arm,visit,TOI\n"
GOOD_ROWS = "p1,A,baseline,50\np2,B,baseline,40\np1,A,month6,52\np2,B,month6,41\n"


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        ("id,arm,visit,TOI\np1,A,baseline,50\n", [], "missing id column 'participant_id'"),
        ("participant_id,visit,TOI\np1,baseline,50\n", [], "missing arm column 'arm'"),
        ("participant_id,arm,TOI\np1,A,50\n", [], "missing visit column 'visit'"),
        (BASE + GOOD_ROWS, ["--measures", "TOI,BCS"], "not found: 'BCS'"),
        ("participant_id,arm,visit,age\np1,A,baseline,50\n", [], "no score columns found"),
        (BASE + GOOD_ROWS + "p3,C,baseline,40\n", [], "exactly two arms.*found 3"),
        (BASE + GOOD_ROWS + "p1,A,month6,53\n", [], "participant p1, visit month6 \\(rows 3, 5\\)"),
        (BASE + GOOD_ROWS, ["--baseline", "screening"], "no baseline rows"),
        (BASE + GOOD_ROWS.replace("52", "fifty-two"), [], "row 3 .*'fifty-two'"),
        (BASE + GOOD_ROWS.replace("p2,B,month6", "p2,A,month6"), [], "in both arms: p2"),
        (BASE + ",A,baseline,50\n" + GOOD_ROWS, [], "id column 'participant_id' is blank"),
        (BASE, [], "no rows"),
        ("", [], "empty file"),
    ],
)
def test_bad_input_exits_2_with_a_message_and_writes_nothing(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str,
    extra: list[str],
    message: str,
) -> None:
    source = tmp_path / "scores.csv"
    source.write_text(content)
    out = tmp_path / "results.csv"
    assert main(["compare", str(source), "-o", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("compare: error: ")
    assert re.search(message, err), err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [source]  # no partial or temporary file either


def test_unreadable_or_missing_scores_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results.csv"
    assert main(["compare", str(tmp_path / "nope.csv"), "-o", str(out)]) == 2
    assert "no such file" in capsys.readouterr().err
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    assert main(["compare", str(broken), "-o", str(out)]) == 2
    assert "cannot be read as parquet" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "scores.xlsx"), "-o", str(out)]) == 2
    assert "unsupported file type '.xlsx'" in capsys.readouterr().err
    assert not out.exists()


def test_bad_output_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(SCORES_CSV), "-o", str(tmp_path / "results.txt")]) == 2
    assert "output" in capsys.readouterr().err
    assert main(["compare", str(SCORES_CSV), "-o", str(tmp_path / "no" / "r.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_output_is_required() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["compare", str(SCORES_CSV)])
    assert exc.value.code == 2
