"""Codebooks and file writers: CSV, Parquet and SAS transport (XPT v5).

Every writer takes the dataset's spec so the labels travel with the data:
as column labels in the XPT file, as field metadata in the Parquet schema,
and in the codebook CSV that goes with every export.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pyreadstat

from scoring.csvsafe import escape_arrow, escape_frame
from surveys.statistician.exports.kinds import export_kind
from surveys.statistician.exports.spec import Context, DatasetSpec

Format = Literal["csv", "parquet", "xpt"]
FORMATS: tuple[str, ...] = ("csv", "parquet", "xpt")
EXTENSIONS = {"csv": "csv", "parquet": "parquet", "xpt": "xpt"}
CONTENT_TYPES = {
    "csv": "text/csv",
    "parquet": "application/vnd.apache.parquet",
    "xpt": "application/x-sas-xport",
}
CODEBOOK_COLUMNS = ("dataset", "variable", "label", "type", "allowed_values", "derivation")


def codebook(kind: str, frame: pd.DataFrame, context: Context | None = None) -> pd.DataFrame:
    """The data dictionary of *frame*: one row per column, in column order."""
    spec = export_kind(kind).spec
    context = context or Context()
    rows = []
    for name in frame.columns:
        var = spec.var(str(name))
        rows.append(
            {
                "dataset": spec.name,
                "variable": var.name,
                "label": var.label,
                "type": var.type,
                "allowed_values": context.fill(var.allowed),
                "derivation": var.derivation,
            }
        )
    return pd.DataFrame(rows, columns=list(CODEBOOK_COLUMNS))


def _to_arrow(frame: pd.DataFrame, spec: DatasetSpec) -> pa.Table:
    fields, arrays = [], []
    for name in frame.columns:
        var = spec.var(str(name))
        column = frame[name]
        if var.type == "char":
            array = pa.array(column.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
        else:
            array = pa.Array.from_pandas(column)
        fields.append(pa.field(str(name), array.type, metadata={"label": var.label}))
        arrays.append(array)
    schema = pa.schema(
        fields,
        metadata={
            "dataset": spec.name,
            "label": spec.label,
            "codebook": json.dumps({v.name: v.label for v in spec.variables}),
        },
    )
    return pa.Table.from_arrays(arrays, schema=schema)


def write_csv(frame: pd.DataFrame, path: Path, spec: DatasetSpec) -> None:
    """UTF-8 CSV with a header; blanks for missing values; doubles round-trip exactly.

    Text cells a spreadsheet would run as a formula get a leading apostrophe
    (:mod:`scoring.csvsafe`); numeric columns are written as numbers.
    """
    table = escape_arrow(_to_arrow(frame, spec))
    pacsv.write_csv(
        table,
        str(path),
        write_options=pacsv.WriteOptions(include_header=True, quoting_style="needed"),
    )


def write_parquet(frame: pd.DataFrame, path: Path, spec: DatasetSpec) -> None:
    pq.write_table(_to_arrow(frame, spec), str(path), compression="zstd")


def write_xpt(frame: pd.DataFrame, path: Path, spec: DatasetSpec) -> None:
    """SAS transport v5: names <= 8, labels <= 40, numbers as doubles, text <= 200 bytes."""
    out = pd.DataFrame(index=frame.index)
    for name in frame.columns:
        var = spec.var(str(name))
        if var.type == "char":
            text = frame[name].astype(object).where(frame[name].notna(), "")
            out[name] = text.map(str)
        else:
            out[name] = pd.to_numeric(frame[name]).astype("float64").to_numpy(na_value=np.nan)
    too_long = [
        name
        for name in out.columns
        if spec.var(name).type == "char" and len(out) and out[name].str.len().max() > 200
    ]
    if too_long:
        raise ValueError(f"text longer than 200 characters in {', '.join(too_long)}")
    pyreadstat.write_xport(
        out,
        str(path),
        file_label=spec.label,
        column_labels=[spec.var(str(n)).label for n in frame.columns],
        table_name=spec.name,
        file_format_version=5,
    )


def write_dataset(frame: pd.DataFrame, fmt: str, path: Path | str, *, kind: str) -> None:
    """Write *frame* (a dataset of *kind*) as *fmt* to *path*."""
    spec = export_kind(kind).spec
    path = Path(path)
    if fmt == "csv":
        write_csv(frame, path, spec)
    elif fmt == "parquet":
        write_parquet(frame, path, spec)
    elif fmt == "xpt":
        write_xpt(frame, path, spec)
    else:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def write_codebook(book: pd.DataFrame, path: Path | str) -> None:
    escape_frame(book).to_csv(path, index=False)
