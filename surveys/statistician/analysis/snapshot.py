"""Frozen snapshots of the scored data: what an analysis run analysed, byte for byte.

A snapshot is the scored wide export reduced to the columns the statistics
use, named as ``scoring.compare`` expects (``participant_id``, ``arm``,
``visit``, then the score columns), sorted by visit and study id, written
as Parquet (doubles stored exactly) and identified by the SHA-256 of the
file. A re-run reads the file back and checks the hash before using it.
"""

from __future__ import annotations

import hashlib
import io

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from scoring.instruments import LR_ITEM_CODES
from surveys.models import SCORE_CODES
from surveys.statistician.exports.datasets import scored_wide
from surveys.statistician.exports.filters import ExportFilters

KEY_COLUMNS = {
    "SUBJID": "participant_id",
    "ARMCD": "arm",
    "VISITCD": "visit",
    "VISITNUM": "visit_number",
    "SITEID": "site",
}
FORMAT_TAG = b"ecogprom analysis snapshot 1"


class SnapshotMismatch(Exception):
    """The stored snapshot file is not the one the run recorded (hash differs)."""


def freeze(filters: ExportFilters) -> pd.DataFrame:
    """The scored data the filters select, as a snapshot table."""
    wide = scored_wide(filters)
    scores = [c for c in (*SCORE_CODES, *LR_ITEM_CODES) if c in wide.columns]
    frame = wide[[*KEY_COLUMNS, *scores]].rename(columns=KEY_COLUMNS)
    frame["visit_number"] = frame["visit_number"].astype("int64")
    return frame.sort_values(["visit_number", "participant_id"], kind="stable").reset_index(
        drop=True
    )


def to_bytes(frame: pd.DataFrame) -> bytes:
    """Parquet bytes; the same table always gives the same bytes (same library versions)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({b"ecogprom": FORMAT_TAG})
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="snappy")
    return sink.getvalue()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def from_bytes(data: bytes, expected_hash: str | None = None) -> pd.DataFrame:
    if expected_hash is not None and digest(data) != expected_hash:
        raise SnapshotMismatch(
            f"snapshot file hash {digest(data)[:12]}... differs from the recorded "
            f"{expected_hash[:12]}...; the file was changed or replaced"
        )
    return pq.read_table(io.BytesIO(data)).to_pandas()
