"""Formula escaping on Arrow tables and DataFrames: text cells only, every string type."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from scoring.csvsafe import escape_arrow, escape_cell, escape_frame, escape_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("E2108-0001", "E2108-0001"),
        ("", ""),
        ("a=b", "a=b"),
    ],
)
def test_text_that_a_spreadsheet_would_run_gets_an_apostrophe(text, expected):
    assert escape_text(text) == expected


def test_non_text_cells_are_left_alone():
    assert escape_cell(-3.5) == -3.5
    assert escape_cell(None) is None


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
def test_arrow_text_columns_are_escaped_and_numbers_kept(kind):
    table = pa.table(
        {
            "id": pa.array(["=x", "ok", None, "-2"], type=kind),
            "chg": pa.array([-3.5, 1.0, None, -2.0]),
            "cat": pa.array(["@a", "b", "@a", None]).dictionary_encode(),
        }
    )
    out = escape_arrow(table)
    assert out.column("id").to_pylist() == ["'=x", "ok", None, "'-2"]
    assert out.column("chg").to_pylist() == [-3.5, 1.0, None, -2.0]
    assert out.column("cat").to_pylist() == ["'@a", "b", "'@a", None]
    assert out.schema == table.schema


def test_a_table_without_formulas_is_returned_as_it_is():
    table = pa.table({"id": ["a", "b"], "n": [-1, 2]})
    assert escape_arrow(table) is table
    frame = pd.DataFrame({"id": ["a", "b"], "n": [-1, 2]})
    assert escape_frame(frame) is frame


def test_frames_escape_object_and_string_columns_only():
    frame = pd.DataFrame(
        {
            "id": ["=x", "ok"],
            "s": pd.array(["+y", None], dtype="string"),
            "n": [-1.5, 2.0],
        }
    )
    out = escape_frame(frame)
    assert out["id"].tolist() == ["'=x", "ok"]
    assert out["s"].tolist()[0] == "'+y"
    assert out["n"].tolist() == [-1.5, 2.0]
    assert frame["id"].tolist() == ["=x", "ok"]  # the caller's frame is not changed


def test_frames_with_repeated_column_names_are_escaped_column_by_column():
    frame = pd.DataFrame([["=a", "ok", "+b"]], columns=["id", "id", "x"])
    out = escape_frame(frame)
    assert out.iloc[0].tolist() == ["'=a", "ok", "'+b"]
    assert list(out.columns) == ["id", "id", "x"]
