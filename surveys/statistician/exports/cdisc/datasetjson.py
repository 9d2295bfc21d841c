"""Dataset-JSON 1.1 copies of the package's datasets (built and checked with odmlib).

Numbers are JSON numbers (integers where the variable holds only whole
numbers), missing values ``null``, text as text ("" stays ""), and ADaM
numeric dates ISO 8601 strings with ``targetDataType: integer`` as the
standard asks. :func:`read_dataset_json` turns a file back into the frame
the XPT and CSV copies hold, for the self-check's cell-by-cell comparison.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from odmlib.dataset_json_1_1.model import DatasetJSON

from surveys.statistician.exports.cdisc import terms
from surveys.statistician.exports.cdisc.metadata import resolve
from surveys.statistician.exports.spec import DatasetSpec


def item_oid(spec: DatasetSpec, name: str) -> str:
    return f"IT.{spec.name}.{name}"


def _cell(value: Any, json_type: str) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if json_type == "string":
        return str(value)
    if json_type in ("date", "datetime"):
        if isinstance(value, str):
            return value or None
        return pd.Timestamp(value).date().isoformat()
    number = float(value)
    if np.isnan(number):
        return None
    return int(number) if json_type == "integer" else number


def dataset_json(
    frame: pd.DataFrame,
    spec: DatasetSpec,
    *,
    study_oid: str,
    mdv_oid: str,
    created: dt.datetime,
    software: str,
) -> dict[str, Any]:
    """The Dataset-JSON 1.1 document of *frame* (validated by odmlib's model)."""
    columns = []
    resolved = resolve(spec, frame)
    for r in resolved:
        column: dict[str, Any] = {
            "itemOID": item_oid(spec, r.var.name),
            "name": r.var.name,
            "label": r.var.label,
            "dataType": r.json_type,
        }
        if r.var.date:
            column["targetDataType"] = "integer"
            column["displayFormat"] = "DATE9."
        if r.length:
            column["length"] = r.length
        if r.var.key:
            column["keySequence"] = r.var.key
        columns.append(column)
    types = [r.json_type for r in resolved]
    data = frame.astype(object).to_numpy()
    rows = [[_cell(v, t) for v, t in zip(row, types, strict=True)] for row in data]
    document = {
        "datasetJSONCreationDateTime": created.replace(microsecond=0).isoformat(),
        "datasetJSONVersion": terms.DATASET_JSON_VERSION,
        "fileOID": f"{study_oid}.{spec.name}",
        "originator": "ecogprom",
        "sourceSystem": {"name": "ecogprom", "version": software},
        "studyOID": study_oid,
        "metaDataVersionOID": mdv_oid,
        "metaDataRef": "define.xml",
        "itemGroupOID": f"IG.{spec.name}",
        "records": len(rows),
        "name": spec.name,
        "label": spec.label,
        "columns": columns,
        "rows": rows,
    }
    DatasetJSON.from_dict(document)  # odmlib checks names, types and the column metadata
    return document


def write_dataset_json(document: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(document, ensure_ascii=False, allow_nan=False), encoding="utf-8")


def read_dataset_json(path: Path) -> tuple[dict[str, Any], pd.DataFrame]:
    """The document and its rows as a frame (dates as datetime64, missing text as "")."""
    document = json.loads(path.read_text(encoding="utf-8"))
    DatasetJSON.from_dict(document)
    names = [c["name"] for c in document["columns"]]
    frame = pd.DataFrame(document.get("rows", []), columns=names)
    for column in document["columns"]:
        name, kind = column["name"], column["dataType"]
        if kind == "string":
            frame[name] = frame[name].fillna("").astype(object)
        elif column.get("targetDataType") == "integer" and kind == "date":
            frame[name] = pd.to_datetime(frame[name])
        elif kind in ("integer", "double", "float", "decimal"):
            frame[name] = pd.to_numeric(frame[name]).astype("float64")
        else:
            frame[name] = frame[name].fillna("").astype(object)
    return document, frame
