"""Dates bounded to years 1900–2100 wherever they come in: forms, API filters, JSON.

Python's ``date`` stops at year 9999 and starts at year 1, so a visit 30 months
after 9999-12-31, or a local midnight of 0001-01-01 turned into UTC, raises
``OverflowError``. Nothing in a trial happens outside 1900–2100, so every date
that enters the application is checked against these bounds first, at the
layer that parses it (form field, filter, JSON parser), with a clear message.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters as filters
from django import forms
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField

MIN_DATE = dt.date(1900, 1, 1)
MAX_DATE = dt.date(2100, 12, 31)
MAX_UTC_OFFSET = dt.timedelta(hours=14)  # the widest real time zone; PostgreSQL allows < 16 h
OUT_OF_RANGE = f"give a date between {MIN_DATE.isoformat()} and {MAX_DATE.isoformat()}"


def check_date(value: dt.date | dt.datetime | None) -> Any:
    """*value* when it lies within the bounds (None passes); ``ValidationError`` otherwise."""
    if value is None:
        return value
    day = value.date() if isinstance(value, dt.datetime) else value
    if not MIN_DATE <= day <= MAX_DATE:
        raise ValidationError(OUT_OF_RANGE, code="date_out_of_range")
    if isinstance(value, dt.datetime):
        offset = value.utcoffset()
        if offset is not None and abs(offset) > MAX_UTC_OFFSET:
            raise ValidationError(
                "the UTC offset must be between -14:00 and +14:00", code="bad_offset"
            )
    return value


def parse_date(value: Any, name: str) -> dt.date | None:
    """A date from JSON or a query (``YYYY-MM-DD``), bounded; blank is None."""
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    elif isinstance(value, str):
        try:
            day = dt.date.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError({name: f"{value[:40]!r} is not a date (YYYY-MM-DD)"}) from None
    else:
        raise ValidationError({name: "give a date as YYYY-MM-DD"})
    try:
        return check_date(day)
    except ValidationError as exc:
        raise ValidationError({name: exc.messages}) from None


def _bounds_attrs() -> dict[str, str]:
    return {"type": "date", "min": MIN_DATE.isoformat(), "max": MAX_DATE.isoformat()}


class BoundedDateField(forms.DateField):
    """A form date within 1900–2100 (the browser's date picker is told the bounds too)."""

    widget = forms.DateInput(attrs=_bounds_attrs())

    def to_python(self, value: Any) -> dt.date | None:
        return check_date(super().to_python(value))


class BoundedDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time a real clock could show: 1900–2100, UTC offset within ±14:00."""

    def to_python(self, value: Any) -> dt.datetime | None:
        return check_date(super().to_python(value))


class BoundedDateFilter(filters.DateFilter):
    field_class = BoundedDateField


class BoundedDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = BoundedDateTimeField
