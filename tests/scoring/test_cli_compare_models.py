"""``python -m scoring compare``: the MMRM and time-to-deterioration files next to RESULTS."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scoring.cli import main
from scoring.deterioration import TTD_COLUMNS, definition, time_to_deterioration
from scoring.io import read_table
from scoring.mmrm import MMRM_COLUMNS, mmrm
from scoring.sensitivity import SENSITIVITY_COLUMNS, Sensitivity, tipping_point
from tests.scoring.rreference import FIXTURES

SCORES_CSV = FIXTURES / "compare_scores.csv"


def read_back(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(
            path, keep_default_na=False, na_values=[""], float_precision="round_trip"
        )
    return pd.read_parquet(path)


def assert_same(written: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(written.columns) == list(expected.columns)
    for col in expected.columns:
        want = expected[col].to_numpy()
        got = written[col].to_numpy()
        if expected[col].dtype.kind == "f":
            np.testing.assert_array_equal(got.astype(float), want.astype(float), err_msg=col)
        else:  # text: an empty string reads back as blank
            assert [text(v) for v in got] == [text(v) for v in want], col


def text(value: object) -> str:
    return "" if pd.isna(value) else str(value)


def test_by_default_the_mmrm_and_ttd_tables_are_written_next_to_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results.csv"
    assert main(["compare", str(SCORES_CSV), "-o", str(out), "--measures", "TOI,BCS"]) == 0
    stdout = capsys.readouterr().out.splitlines()
    assert stdout[0] == f"compare: wrote 20 rows to {out}"  # as before the new files
    assert re.fullmatch(
        r"compare: wrote \d+ MMRM rows \(TOI, BCS\) to .*results\.mmrm\.csv", stdout[1]
    )
    assert stdout[2].endswith("time-to-deterioration rows to " + str(tmp_path / "results.ttd.csv"))
    sensitivity_csv = tmp_path / "results.sensitivity.csv"
    assert stdout[3] == f"compare: wrote 6 sensitivity-analysis rows (TOI) to {sensitivity_csv}"
    scores = read_table(SCORES_CSV)
    expected_mmrm = pd.concat(
        [mmrm(scores, measure=m).table() for m in ("TOI", "BCS")], ignore_index=True
    )
    written_mmrm = read_back(tmp_path / "results.mmrm.csv")
    assert list(written_mmrm.columns) == list(MMRM_COLUMNS)
    assert_same(written_mmrm, expected_mmrm)
    expected_ttd = pd.concat(
        [time_to_deterioration(scores, definition(m)).table() for m in ("TOI", "BCS")],
        ignore_index=True,
    )
    written_ttd = read_back(tmp_path / "results.ttd.csv")
    assert list(written_ttd.columns) == list(TTD_COLUMNS)
    assert_same(written_ttd, expected_ttd)
    assert (written_ttd["unit"] == "months").all()
    results = read_back(out)
    assert results["p_holm"].notna().any()  # the Holm column rides along in RESULTS
    fit = mmrm(scores, measure="TOI")
    assert fit.visits == ("week12", "month6")
    expected_sensitivity = pd.concat(
        [
            Sensitivity(mmrm=fit, tipping=tipping_point(scores, measure="TOI", visit=v)).table()
            for v in fit.visits  # month12 is not: an arm has one score there
        ],
        ignore_index=True,
    )
    imputed = expected_sensitivity["analysis"] != "MMRM"
    expected_sensitivity.loc[imputed, "note"] += (
        "; no death or off-study information: every participant with a baseline score is "
        "imputed at each visit"
    )
    written_sensitivity = read_back(tmp_path / "results.sensitivity.csv")
    assert list(written_sensitivity.columns) == list(SENSITIVITY_COLUMNS)
    assert_same(written_sensitivity, expected_sensitivity)


def test_no_mmrm_no_ttd_writes_only_results(tmp_path: Path) -> None:
    out = tmp_path / "results.csv"
    argv = ["compare", str(SCORES_CSV), "-o", str(out), "--no-mmrm", "--no-ttd"]
    assert main([*argv, "--no-sensitivity"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.csv"]


def test_chosen_paths_formats_and_definitions(tmp_path: Path) -> None:
    out = tmp_path / "results.parquet"
    argv = ["compare", str(SCORES_CSV), "-o", str(out), "--measures", "TOI"]
    argv += ["--mmrm-output", str(tmp_path / "m.csv"), "--ttd-output", str(tmp_path / "t.parquet")]
    argv += ["--ttd-confirmed", "--ttd-mid", "upper"]
    assert main(argv) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "m.csv",
        "results.parquet",
        "results.sensitivity.parquet",
        "t.parquet",
    ]
    ttd = pd.read_parquet(tmp_path / "t.parquet")
    assert (ttd["definition"] == "TOI decline >= 6, confirmed, death censored").all()


def test_visits_without_times_skip_ttd_with_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scores = read_table(SCORES_CSV)
    scores["visit"] = scores["visit"].map(
        {"baseline": "baseline", "week12": "visit2", "month6": "visit3", "month12": "visit4"}
    )
    src = tmp_path / "scores.csv"
    scores.to_csv(src, index=False)
    out = tmp_path / "results.csv"
    assert main(["compare", str(src), "-o", str(out), "--measures", "TOI"]) == 0
    err = capsys.readouterr().err
    assert "time to deterioration not computed: visit 'visit2' has no time in its label" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "results.csv",
        "results.mmrm.csv",
        "results.sensitivity.csv",  # needs no times: visits in order are enough
        "scores.csv",
    ]


def test_a_measure_the_mmrm_cannot_fit_is_reported_and_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = []
    for i in range(12):
        arm = "AB"[i % 2]
        rows.append((f"p{i}", arm, "baseline", 50.0 + i, 20.0 + i % 3))
        rows.append((f"p{i}", arm, "month6", 52.0 + i % 5, None if arm == "B" else 21.0))
    scores = pd.DataFrame(rows, columns=["participant_id", "arm", "visit", "TOI", "BCS"])
    src = tmp_path / "scores.csv"
    scores.to_csv(src, index=False)
    out = tmp_path / "results.csv"
    assert main(["compare", str(src), "-o", str(out), "--no-ttd"]) == 0
    captured = capsys.readouterr()
    assert "MMRM for BCS not fitted: no follow-up visit has at least 2 BCS changes" in captured.err
    assert "MMRM rows (TOI)" in captured.out
    assert set(read_back(tmp_path / "results.mmrm.csv")["measure"]) == {"TOI"}


def test_clashing_or_unwritable_extra_outputs_exit_2_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results.csv"
    assert main(["compare", str(SCORES_CSV), "-o", str(out), "--mmrm-output", str(out)]) == 2
    assert "must be different files" in capsys.readouterr().err
    missing = tmp_path / "nowhere" / "t.csv"
    assert main(["compare", str(SCORES_CSV), "-o", str(out), "--ttd-output", str(missing)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["compare", str(SCORES_CSV), "-o", str(out), "--mmrm-output", "m.txt"]) == 2
    assert "unsupported file type '.txt'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_sensitivity_analyses_of_a_chosen_measure_and_visit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results.csv"
    argv = ["compare", str(SCORES_CSV), "-o", str(out), "--no-mmrm", "--no-ttd"]
    argv += ["--sensitivity-measure", "BCS", "--sensitivity-visits", "month6,month99"]
    argv += ["--sensitivity-output", str(tmp_path / "s.parquet")]
    assert main(argv) == 0
    assert "sensitivity analyses for BCS at 'month99': no MMRM estimate there" in (
        capsys.readouterr().err
    )
    table = pd.read_parquet(tmp_path / "s.parquet")
    assert table["visit"].tolist() == ["month6"] * 3 and set(table["measure"]) == {"BCS"}
    assert table["analysis"].tolist() == [
        "MMRM",
        "multiple imputation, ANCOVA",
        "delta-adjusted MI, tipping point",
    ]
    # A measure that is not analysed: nothing written, a note says why.
    argv = ["compare", str(SCORES_CSV), "-o", str(out), "--no-mmrm", "--no-ttd"]
    assert main([*argv, "--measures", "BCS"]) == 0
    assert "sensitivity analyses skipped: TOI is not analysed" in capsys.readouterr().err
    assert not (tmp_path / "results.sensitivity.csv").exists()
