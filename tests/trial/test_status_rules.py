"""The status rules: pure model methods (the clock as an argument) and their SQL twins.

Every labelled row below is checked against the pure method, and the parity
tests run the same rows through the ``AssessmentQuerySet`` methods on a real
row in PostgreSQL: the two forms of each rule must give the same answer.
"""

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


DUE_CASES = [
    (S.SCHEDULED, OPENS - SECOND, None),
    (S.SCHEDULED, OPENS, S.OPEN),
    (S.SCHEDULED, CLOSES - SECOND, S.OPEN),
    (S.SCHEDULED, CLOSES, S.MISSED),
    (S.OPEN, CLOSES - SECOND, None),
    (S.OPEN, CLOSES, S.MISSED),
    (S.IN_PROGRESS, CLOSES - SECOND, None),
    # a started form keeps her answers when its window closes
    (S.IN_PROGRESS, CLOSES, S.PARTIAL),
    (S.IN_PROGRESS, CLOSES + dt.timedelta(days=3), S.PARTIAL),
    (S.COMPLETED, CLOSES + dt.timedelta(days=3), None),
    (S.PARTIAL, CLOSES + dt.timedelta(days=3), None),
    (S.MISSED, CLOSES + dt.timedelta(days=3), None),
    (S.NOT_EXPECTED, CLOSES + dt.timedelta(days=3), None),
]


@pytest.mark.parametrize(("status", "now", "expected"), DUE_CASES)
def test_due_transition(status, now, expected):
    assert assessment(status).due_transition(now) == expected


def test_it_is_missed_only_after_the_window_closes():
    a = assessment(S.OPEN)
    assert a.due_transition(CLOSES - SECOND) is None
    assert a.due_transition(CLOSES) == S.MISSED


OVERDUE_CASES = [
    (S.OPEN, CLOSES - dt.timedelta(days=7) - SECOND, False),
    (S.OPEN, CLOSES - dt.timedelta(days=7), True),
    (S.IN_PROGRESS, CLOSES - SECOND, True),
    (S.OPEN, CLOSES, False),
    (S.SCHEDULED, CLOSES - dt.timedelta(days=1), False),
    (S.COMPLETED, CLOSES - dt.timedelta(days=1), False),
]


@pytest.mark.parametrize(("status", "now", "expected"), OVERDUE_CASES)
def test_overdue_is_the_last_seven_days_of_an_open_window(status, now, expected):
    assert assessment(status).is_overdue(now) is expected


@pytest.mark.parametrize(
    ("label", "status", "off_study_on", "expected"),
    [
        ("before the window opens", S.SCHEDULED, dt.date(2026, 2, 10), S.NOT_EXPECTED),
        ("during the window", S.OPEN, dt.date(2026, 3, 15), S.NOT_EXPECTED),
        ("during, answers started: kept", S.IN_PROGRESS, dt.date(2026, 3, 15), S.PARTIAL),
        ("after it closed, answers started", S.IN_PROGRESS, dt.date(2026, 4, 2), S.PARTIAL),
        ("partial stays partial", S.PARTIAL, dt.date(2026, 3, 15), None),
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


# (label, status, now, answered, off_study_on, expected)
SETTLED_CASES = [
    ("window not open yet", S.OPEN, OPENS - SECOND, False, None, S.SCHEDULED),
    ("window open, no answer", S.MISSED, OPENS, False, None, S.OPEN),
    ("window open, answers", S.PARTIAL, CLOSES - SECOND, True, None, S.IN_PROGRESS),
    ("window closed, no answer", S.NOT_EXPECTED, CLOSES, False, None, S.MISSED),
    ("window closed, answers", S.IN_PROGRESS, CLOSES, True, None, S.PARTIAL),
    ("off study before it closed", S.OPEN, OPENS, False, dt.date(2026, 3, 30), S.NOT_EXPECTED),
    ("off study, answers", S.IN_PROGRESS, OPENS, True, dt.date(2026, 3, 2), S.PARTIAL),
    ("off study after it closed", S.NOT_EXPECTED, CLOSES, False, dt.date(2026, 3, 31), S.MISSED),
    ("completed is never re-settled", S.COMPLETED, CLOSES, True, dt.date(2026, 3, 2), S.COMPLETED),
]


@pytest.mark.parametrize(
    ("label", "status", "now", "answered", "off_study_on", "expected"), SETTLED_CASES
)
def test_settled_status(label, status, now, answered, off_study_on, expected):
    settled = assessment(status).settled_status(now, answered=answered, off_study_on=off_study_on)
    assert settled == expected, label


def test_settled_status_agrees_with_the_clock_and_off_study_rules():
    """Where the forward rules say something, the settled status says the same."""
    for status, now, due in DUE_CASES:
        if due is None or status == S.COMPLETED:
            continue
        answered = status == S.IN_PROGRESS
        assert assessment(status).settled_status(now, answered=answered, off_study_on=None) == due
    for off_day in (dt.date(2026, 2, 10), dt.date(2026, 3, 15), dt.date(2026, 4, 2)):
        for status in (S.SCHEDULED, S.OPEN, S.IN_PROGRESS):
            now = dt.datetime.combine(off_day, dt.time(12), tzinfo=dt.UTC)
            form = assessment(status)
            settled = form.settled_status(
                now, answered=status == S.IN_PROGRESS, off_study_on=off_day
            )
            assert settled == form.status_when_off_study(off_day), (status, off_day)


ANSWERABLE_CASES = [
    (S.SCHEDULED, OPENS + SECOND, False),  # due to open, but not opened yet
    (S.OPEN, OPENS, True),
    (S.IN_PROGRESS, CLOSES - SECOND, True),
    (S.OPEN, CLOSES, False),  # the window has closed, even before the sweep
    (S.COMPLETED, CLOSES - SECOND, False),
    (S.MISSED, CLOSES - SECOND, False),
]


@pytest.mark.parametrize(("status", "now", "expected"), ANSWERABLE_CASES)
def test_answerable_means_open_or_in_progress_inside_the_window(status, now, expected):
    assert assessment(status).is_answerable(now) is expected


# (status, now, days, expected)
OPENS_WITHIN_CASES = [
    (S.SCHEDULED, OPENS - dt.timedelta(days=7), 7, True),
    (S.SCHEDULED, OPENS - dt.timedelta(days=7) - SECOND, 7, False),
    (S.SCHEDULED, OPENS, 7, False),  # opening now is open, not upcoming
    (S.OPEN, OPENS - SECOND, 7, False),
]
CLOSES_WITHIN_CASES = [
    (S.OPEN, CLOSES - dt.timedelta(days=7), 7, True),
    (S.IN_PROGRESS, CLOSES - dt.timedelta(days=30), 30, True),
    (S.OPEN, CLOSES - dt.timedelta(days=8), 7, False),
    (S.OPEN, CLOSES, 7, False),
    (S.SCHEDULED, CLOSES - SECOND, 7, False),
]


@pytest.mark.parametrize(("status", "now", "days", "expected"), OPENS_WITHIN_CASES)
def test_opens_within(status, now, days, expected):
    assert assessment(status).opens_within(now, days) is expected


@pytest.mark.parametrize(("status", "now", "days", "expected"), CLOSES_WITHIN_CASES)
def test_closes_within(status, now, days, expected):
    assert assessment(status).closes_within(now, days) is expected


MISSING_REASON_CASES = [
    (S.MISSED, "", True),
    (S.MISSED, "too_ill", False),
    (S.OPEN, "", False),
    (S.NOT_EXPECTED, "", False),
]


@pytest.mark.parametrize(("status", "reason", "expected"), MISSING_REASON_CASES)
def test_a_missed_assessment_needs_a_reason_until_one_is_recorded(status, reason, expected):
    a = assessment(status)
    a.missed_reason = reason
    assert a.needs_missed_reason is expected


# --- parity: the SQL form of each rule gives the pure method's answer --------------------


@pytest.fixture
def stored(trial, site_a, utc_now):
    """One real assessment row whose status and window each case overwrites."""
    from tests.factories import randomize

    participant = randomize(trial, site_a, randomized_on=dt.date(2026, 1, 5), now=utc_now)
    row = participant.assessments.order_by("visit__number").first()

    def set_to(status: str, missed_reason: str = "") -> Assessment:
        Assessment.objects.filter(pk=row.pk).update(
            status=status, opens_at=OPENS, closes_at=CLOSES, missed_reason=missed_reason
        )
        return Assessment.objects.filter(pk=row.pk)

    return set_to


@pytest.mark.django_db
def test_due_in_sql_matches_due_transition(stored):
    for status, now, expected in DUE_CASES:
        rows = stored(status)
        for to_status in S.values:
            in_sql = rows.due(to_status, now).exists()
            assert in_sql is (expected == to_status), (status, now, to_status)


@pytest.mark.django_db
def test_overdue_answerable_and_windows_in_sql_match_the_pure_methods(stored):
    for status, now, expected in OVERDUE_CASES:
        assert stored(status).overdue(now).exists() is expected, (status, now)
        assert assessment(status).is_overdue(now) is expected
    for status, now, expected in ANSWERABLE_CASES:
        assert stored(status).answerable(now).exists() is expected, (status, now)
    for status, now, days, expected in OPENS_WITHIN_CASES:
        assert stored(status).opening_within(now, days).exists() is expected, (status, now)
    for status, now, days, expected in CLOSES_WITHIN_CASES:
        assert stored(status).closing_within(now, days).exists() is expected, (status, now)


@pytest.mark.django_db
def test_missing_reason_in_sql_matches_needs_missed_reason(stored):
    for status, reason, expected in MISSING_REASON_CASES:
        rows = stored(status, reason)
        assert rows.missing_reason().exists() is expected, (status, reason)
        assert rows.get().needs_missed_reason is expected


# --- the transition table ----------------------------------------------------------------


def test_a_started_form_can_never_lose_its_answers():
    from surveys.trial.transitions import ALLOWED

    assert ALLOWED[S.IN_PROGRESS] == {S.COMPLETED, S.PARTIAL}
    assert ALLOWED[S.COMPLETED] == frozenset()


def test_every_reversal_is_an_allowed_move_and_needs_the_flag():
    from surveys.trial.transitions import (
        ALLOWED,
        REVERSALS,
        TransitionNotAllowed,
        check_allowed,
    )

    for from_status, to_status in REVERSALS:
        assert to_status in ALLOWED[from_status]
        with pytest.raises(TransitionNotAllowed, match="runs backwards"):
            check_allowed(from_status, to_status)
        check_allowed(from_status, to_status, reversal=True)
    # and every move the clock makes is a forward move
    for status, _now, due in DUE_CASES:
        if due is not None:
            assert (status, due) not in REVERSALS
            check_allowed(status, due)


def test_settled_moves_are_all_in_the_table():
    """Whatever the settled status of a form, the move there is allowed (as a reversal)."""
    from surveys.trial.transitions import check_allowed

    for _label, status, _now, _answered, _off, expected in SETTLED_CASES:
        if expected != status:
            check_allowed(status, expected, reversal=True)
