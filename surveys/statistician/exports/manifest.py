"""The manifest that goes with every export: each file, its rows and SHA-256, and the context.

One row per file: name, rows, bytes, SHA-256, then the data cut-off, the
software and scoring versions, the filters (as JSON) and when it was made (the same on
every row, so the CSV stands on its own when it is read into a table).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd

from scoring.facit import SCORING_VERSION
from surveys.statistician.exports.filters import ExportFilters
from surveys.statistician.exports.writers import write_csv_table

MANIFEST_NAME = "manifest.csv"
MANIFEST_COLUMNS = (
    "file",
    "rows",
    "bytes",
    "sha256",
    "data_cutoff",
    "software_version",
    "scoring_version",
    "filters",
    "created_at",
)


def software_version() -> str:
    try:
        return f"ecogprom {version('ecogprom')}"
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "ecogprom (source tree)"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest(
    root: Path,
    files: Iterable[tuple[Path, int | None]],
    filters: ExportFilters,
    created: dt.datetime,
) -> pd.DataFrame:
    """One row per (file, rows); file names relative to *root*, with '/' separators."""
    rows = []
    for path, count in files:
        rows.append(
            {
                "file": path.relative_to(root).as_posix(),
                "rows": count,
                "bytes": path.stat().st_size,
                "sha256": sha256(path),
                "data_cutoff": filters.cutoff.isoformat() if filters.cutoff else "",
                "software_version": software_version(),
                "scoring_version": SCORING_VERSION,
                "filters": json.dumps(filters.as_dict(), sort_keys=True),
                "created_at": created.replace(microsecond=0).isoformat(),
            }
        )
    frame = pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS))
    frame["rows"] = frame["rows"].astype("Int64")
    frame["bytes"] = frame["bytes"].astype("int64")
    return frame


def write_manifest(frame: pd.DataFrame, path: Path) -> None:
    write_csv_table(frame, path)
