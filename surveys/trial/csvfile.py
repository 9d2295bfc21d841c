"""CSV files staff download (compliance table, audit log): one writer, every cell escaped.

Every CSV the coordinator's pages produce goes through :func:`csv_cell` and
:func:`csv_writer`, so a cell a spreadsheet would run as a formula (text
typed by a user that begins with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return) is written with a leading apostrophe and read as text.
Numbers are written as they are.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from scoring.csvsafe import escape_cell


def csv_cell(value: Any) -> Any:
    """*value* made safe for a spreadsheet (:func:`scoring.csvsafe.escape_cell`: text that
    starts like a formula gets a leading '); None is an empty cell."""
    return "" if value is None else escape_cell(value)


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def csv_writer(stream: _Writable) -> Any:
    """A ``csv.writer`` on *stream* whose rows are escaped cell by cell (``writerow(cells)``)."""
    writer = csv.writer(stream)

    class Escaping:
        def writerow(self, row: Iterable[Any]) -> Any:
            return writer.writerow([csv_cell(cell) for cell in row])

        def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
            for row in rows:
                self.writerow(row)

    return Escaping()


class _Line:
    """A file-like object that hands back what was written (for streaming responses)."""

    def write(self, text: str) -> str:
        return text


def csv_lines(rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """Escaped CSV lines, one per row, for a ``StreamingHttpResponse``."""
    writer = csv_writer(_Line())
    for row in rows:
        yield writer.writerow(row)
