"""Codebooks and files of a dataset export kind (the kind's spec, through :mod:`kinds`).

Kept apart from :mod:`~surveys.statistician.exports.writers`, which writes any
frame by its spec and is used by the CDISC package that :mod:`kinds` lists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from surveys.statistician.exports.kinds import export_kind
from surveys.statistician.exports.spec import Context
from surveys.statistician.exports.writers import (
    CODEBOOK_COLUMNS,
    FORMATS,
    PANDAS_XPT_NOTE,
    WRITERS,
    codelist_of,
    derivation_of,
)


def codebook(kind: str, frame: pd.DataFrame, context: Context | None = None) -> pd.DataFrame:
    """The data dictionary of *frame*: one row per column, in column order."""
    spec = export_kind(kind).dataset_spec()
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
                "derivation": derivation_of(var),
            }
        )
    return pd.DataFrame(rows, columns=list(CODEBOOK_COLUMNS))


def codebook_json(kind: str, frame: pd.DataFrame, context: Context | None = None) -> dict[str, Any]:
    """The codebook as JSON: variables with their codelist, and the codelists themselves."""
    spec = export_kind(kind).dataset_spec()
    book = codebook(kind, frame, context)
    codelists: dict[str, Any] = {}
    variables = []
    for row in book.to_dict("records"):
        var = spec.var(str(row["variable"]))
        entry = dict(row)
        codelist = codelist_of(var)
        if codelist is not None:
            entry["codelist"] = codelist.id
            codelists[codelist.id] = {
                "name": codelist.name,
                "datatype": codelist.datatype,
                "nci_code": codelist.ccode or None,
                "sponsor_defined": codelist.sponsor_defined,
                "terms": [
                    {
                        "value": int(t.value) if codelist.datatype == "integer" else t.value,
                        "label": t.decode or t.value,
                        "nci_code": t.ccode or None,
                    }
                    for t in codelist.terms
                ],
            }
        variables.append(entry)
    return {
        "dataset": spec.name,
        "label": spec.label,
        "description": spec.description,
        "variables": variables,
        "codelists": codelists,
        "notes": [PANDAS_XPT_NOTE],
    }


def write_dataset(frame: pd.DataFrame, fmt: str, path: Path | str, *, kind: str) -> None:
    """Write *frame* (a dataset of *kind*) as *fmt* to *path*."""
    spec = export_kind(kind).dataset_spec()
    if fmt not in WRITERS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    WRITERS[fmt](frame, Path(path), spec)
