"""Codebooks and file writers: CSV, Parquet, SAS transport (XPT v5), Stata, SPSS, Dataset-JSON.

Every writer takes the dataset's spec so the labels travel with the data:
as column labels in the XPT, Stata and SPSS files (with value labels from the
codelists), as field metadata in the Parquet schema, as column metadata in
Dataset-JSON, and in the codebook that goes with every export.

Every CSV the exports write (datasets, codebooks, manifests) goes through
:func:`write_csv_table`, and every text cell through :func:`csv_text_cell`,
so a cell-level rule (such as escaping text that a spreadsheet would run as a
formula) is applied in one place. Numeric cells stay numeric.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pyreadstat

from scoring.csvsafe import escape_arrow
from surveys.statistician.exports.cdisc import terms
from surveys.statistician.exports.cdisc.spec import METHODS
from surveys.statistician.exports.spec import DatasetSpec, Var

Format = Literal["csv", "parquet", "xpt", "dta", "sav"]
FORMATS: tuple[str, ...] = ("csv", "parquet", "xpt", "dta", "sav")
EXTENSIONS = {
    "csv": "csv",
    "parquet": "parquet",
    "xpt": "xpt",
    "dta": "dta",
    "sav": "sav",
    "zip": "zip",
    "xml": "xml",
}
CONTENT_TYPES = {
    "csv": "text/csv",
    "parquet": "application/vnd.apache.parquet",
    "xpt": "application/x-sas-xport",
    "dta": "application/x-stata-dta",
    "sav": "application/x-spss-sav",
    "zip": "application/zip",
    "xml": "application/xml",
    "json": "application/json",
    "sas": "text/plain",
    "r": "text/plain",
    "do": "text/plain",
}
CODEBOOK_COLUMNS = ("dataset", "variable", "label", "type", "allowed_values", "derivation")
SAS_EPOCH = dt.date(1960, 1, 1)
#: The pandas read_sas defect every export codebook states (pandas-dev/pandas#…: XPT
#: doubles whose exponent byte is 0, such as an exact 0, are read as 5.4e-79).
PANDAS_XPT_NOTE = (
    "Read XPT files with pyreadstat.read_xport (Python), haven::read_xpt (R) or SAS itself; "
    "pandas.read_sas(format='xport') reads an exact 0 as 5.4e-79 (a pandas bug), so compare "
    "with a tolerance or use pyreadstat."
)


def csv_text_cell(value: str) -> str:
    """The one place a text cell is prepared for CSV (identity: the spreadsheet-formula
    escaping is applied to the whole table in :func:`write_csv_table`)."""
    return value


def codelist_of(var: Var) -> terms.Codelist | None:
    """The static codelist a variable refers to (trial codelists are not static)."""
    for codelist in terms.STATIC_CODELISTS:
        if codelist.id == var.codelist:
            return codelist
    return None


def value_labels(spec: DatasetSpec, frame: pd.DataFrame) -> dict[str, dict[float, str]]:
    """Numeric variables with an integer codelist: value -> label (Stata, SPSS, programs)."""
    out: dict[str, dict[float, str]] = {}
    for name in frame.columns:
        var = spec.var(str(name))
        codelist = codelist_of(var)
        if var.type == "num" and codelist is not None and codelist.datatype == "integer":
            out[var.name] = {float(t.value): t.decode for t in codelist.terms}
    return out


ORIGIN_TEXT = {
    "Collected": "Collected on the form.",
    "Assigned": "Assigned by the sponsor (trial set-up).",
    "Protocol": "From the protocol (trial set-up).",
    "Derived": "Derived.",
}


def derivation_of(var: Var) -> str:
    """What the codebook says about where a variable comes from."""
    if var.derivation:
        return var.derivation
    if var.method in METHODS:
        return METHODS[var.method].description
    if var.predecessor:
        return f"Copied from {var.predecessor}."
    return ORIGIN_TEXT.get(var.origin, "")


def _date_array(column: pd.Series) -> pa.Array:
    values = [None if pd.isna(v) else v.date() for v in pd.to_datetime(column)]
    return pa.array(values, type=pa.date32())


def _to_arrow(
    frame: pd.DataFrame, spec: DatasetSpec | None, *, text_cells: bool = False
) -> pa.Table:
    fields, arrays = [], []
    for name in frame.columns:
        var = spec.var(str(name)) if spec is not None else None
        column = frame[name]
        if var is not None and var.date:
            array = _date_array(column)
        elif (var is not None and var.type == "char") or (var is None and column.dtype == object):
            text = column.to_numpy(dtype=object)
            if text_cells:
                text = np.array(
                    [None if v is None or v is pd.NA else csv_text_cell(str(v)) for v in text],
                    dtype=object,
                )
            array = pa.array(text, type=pa.string(), from_pandas=True)
        else:
            array = pa.Array.from_pandas(column)
        metadata = {"label": var.label} if var is not None else None
        fields.append(pa.field(str(name), array.type, metadata=metadata))
        arrays.append(array)
    metadata = None
    if spec is not None:
        metadata = {
            "dataset": spec.name,
            "label": spec.label,
            "codebook": json.dumps({v.name: v.label for v in spec.variables}),
        }
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=metadata))


def write_csv_table(
    frame: pd.DataFrame, target: Path | str | IO[bytes], spec: DatasetSpec | None = None
) -> None:
    """The one CSV writer: UTF-8 with a header, blank for missing, doubles that round-trip,
    dates as ISO 8601, every text cell through :func:`csv_text_cell`; text cells a
    spreadsheet would run as a formula get a leading apostrophe (:mod:`scoring.csvsafe`),
    numeric columns stay numbers."""
    table = escape_arrow(_to_arrow(frame, spec, text_cells=True))
    pacsv.write_csv(
        table,
        str(target) if isinstance(target, Path | str) else target,
        write_options=pacsv.WriteOptions(include_header=True, quoting_style="needed"),
    )


def write_csv(frame: pd.DataFrame, path: Path, spec: DatasetSpec) -> None:
    write_csv_table(frame, path, spec)


def write_parquet(frame: pd.DataFrame, path: Path, spec: DatasetSpec) -> None:
    pq.write_table(_to_arrow(frame, spec), str(path), compression="zstd")


def sas_days(column: pd.Series) -> np.ndarray:
    """Dates as SAS date values (days since 1960-01-01), NaN when missing."""
    stamps = pd.to_datetime(column)
    days = (stamps - pd.Timestamp(SAS_EPOCH)).dt.days.astype("float64")
    return days.to_numpy(na_value=np.nan)


def _numeric_frame(frame: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    """Text as str ('' for missing), numbers as float64 (NaN for missing), dates as SAS days."""
    out = pd.DataFrame(index=frame.index)
    for name in frame.columns:
        var = spec.var(str(name))
        if var.type == "char":
            out[name] = frame[name].astype(object).where(frame[name].notna(), "").map(str)
        elif var.date:
            out[name] = sas_days(frame[name])
        else:
            out[name] = pd.to_numeric(frame[name]).astype("float64").to_numpy(na_value=np.nan)
    return out


def write_xpt(frame: pd.DataFrame, path: Path, spec: DatasetSpec) -> None:
    """SAS transport v5: names <= 8, labels <= 40, numbers as doubles, text <= 200 bytes."""
    out = _numeric_frame(frame, spec)
    too_long = [
        name
        for name in out.columns
        if spec.var(name).type == "char"
        and len(out)
        and out[name].map(lambda v: len(v.encode())).max() > 200
    ]
    if too_long:
        raise ValueError(f"text longer than 200 bytes in {', '.join(too_long)}")
    pyreadstat.write_xport(
        out,
        str(path),
        file_label=spec.label,
        column_labels=[spec.var(str(n)).label for n in frame.columns],
        table_name=spec.name,
        file_format_version=5,
        variable_format={v.name: "DATE9." for v in spec.variables if v.date and v.name in out},
    )


def _labelled_frame(frame: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    out = pd.DataFrame(index=frame.index)
    for name in frame.columns:
        var = spec.var(str(name))
        if var.type == "char":
            out[name] = frame[name].astype(object).where(frame[name].notna(), "").map(str)
        elif var.date:
            out[name] = pd.to_datetime(frame[name]).astype("datetime64[ns]")
        else:
            out[name] = pd.to_numeric(frame[name]).astype("float64").to_numpy(na_value=np.nan)
    return out


def write_dta(frame: pd.DataFrame, path: Path, spec: DatasetSpec) -> None:
    """Stata 15 .dta with variable labels and value labels."""
    pyreadstat.write_dta(
        _labelled_frame(frame, spec),
        str(path),
        file_label=spec.label,
        column_labels=[spec.var(str(n)).label for n in frame.columns],
        variable_value_labels=value_labels(spec, frame),
        version=15,
    )


def write_sav(frame: pd.DataFrame, path: Path, spec: DatasetSpec) -> None:
    """SPSS .sav with variable labels and value labels."""
    pyreadstat.write_sav(
        _labelled_frame(frame, spec),
        str(path),
        file_label=spec.label,
        column_labels=[spec.var(str(n)).label for n in frame.columns],
        variable_value_labels=value_labels(spec, frame),
    )


WRITERS = {
    "csv": write_csv,
    "parquet": write_parquet,
    "xpt": write_xpt,
    "dta": write_dta,
    "sav": write_sav,
}


def write_codebook(book: pd.DataFrame, path: Path | str) -> None:
    write_csv_table(book, Path(path))


def write_json(data: Mapping[str, Any], path: Path | str) -> None:
    Path(path).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
