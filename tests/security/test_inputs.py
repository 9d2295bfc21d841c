"""Bounded JSON, clean text, bounded dates and the client address, checked in isolation."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.exceptions import ValidationError
from django.test import RequestFactory
from hypothesis import given, settings
from hypothesis import strategies as st

from surveys.security.client import client_ip
from surveys.security.dates import BoundedDateField, BoundedDateTimeField, parse_date
from surveys.security.inputs import (
    MAX_JSON_DEPTH,
    UnsafeInput,
    json_depth,
    loads_json,
    text_problem,
)

clean_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="")
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | clean_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(clean_text, children, max_size=4)
    ),
    max_leaves=30,
)


def real_depth(value) -> int:
    if isinstance(value, list):
        return 1 + max((real_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((real_depth(v) for v in value.values()), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_clean_json_within_bounds_parses_to_the_same_value(value):
    raw = json.dumps(value)
    assert json_depth(raw.encode()) == real_depth(value)
    if real_depth(value) <= MAX_JSON_DEPTH:
        assert loads_json(raw.encode()) == value


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet='[]{}"\\:,a1 ', max_size=200))
def test_any_bracket_soup_is_refused_or_parsed_never_a_crash(raw):
    try:
        loads_json(raw.encode())
    except UnsafeInput as exc:
        assert exc.status in (400, 413)


@pytest.mark.parametrize(
    ("raw", "code", "status"),
    [
        (b"[" * 100_000, "too_large", 413),
        (b"[" * 1000, "too_deep", 400),
        (b'{"a":' * 21 + b"1" + b"}" * 21, "too_deep", 400),
        (b'["\\u0000"]', "bad_character", 400),
        (b'{"\\u0000": 1}', "bad_character", 400),
        (b'["\\ud800"]', "bad_character", 400),
        (b'["\\u001b[31m"]', "bad_character", 400),
        (b"[NaN]", "malformed", 400),
        (b"[-Infinity]", "malformed", 400),
        (b"[9223372036854775808]", "out_of_range", 400),
        (b"[" + b"9" * 5000 + b"]", "malformed", 400),
        (b"\xff\xfe", "malformed", 400),
        (b"", "malformed", 400),
    ],
)
def test_hostile_json_is_refused_with_a_reason(raw, code, status):
    with pytest.raises(UnsafeInput) as refused:
        loads_json(raw)
    assert (refused.value.code, refused.value.status) == (code, status)


def test_brackets_inside_strings_do_not_count_as_depth():
    assert json_depth(b'["[[[[", "\\"[[[", {"]]": "{{{"}]') == 2
    assert loads_json(b'{"text": "line one\\nline two\\ttab"}') == {
        "text": "line one\nline two\ttab"
    }


@pytest.mark.parametrize(
    ("text", "multiline", "problem"),
    [
        ("plain é 中文 🙂", False, None),
        ("two\nlines\tand a tab", True, None),
        ("two\nlines", False, "contains the control character U+000A"),
        ("nul\x00", True, "contains a NUL character"),
        ("bell\x07", True, "contains the control character U+0007"),
        ("del\x7f", True, "contains the control character U+007F"),
        ("half \ud83d", True, "contains an unpaired UTF-16 surrogate"),
    ],
)
def test_text_problems_are_named(text, multiline, problem):
    assert text_problem(text, multiline=multiline) == problem


@pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01", "1899-12-31", "2101-01-01"])
def test_dates_outside_1900_to_2100_are_refused_everywhere(value):
    with pytest.raises(ValidationError, match="between 1900-01-01 and 2100-12-31"):
        BoundedDateField().clean(value)
    with pytest.raises(ValidationError, match="between 1900-01-01 and 2100-12-31"):
        BoundedDateTimeField().clean(f"{value}T12:00:00+14:00")
    with pytest.raises(ValidationError, match="between 1900-01-01 and 2100-12-31"):
        parse_date(value, "cutoff")


def test_dates_inside_the_bounds_pass():
    assert BoundedDateField().clean("1900-01-01") == dt.date(1900, 1, 1)
    assert BoundedDateField().clean("2100-12-31") == dt.date(2100, 12, 31)
    assert parse_date("2026-03-01", "cutoff") == dt.date(2026, 3, 1)
    assert parse_date("", "cutoff") is None
    with pytest.raises(ValidationError, match="UTC offset"):
        BoundedDateTimeField().clean("2026-01-01T00:00:00+15:00")
    with pytest.raises(ValidationError):
        parse_date(["2026-01-01"], "cutoff")


@pytest.mark.parametrize(
    ("trusted", "remote", "header", "expected"),
    [
        ([], "203.0.113.9", "198.51.100.1", "203.0.113.9"),  # no proxy: the header is ignored
        (["127.0.0.1"], "127.0.0.1", "198.51.100.7", "198.51.100.7"),  # behind nginx
        # A client cannot choose its address: nginx appends the real one at the right.
        (["127.0.0.1"], "127.0.0.1", "10.9.9.9, 198.51.100.7", "198.51.100.7"),
        (["127.0.0.1", "10.0.0.0/8"], "127.0.0.1", "198.51.100.7, 10.1.2.3", "198.51.100.7"),
        (["127.0.0.1"], "203.0.113.9", "198.51.100.7", "203.0.113.9"),  # not from the proxy
        (["127.0.0.1"], "127.0.0.1", "", "127.0.0.1"),
        (["127.0.0.1"], "127.0.0.1", "not-an-address", "127.0.0.1"),
        (["127.0.0.1"], "127.0.0.1", "2001:db8::1", "2001:db8::1"),
    ],
)
def test_the_client_address_is_read_through_trusted_proxies_only(
    settings, trusted, remote, header, expected
):
    settings.TRUSTED_PROXY_IPS = trusted
    settings.CLIENT_IP_HEADER = "X-Forwarded-For"
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=header)
    assert client_ip(request) == expected
