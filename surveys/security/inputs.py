"""Bounded JSON and clean text: the checks every JSON body and every string go through.

PostgreSQL refuses a NUL character in text (and ``\\u0000`` in ``jsonb``), psycopg
cannot encode a lone UTF-16 surrogate, Python's JSON decoder recurses once per
nesting level, ``NaN`` is not JSON PostgreSQL accepts, and ``bigint`` stops at
2**63. Each of these used to surface as a server error; here they are refused
as bad input before anything else sees them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

#: Largest JSON request body accepted (the tablet's answers and the API's writes are tiny).
MAX_JSON_BYTES = 64 * 1024
#: Deepest nesting of arrays and objects accepted.
MAX_JSON_DEPTH = 20
#: PostgreSQL ``bigint``: larger JSON integers could never name a row.
MAX_INT = 2**63 - 1

#: In text fields (free text may hold tabs and line breaks): other C0 controls, DEL, surrogates.
_BAD_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
#: In query strings, paths, cookies and single-line values: any control character.
_BAD_PARAMETER = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
_OUTSIDE_STRING = re.compile(rb'[\[\]{}"]')
_INSIDE_STRING = re.compile(rb'\\.|"', re.DOTALL)


class UnsafeInput(ValueError):
    """Input refused before it reaches the application; ``code`` names the reason."""

    def __init__(self, message: str, code: str = "malformed", status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


def text_problem(value: str, *, multiline: bool = True) -> str | None:
    """Why *value* cannot be stored as text, or None when it can."""
    pattern = _BAD_TEXT if multiline else _BAD_PARAMETER
    match = pattern.search(value)
    if match is None:
        return None
    char = match.group()
    if char == "\x00":
        return "contains a NUL character"
    if "\ud800" <= char <= "\udfff":
        return "contains an unpaired UTF-16 surrogate"
    return f"contains the control character U+{ord(char):04X}"


def check_text(value: str, *, name: str = "value", multiline: bool = True) -> str:
    """*value*, or :class:`UnsafeInput` naming the problem."""
    problem = text_problem(value, multiline=multiline)
    if problem:
        raise UnsafeInput(f"{name} {problem}", code="bad_character")
    return value


def json_depth(raw: bytes) -> int:
    """Deepest nesting of arrays and objects in *raw* JSON, without parsing it.

    Brackets inside strings do not count. One pass, no recursion, no backtracking.
    """
    depth = deepest = pos = 0
    while True:
        token = _OUTSIDE_STRING.search(raw, pos)
        if token is None:
            return deepest
        pos = token.end()
        char = token.group()
        if char == b'"':  # skip the string (escapes included); unterminated: the end
            while (inside := _INSIDE_STRING.search(raw, pos)) is not None:
                pos = inside.end()
                if inside.group() == b'"':
                    break
            else:
                return deepest
        elif char in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1


def _refuse_constant(name: str) -> Any:
    raise UnsafeInput(f"{name} is not a JSON number", code="malformed")


def _walk(value: Any, path: str = "$") -> Iterator[tuple[str, Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield f"{path}.{key!s:.40}", key
            yield from _walk(item, f"{path}.{key!s:.40}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")


def check_json_value(value: Any) -> Any:
    """Refuse strings with bad characters and integers beyond 64 bits anywhere in *value*."""
    for path, item in _walk(value):
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                raise UnsafeInput(f"{path} {problem}", code="bad_character")
        elif isinstance(item, int) and not isinstance(item, bool) and abs(item) > MAX_INT:
            raise UnsafeInput(f"{path} is out of range", code="out_of_range")
    return value


def loads_json(
    raw: bytes | str, *, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH
) -> Any:
    """Parse a JSON request body within bounds; :class:`UnsafeInput` (a ValueError) otherwise."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
    if len(data) > max_bytes:
        raise UnsafeInput(
            f"the JSON body is larger than {max_bytes} bytes", code="too_large", status=413
        )
    if json_depth(data) > max_depth:
        raise UnsafeInput(f"the JSON is nested deeper than {max_depth} levels", code="too_deep")
    try:
        text = data.decode("utf-8")
        value = json.loads(text, parse_constant=_refuse_constant)
    except UnsafeInput:
        raise
    except (ValueError, RecursionError):
        raise UnsafeInput("the request body is not JSON", code="malformed") from None
    return check_json_value(value)
