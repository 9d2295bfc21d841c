"""Reading and writing score tables by file extension (CSV or Parquet).

Kept separate from the scoring rules so the command line, notebooks and the
Django app read files the same way and report the same errors.

CSV goes through Apache Arrow's reader and writer (multi-threaded C++): the
pandas C parser with ``dtype=str`` plus ``to_csv`` take about 2 s for a
200,000-row file, Arrow about 0.15 s. Every CSV column is still read as text.
:func:`read_csv_arrow` and :func:`write_csv_arrow` work on Arrow tables
without pandas (the scoring command line uses them so that it starts
quickly); :func:`read_table` and :func:`write_table` are the DataFrame
versions, reading and writing exactly the same bytes. pandas is imported by
the functions that need it, not by this module.
"""

from __future__ import annotations

import csv
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scoring.csvsafe import escape_arrow, escape_frame

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa


class TableReadError(Exception):
    """A table that is not CSV/Parquet, or that cannot be read."""


def table_format(path: str | Path) -> str:
    """Return ``"csv"`` or ``"parquet"`` for *path*, or raise TableReadError."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise TableReadError(
        f"{path}: unsupported file type {suffix or '(none)'!r}; use .csv or .parquet"
    )


def _csv_header(path: str | Path) -> list[str]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        header = next(csv.reader(fh), None)
    if header is None:
        raise TableReadError(f"{path}: empty file (no header row)")
    return header


def _arrow_csv(path: str | Path) -> pa.Table | None:
    """Every column as Arrow ``large_string``, blank cells null; None if the header
    parsed differently from Python's csv module (then the pandas parser reads it)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    header = _csv_header(path)
    text = pa.large_string()  # what pandas' string[pyarrow] holds: no conversion copy
    table = pacsv.read_csv(
        path,
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(header, text),
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )
    if not all(f.type == text for f in table.schema):
        return None
    return table


def frame_from_arrow(table: pa.Table) -> pd.DataFrame:
    """The DataFrame :func:`read_table` gives for a CSV that :func:`read_csv_arrow` read."""
    import pandas as pd
    import pyarrow as pa

    string = pd.StringDtype("pyarrow")
    text = pa.large_string()
    frame: pd.DataFrame = table.to_pandas(types_mapper=lambda t: string if t == text else None)
    return frame


def _read_csv(path: str | Path) -> pd.DataFrame:
    """Every column as text (pandas ``string[pyarrow]``), blank cells as NA.

    Type guessing is off (``column_types`` forces text) so that the caller
    decides what a value means: ``"007"`` stays ``"007"`` and a stray
    ``"2.5"`` or ``"abc"`` in an item column is reported, never coerced.
    """
    table = _arrow_csv(path)
    if table is None:
        # The header parsed differently from Python's csv module: read again
        # with the pandas parser, still as text, rather than let Arrow guess types.
        import pandas as pd

        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    return frame_from_arrow(table)


def _reading(path: str | Path, fmt: str, read: Any) -> Any:
    """Run ``read()``, turning every failure into a TableReadError with the reason."""
    try:
        return read()
    except TableReadError:
        raise
    except FileNotFoundError as exc:
        raise TableReadError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise TableReadError(f"{path}: is a directory") from exc
    except UnicodeDecodeError as exc:
        raise TableReadError(f"{path}: cannot be read as {fmt}: not UTF-8 text ({exc})") from exc
    except Exception as exc:  # pandas/pyarrow raise many types for unreadable files
        raise TableReadError(f"{path}: cannot be read as {fmt}: {exc}") from exc


def read_csv_arrow(path: str | Path) -> pa.Table | None:
    """A CSV file as an Arrow table of text columns, without pandas.

    Reads exactly what :func:`read_table` reads (and raises the same
    TableReadError messages); returns None for the rare file whose header
    Arrow parses differently from Python's csv module, which
    :func:`read_table` then reads with pandas' parser.
    """
    table_format(path)
    result: pa.Table | None = _reading(path, "csv", lambda: _arrow_csv(path))
    return result


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file into a DataFrame.

    CSV cells are read as strings (pandas ``string[pyarrow]`` dtype) with
    blanks as missing so that the caller, not pandas' type guessing, decides
    what a value means (a stray ``"2.5"`` or ``"abc"`` must be reported, never
    silently coerced).
    """
    fmt = table_format(path)
    if fmt == "csv":
        frame: pd.DataFrame = _reading(path, fmt, lambda: _read_csv(path))
        return frame

    def parquet() -> pd.DataFrame:
        import pandas as pd

        return pd.read_parquet(path)

    result: pd.DataFrame = _reading(path, fmt, parquet)
    return result


_PARALLEL_WRITE_ROWS = 20_000


def _csv_bytes(table: Any, header: bool) -> Any:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, write_options=pacsv.WriteOptions(include_header=header))
    return sink.getvalue()


def _csv_parts(table: pa.Table) -> list[Any]:
    """The CSV text of ``table`` (formulas escaped) in row slices formatted on up to 4 threads."""
    table = escape_arrow(table)
    workers = min(4, os.cpu_count() or 1)
    if table.num_rows < _PARALLEL_WRITE_ROWS or workers == 1:
        return [_csv_bytes(table, True)]
    step = -(-table.num_rows // workers)
    slices = [table.slice(i * step, step) for i in range(workers)]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(_csv_bytes, slices, [i == 0 for i in range(workers)]))


def _write_parts(parts: list[Any], path: str | Path) -> None:
    with open(path, "wb") as fh:
        for part in parts:
            fh.write(part)


def write_csv_arrow(table: pa.Table, path: str | Path) -> None:
    """Arrow's CSV writer: doubles in their shortest round-tripping form, nulls blank.

    Formatting doubles is the slow part, so large tables are formatted in row
    slices on up to 4 threads (Arrow releases the GIL) and written in order.
    The bytes are those :func:`write_table` writes for the same data as a
    DataFrame whose columns Arrow can convert.
    """
    _write_parts(_csv_parts(table), path)


def _write_csv(df: pd.DataFrame, path: str | Path) -> None:
    """:func:`write_csv_arrow` on the DataFrame, or pandas' writer when Arrow cannot take it."""
    import pyarrow as pa

    try:
        parts = _csv_parts(pa.Table.from_pandas(df, preserve_index=False))
    except (ValueError, TypeError, NotImplementedError):  # incl. the Arrow errors
        # Columns Arrow cannot convert or write (mixed-type objects, duplicate names...).
        # CRLF so that a lone CR inside a value is quoted, not read as a row break.
        escape_frame(df).to_csv(path, index=False, lineterminator="\r\n")
        return
    _write_parts(parts, path)


def write_table(df: pd.DataFrame, path: str | Path) -> None:
    """Write *df* as CSV or Parquet by extension, floats at full precision."""
    fmt = table_format(path)
    if fmt == "csv":
        _write_csv(df, path)
    else:
        df.to_parquet(path, index=False)
