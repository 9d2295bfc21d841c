"""Reading and writing score tables by file extension (CSV or Parquet).

Kept separate from the scoring rules so the command line, notebooks and the
Django app read files the same way and report the same errors.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

SUPPORTED_SUFFIXES = (".csv", ".parquet", ".pq")


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


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file into a DataFrame.

    CSV cells are read as strings with blanks as missing so that the caller,
    not pandas' type guessing, decides what a value means (a stray ``"2.5"``
    or ``"abc"`` must be reported, never silently coerced).
    """
    fmt = table_format(path)
    try:
        if fmt == "csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        return pd.read_parquet(path)
    except FileNotFoundError as exc:
        raise TableReadError(f"{path}: no such file") from exc
    except Exception as exc:  # pandas/pyarrow raise many types for unreadable files
        raise TableReadError(f"{path}: cannot be read as {fmt}: {exc}") from exc


def write_table(df: pd.DataFrame, path: str | Path) -> None:
    """Write *df* as CSV or Parquet by extension, floats at full precision."""
    fmt = table_format(path)
    if fmt == "csv":
        # repr-precision floats: pandas writes the shortest round-tripping form.
        df.to_csv(path, index=False)
    else:
        df.to_parquet(path, index=False)
