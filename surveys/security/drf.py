"""The API's JSON parser: the same bounds as the tablet's (size, depth, characters, numbers)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

from surveys.security.inputs import MAX_JSON_BYTES, UnsafeInput, loads_json


class PayloadTooLarge(APIException):
    status_code = 413
    default_detail = "The request body is too large."
    default_code = "too_large"


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser, reading at most ``MAX_JSON_BYTES`` and refusing unsafe JSON."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        raw = stream.read(MAX_JSON_BYTES + 1) if stream is not None else b""
        try:
            return loads_json(raw)
        except UnsafeInput as exc:
            if exc.status == 413:
                raise PayloadTooLarge(exc.message) from None
            raise ParseError(f"JSON parse error: {exc.message}") from None
