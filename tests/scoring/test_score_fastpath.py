"""``python -m scoring score``'s pandas-free path: same bytes, same errors, light imports."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring.cli import main
from scoring.facit import ScoringInputError, score_arrow, score_frame
from scoring.instruments import ALL_ITEM_CODES, ARM_ITEM_CODES, FACTB_ITEM_CODES, LR_ITEM_CODES
from scoring.io import read_csv_arrow, read_table, write_table

ROOT = Path(__file__).resolve().parents[2]

CELLS = ["0", "1", "2", "3", "4", "", "NA", " 3 ", "8", "9", "4.0", "2.", "09", "\t1"]
BAD = ["5", "-1", "2.5", "abc", "nan", "1e0", "3,0", "NA NA", "９"]
PASS_VALUES = ["007", "a, b", 'q"t', "line\nbreak", "", "ñandú", " x "]


def frame_path(src: Path, out: Path) -> str | None:
    """What the DataFrame path writes (None) or the error it raises (the message)."""
    df = read_table(src)
    try:
        scores = score_frame(df)
    except ScoringInputError as exc:
        return str(exc)
    items = set(ALL_ITEM_CODES)
    passthrough = df.loc[:, [c not in items for c in df.columns]]
    write_table(pd.concat([passthrough, scores], axis=1), out)
    return None


def write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[list[str]]]:
    items = list(FACTB_ITEM_CODES)
    if draw(st.booleans()):
        items += list(ARM_ITEM_CODES)
    items += draw(st.lists(st.sampled_from(LR_ITEM_CODES), unique=True, max_size=3))
    header = ["patient_id", *items, "note"]
    n = draw(st.integers(0, 12))
    pool = CELLS + (BAD if draw(st.integers(0, 3)) == 0 else [])
    long_cells = draw(st.booleans())  # otherwise every cell is one character (fast path)
    cell = st.sampled_from(pool if long_cells else [c for c in pool if len(c) <= 1])
    rows = [
        [
            draw(st.sampled_from(PASS_VALUES)),
            *(draw(cell) for _ in items),
            draw(st.text(max_size=4)),
        ]
        for _ in range(n)
    ]
    return header, rows


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(table=tables())
def test_the_arrow_path_writes_the_same_bytes_and_errors(
    tmp_path: Path, table: tuple[list[str], list[list[str]]]
) -> None:
    header, rows = table
    src = write(tmp_path / "in.csv", header, rows)
    want = tmp_path / "frame.csv"
    error = frame_path(src, want)
    arrow = read_csv_arrow(src)
    assert arrow is not None
    if error is not None:
        with pytest.raises(ScoringInputError) as exc:
            score_arrow(arrow)
        assert str(exc.value) == error
        return
    got = tmp_path / "arrow.csv"
    assert main(["score", str(src), "-o", str(got)]) == 0
    assert got.read_bytes() == want.read_bytes()


def test_a_large_file_written_in_slices_is_identical(tmp_path: Path) -> None:
    items = list(FACTB_ITEM_CODES)
    rows = [
        [f"P{i:05d}", *(CELLS[(i * 7 + j * 3) % 10] for j in range(len(items)))]
        for i in range(25_000)  # above the 20,000 rows where writing goes parallel
    ]
    src = write(tmp_path / "in.csv", ["patient_id", *items], rows)
    assert frame_path(src, tmp_path / "frame.csv") is None
    assert main(["score", str(src), "-o", str(tmp_path / "arrow.csv")]) == 0
    assert (tmp_path / "arrow.csv").read_bytes() == (tmp_path / "frame.csv").read_bytes()


def test_duplicate_pass_through_names_take_the_dataframe_path(tmp_path: Path) -> None:
    items = list(FACTB_ITEM_CODES)
    src = write(tmp_path / "in.csv", ["x", *items, "x"], [["a", *["2"] * len(items), "b"]])
    assert main(["score", str(src), "-o", str(tmp_path / "out.csv")]) == 0
    assert (tmp_path / "out.csv").read_bytes().startswith(b"x,x,PWB")  # pandas' writer, CRLF
    assert b"\r\n" in (tmp_path / "out.csv").read_bytes()


# ------------------------------------------------------------------ imports ----


def imported_modules(*argv: str, cwd: Path) -> set[str]:
    """Top-level packages imported by ``python -X importtime -m scoring ...``."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "scoring", *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*([\w.]+)$", proc.stderr, re.MULTILINE)
    assert names, "no -X importtime output"
    return {name.split(".")[0] for name in names}


def test_score_starts_without_scipy_statsmodels_or_pandas(tmp_path: Path) -> None:
    help_modules = imported_modules("score", "--help", cwd=tmp_path)
    items = list(FACTB_ITEM_CODES)
    src = write(tmp_path / "in.csv", ["id", *items], [["1", *["3"] * len(items)]])
    run_modules = imported_modules("score", str(src), "-o", str(tmp_path / "o.csv"), cwd=tmp_path)
    assert "numpy" in run_modules and "pyarrow" in run_modules  # the check sees imports
    for heavy in ("scipy", "statsmodels", "pandas"):
        assert heavy not in help_modules
        assert heavy not in run_modules
    # Parquet output goes through pandas, still without scipy or statsmodels
    pq_modules = imported_modules(
        "score", str(src), "-o", str(tmp_path / "o.parquet"), cwd=tmp_path
    )
    assert "pandas" in pq_modules
    assert "scipy" not in pq_modules and "statsmodels" not in pq_modules


def test_reading_is_the_same_table_either_way(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text('a,b\n007," x "\n,NA\n', encoding="utf-8")
    arrow = read_csv_arrow(src)
    assert arrow is not None
    frame = read_table(src)
    assert arrow.to_pydict() == {"a": ["007", None], "b": [" x ", "NA"]}
    assert frame["a"].tolist()[0] == "007" and pd.isna(frame["a"].tolist()[1])
    assert frame["b"].tolist() == [" x ", "NA"]
