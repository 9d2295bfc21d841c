"""Schedule dates: calendar months, month ends, leap days, year ends, site time zones."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from surveys.models import Visit
from surveys.schedule import add_months, window_bounds

D = dt.date


@pytest.mark.parametrize(
    ("label", "start", "months", "expected"),
    [
        ("same day next month", D(2024, 3, 10), 1, D(2024, 4, 10)),
        ("31 Jan + 1 month, leap year", D(2024, 1, 31), 1, D(2024, 2, 29)),
        ("31 Jan + 1 month, common year", D(2023, 1, 31), 1, D(2023, 2, 28)),
        ("29 Feb + 12 months", D(2024, 2, 29), 12, D(2025, 2, 28)),
        ("29 Feb + 48 months", D(2024, 2, 29), 48, D(2028, 2, 29)),
        ("31 Aug + 6 months", D(2023, 8, 31), 6, D(2024, 2, 29)),
        ("30 Nov + 18 months", D(2022, 11, 30), 18, D(2024, 5, 30)),
        ("31 Dec + 30 months", D(2021, 12, 31), 30, D(2024, 6, 30)),
        ("crosses a year end", D(2025, 9, 15), 6, D(2026, 3, 15)),
        ("baseline is the day itself", D(2025, 5, 31), 0, D(2025, 5, 31)),
    ],
)
def test_target_date_is_randomization_plus_calendar_months(label, start, months, expected):
    assert add_months(start, months) == expected, label


@pytest.mark.parametrize(
    ("label", "months", "before", "after", "randomized", "first", "last"),
    [
        ("baseline -28/+14", 0, 28, 14, D(2025, 1, 10), D(2024, 12, 13), D(2025, 1, 24)),
        ("6 months ±30 over a year end", 6, 30, 30, D(2025, 7, 1), D(2025, 12, 2), D(2026, 1, 31)),
        (
            "18 months ±45 from a month end",
            18,
            45,
            45,
            D(2024, 8, 31),
            D(2026, 1, 14),
            D(2026, 4, 14),
        ),
        ("30 months ±45 on a leap day", 30, 45, 45, D(2021, 8, 29), D(2024, 1, 15), D(2024, 4, 14)),
    ],
)
def test_visit_window_days(label, months, before, after, randomized, first, last):
    visit = Visit(
        months_after_randomization=months, window_before_days=before, window_after_days=after
    )
    assert visit.window(randomized) == (first, last), label


@pytest.mark.parametrize(
    ("label", "tz", "first", "last", "opens_utc", "closes_utc"),
    [
        (
            "New York in winter",
            "America/New_York",
            D(2026, 1, 5),
            D(2026, 1, 10),
            dt.datetime(2026, 1, 5, 5, 0, tzinfo=dt.UTC),
            dt.datetime(2026, 1, 11, 5, 0, tzinfo=dt.UTC),
        ),
        (
            "New York, window spanning the spring DST change",
            "America/New_York",
            D(2026, 3, 1),
            D(2026, 3, 10),
            dt.datetime(2026, 3, 1, 5, 0, tzinfo=dt.UTC),
            dt.datetime(2026, 3, 11, 4, 0, tzinfo=dt.UTC),
        ),
        (
            "Los Angeles",
            "America/Los_Angeles",
            D(2026, 7, 1),
            D(2026, 7, 1),
            dt.datetime(2026, 7, 1, 7, 0, tzinfo=dt.UTC),
            dt.datetime(2026, 7, 2, 7, 0, tzinfo=dt.UTC),
        ),
        (
            "Puerto Rico has no DST",
            "America/Puerto_Rico",
            D(2026, 12, 31),
            D(2027, 1, 1),
            dt.datetime(2026, 12, 31, 4, 0, tzinfo=dt.UTC),
            dt.datetime(2027, 1, 2, 4, 0, tzinfo=dt.UTC),
        ),
    ],
)
def test_window_opens_and_closes_at_site_local_midnight(
    label, tz, first, last, opens_utc, closes_utc
):
    opens_at, closes_at = window_bounds(first, last, zoneinfo.ZoneInfo(tz))
    assert (opens_at, closes_at) == (opens_utc, closes_utc), label


@pytest.mark.django_db
def test_randomizing_creates_one_assessment_per_visit_with_site_local_windows(trial, site_a):
    from tests.factories import randomize

    site_a.timezone = "America/Los_Angeles"
    site_a.save()
    now = dt.datetime(2026, 1, 10, 20, 0, tzinfo=dt.UTC)
    participant = randomize(trial, site_a, randomized_on=D(2026, 1, 10), now=now)
    rows = list(
        participant.assessments.order_by("visit__number").values_list(
            "visit__code", "target_date", "window_start", "window_end", "status"
        )
    )
    assert rows == [
        ("baseline", D(2026, 1, 10), D(2025, 12, 13), D(2026, 1, 24), "open"),
        ("m6", D(2026, 7, 10), D(2026, 6, 10), D(2026, 8, 9), "scheduled"),
        ("m18", D(2027, 7, 10), D(2027, 5, 26), D(2027, 8, 24), "scheduled"),
        ("m30", D(2028, 7, 10), D(2028, 5, 26), D(2028, 8, 24), "scheduled"),
    ]
    baseline = participant.assessments.get(visit__code="baseline")
    assert baseline.closes_at == dt.datetime(2026, 1, 25, 8, 0, tzinfo=dt.UTC)  # PST midnight
