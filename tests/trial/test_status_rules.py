"""The status rules as pure model methods, with the clock as an argument."""

from __future__ import annotations

import datetime as dt

import pytest

from surveys.models import Assessment

S = Assessment.Status
OPENS = dt.datetime(2026, 3, 1, 5, 0, tzinfo=dt.UTC)
CLOSES = dt.datetime(2026, 3, 31, 4, 0, tzinfo=dt.UTC)
SECOND = dt.timedelta(seconds=1)


def assessment(status: str) -> Assessment:
    return Assessment(
        status=status,
        opens_at=OPENS,
        closes_at=CLOSES,
        window_start=dt.date(2026, 3, 1),
        window_end=dt.date(2026, 3, 30),
    )


@pytest.mark.parametrize(
    ("status", "now", "expected"),
    [
        (S.SCHEDULED, OPENS - SECOND, None),
        (S.SCHEDULED, OPENS, S.OPEN),
        (S.SCHEDULED, CLOSES - SECOND, S.OPEN),
        (S.SCHEDULED, CLOSES, S.MISSED),
        (S.OPEN, CLOSES - SECOND, None),
        (S.OPEN, CLOSES, S.MISSED),
        (S.IN_PROGRESS, CLOSES - SECOND, None),
        (S.IN_PROGRESS, CLOSES + dt.timedelta(days=3), S.MISSED),
        (S.COMPLETED, CLOSES + dt.timedelta(days=3), None),
        (S.MISSED, CLOSES + dt.timedelta(days=3), None),
        (S.NOT_EXPECTED, CLOSES + dt.timedelta(days=3), None),
    ],
)
def test_due_transition(status, now, expected):
    assert assessment(status).due_transition(now) == expected


def test_it_is_missed_only_after_the_window_closes():
    a = assessment(S.OPEN)
    assert a.due_transition(CLOSES - SECOND) is None
    assert a.due_transition(CLOSES) == S.MISSED


@pytest.mark.parametrize(
    ("status", "now", "expected"),
    [
        (S.OPEN, CLOSES - dt.timedelta(days=7) - SECOND, False),
        (S.OPEN, CLOSES - dt.timedelta(days=7), True),
        (S.IN_PROGRESS, CLOSES - SECOND, True),
        (S.OPEN, CLOSES, False),
        (S.SCHEDULED, CLOSES - dt.timedelta(days=1), False),
        (S.COMPLETED, CLOSES - dt.timedelta(days=1), False),
    ],
)
def test_overdue_is_the_last_seven_days_of_an_open_window(status, now, expected):
    assert assessment(status).is_overdue(now) is expected


@pytest.mark.parametrize(
    ("label", "status", "off_study_on", "expected"),
    [
        ("before the window opens", S.SCHEDULED, dt.date(2026, 2, 10), S.NOT_EXPECTED),
        ("during the window", S.OPEN, dt.date(2026, 3, 15), S.NOT_EXPECTED),
        ("during, answers started", S.IN_PROGRESS, dt.date(2026, 3, 15), S.NOT_EXPECTED),
        ("on the window's last day", S.OPEN, dt.date(2026, 3, 30), S.NOT_EXPECTED),
        ("after it closed, not yet swept", S.OPEN, dt.date(2026, 4, 2), S.MISSED),
        ("after it closed, scheduled", S.SCHEDULED, dt.date(2026, 4, 2), S.MISSED),
        ("completed stays completed", S.COMPLETED, dt.date(2026, 3, 15), None),
        ("missed before she left stays missed", S.MISSED, dt.date(2026, 4, 15), None),
        (
            "missed, but she had left first (recorded late)",
            S.MISSED,
            dt.date(2026, 3, 20),
            S.NOT_EXPECTED,
        ),
    ],
)
def test_status_when_going_off_study(label, status, off_study_on, expected):
    assert assessment(status).status_when_off_study(off_study_on) == expected, label
