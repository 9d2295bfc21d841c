"""Each variable's resolved metadata (data type and length) for define.xml and Dataset-JSON.

The spec says what a variable is; the data say how long its values are and
whether a numeric variable holds only whole numbers. Both define.xml and
the Dataset-JSON files read the same :class:`Resolved`, so they agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from surveys.statistician.exports.spec import DatasetSpec, Var

ISO_DATETIME = ("DTC",)


@dataclass(frozen=True)
class Resolved:
    var: Var
    datatype: str  # define.xml: text, integer, float, date, datetime
    json_type: str  # Dataset-JSON: string, integer, double, date, datetime
    length: int | None
    significant_digits: int | None = None
    display_format: str = ""


def _text_length(column: pd.Series) -> int:
    if not len(column):
        return 1
    return max(1, int(column.fillna("").astype(str).map(len).max()))


def resolve(spec: DatasetSpec, frame: pd.DataFrame) -> list[Resolved]:
    out = []
    for name in frame.columns:
        var = spec.var(str(name))
        column = frame[name]
        if var.date:
            out.append(Resolved(var, "integer", "date", None, display_format="DATE9."))
        elif var.type == "char":
            if var.name.endswith(ISO_DATETIME):
                values = column.fillna("").astype(str)
                timed = bool(values.str.contains("T").any())
                out.append(
                    Resolved(
                        var,
                        "datetime" if timed else "date",
                        "datetime" if timed else "date",
                        None,
                    )
                )
            else:
                length = max(var.length or 0, _text_length(column))
                out.append(Resolved(var, "text", "string", length))
        else:
            numbers = pd.to_numeric(column).astype("float64").to_numpy(na_value=np.nan)
            present = numbers[~np.isnan(numbers)]
            if not len(present) or np.all(np.equal(np.mod(present, 1), 0)):
                digits = len(str(int(np.abs(present).max()))) if len(present) else 1
                negative = int(bool(len(present) and present.min() < 0))
                out.append(Resolved(var, "integer", "integer", digits + negative))
            else:
                out.append(Resolved(var, "float", "double", 12, significant_digits=4))
    return out
