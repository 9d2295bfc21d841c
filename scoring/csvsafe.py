"""Spreadsheet formula escaping for every CSV the project writes (OWASP "CSV injection").

A text cell that begins with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage
return, which spreadsheets skip before looking for one) is a formula to Excel
and LibreOffice: a study id such as ``=HYPERLINK("http://…")`` would run when
the file is opened. Such cells are written with a leading apostrophe
(``'=HYPERLINK(…)``), which spreadsheets take as "this is text".

Only text columns are touched: numbers stay numbers (a change from baseline of
``-3.5`` is written as ``-3.5``). Reading the file back, pandas, R and SAS keep
the apostrophe as part of the text; ``s.str.removeprefix("'")`` (pandas) or
``sub("^'", "", x)`` (R) undoes it. Identifiers and labels the system itself
makes never begin with these characters, so in practice only hostile or
mistyped text is changed.

Pure Python with pandas/pyarrow imported lazily (the scoring CLI starts fast).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_REGEX = "^[=+\\-@\t\r]"


def escape_text(value: str) -> str:
    """*value* with a leading apostrophe when a spreadsheet would take it for a formula."""
    return "'" + value if value.startswith(FORMULA_START) else value


def escape_cell(value: Any) -> Any:
    """:func:`escape_text` for strings; any other value (numbers, None) unchanged."""
    return escape_text(value) if isinstance(value, str) else value


def _escape_strings(array: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(array.type):
        if isinstance(array, pa.ChunkedArray):
            return pa.chunked_array([_escape_strings(c) for c in array.chunks], type=array.type)
        return pa.DictionaryArray.from_arrays(array.indices, _escape_strings(array.dictionary))
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return array
    mask = pc.match_substring_regex(array, _FORMULA_REGEX)
    if not pc.any(mask).as_py():
        return array
    quote, nothing = pa.scalar("'", type=array.type), pa.scalar("", type=array.type)
    return pc.if_else(mask, pc.binary_join_element_wise(quote, array, nothing), array)


def escape_arrow(table: pa.Table) -> pa.Table:
    """*table* with every text column escaped; other columns untouched (no copy if none)."""
    for index in range(table.num_columns):
        column = table.column(index)
        escaped = _escape_strings(column)
        if escaped is not column:
            table = table.set_column(index, table.schema.field(index), escaped)
    return table


def escape_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """*frame* with every text cell escaped (object and string columns); numbers untouched."""
    import pandas as pd

    out = frame
    for position in range(frame.shape[1]):  # by position: column names may repeat
        column = frame.iloc[:, position]
        if not (pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column)):
            continue
        if any(isinstance(v, str) and v.startswith(FORMULA_START) for v in column):
            if out is frame:
                out = frame.copy()
            out.isetitem(position, column.map(escape_cell).to_numpy(dtype=object))
    return out


#: A cell this module escaped: an apostrophe, then what a spreadsheet takes for a formula.
ESCAPED_REGEX = "^'(?=[=+\\-@\t\r])"


def unescape_frame(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """The text columns *columns* of a CSV this module wrote, as they were before escaping.

    Only the apostrophe :func:`escape_text` added is removed (one that precedes
    ``= + - @``, tab or carriage return); any other leading apostrophe is data.
    """
    out = frame.copy()
    for name in columns:
        if name in out.columns:
            out[name] = out[name].str.replace(ESCAPED_REGEX, "", regex=True)
    return out
