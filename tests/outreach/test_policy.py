"""When a reminder is due: table-driven, frozen clock (``now`` passed in), across daylight
saving changes in spring and autumn (America/Chicago, 2027-03-14 and 2027-11-07) and across
quiet hours. ``decide`` is pure: these rows need no database."""

from __future__ import annotations

import datetime as dt

import pytest

from surveys.models import Assessment, ReminderRule
from surveys.outreach.policy import channel_for, decide, due_at, end_of_quiet_hours
from tests.outreach.helpers import CHICAGO, contact, form, policy, rule, utc

K = ReminderRule.Kind
S = Assessment.Status
OPEN, STARTED = S.OPEN, S.IN_PROGRESS
QUIET = {"quiet_start": dt.time(21, 0), "quiet_end": dt.time(8, 0)}

# Spring: a window that opens on Wednesday 2027-03-10 (CST, UTC-6); the clocks go forward on
# Sunday 2027-03-14 at 02:00; "7 days after it opened" is Wednesday 2027-03-17, 10:00 CDT
# (UTC-5) = 15:00 UTC, not 16:00 UTC as 7 x 24 hours after the 10:00 CST reminder would be.
SPRING = (dt.date(2027, 3, 10), dt.date(2027, 4, 20))
# Autumn: the window's last day is 2027-11-08; the clocks go back on 2027-11-07 at 02:00.
# "2 days before it closes" is 2027-11-07 10:00 CST = 16:00 UTC; "7 days before" is
# 2027-11-02 10:00 CDT = 15:00 UTC.
AUTUMN = (dt.date(2027, 10, 1), dt.date(2027, 11, 8))
# Quiet hours on the spring-forward day: due 2027-03-14 at 07:00 local (send_at 07:00, a week
# after a window that opened 2027-03-07), in her quiet hours until 08:00 CDT = 13:00 UTC
# (the day before, 08:00 CST was 14:00 UTC).
QUIET_SPRING = (dt.date(2027, 3, 7), dt.date(2027, 4, 20))
# Autumn, quiet hours: due 2027-11-07 at 07:00 local (2 days before a window ending
# 2027-11-08), deferred to 08:00 CST = 14:00 UTC (the day before 08:00 CDT was 13:00 UTC).

ROWS = [
    # label, window, status, rule, send_at, contact extras, now, expected send, reason
    (
        "spring: on open, due 10:00 CST",
        SPRING,
        OPEN,
        rule(K.ON_OPEN),
        dt.time(10),
        {},
        utc(2027, 3, 10, 16, 0),
        True,
        "due",
    ),
    (
        "spring: on open, a minute early",
        SPRING,
        OPEN,
        rule(K.ON_OPEN),
        dt.time(10),
        {},
        utc(2027, 3, 10, 15, 59),
        False,
        "not yet due",
    ),
    (
        "spring: +7 days is 10:00 CDT = 15:00 UTC",
        SPRING,
        OPEN,
        rule(K.AFTER_OPEN, 7),
        dt.time(10),
        {},
        utc(2027, 3, 17, 15, 0),
        True,
        "due",
    ),
    (
        "spring: +7 days, 14:59 UTC is still 09:59 CDT",
        SPRING,
        OPEN,
        rule(K.AFTER_OPEN, 7),
        dt.time(10),
        {},
        utc(2027, 3, 17, 14, 59),
        False,
        "not yet due",
    ),
    (
        "spring: +7 days only if not started",
        SPRING,
        STARTED,
        rule(K.AFTER_OPEN, 7),
        dt.time(10),
        {},
        utc(2027, 3, 17, 15, 0),
        False,
        "form is in_progress",
    ),
    (
        "autumn: 2 days before close is 10:00 CST = 16:00 UTC",
        AUTUMN,
        STARTED,
        rule(K.BEFORE_CLOSE, 2),
        dt.time(10),
        {},
        utc(2027, 11, 7, 16, 0),
        True,
        "due",
    ),
    (
        "autumn: 15:30 UTC is 09:30 CST, not yet",
        AUTUMN,
        STARTED,
        rule(K.BEFORE_CLOSE, 2),
        dt.time(10),
        {},
        utc(2027, 11, 7, 15, 30),
        False,
        "not yet due",
    ),
    (
        "autumn: 7 days before close is 10:00 CDT = 15:00 UTC",
        AUTUMN,
        OPEN,
        rule(K.BEFORE_CLOSE, 7),
        dt.time(10),
        {},
        utc(2027, 11, 2, 15, 0),
        True,
        "due",
    ),
    (
        "quiet hours, spring-forward day: 12:59 UTC = 07:59 CDT",
        QUIET_SPRING,
        OPEN,
        rule(K.AFTER_OPEN, 7),
        dt.time(7),
        QUIET,
        utc(2027, 3, 14, 12, 59),
        False,
        "not yet due",
    ),
    (
        "quiet hours, spring-forward day: 13:00 UTC = 08:00 CDT",
        QUIET_SPRING,
        OPEN,
        rule(K.AFTER_OPEN, 7),
        dt.time(7),
        QUIET,
        utc(2027, 3, 14, 13, 0),
        True,
        "due",
    ),
    (
        "quiet hours, fall-back day: 13:30 UTC = 07:30 CST",
        AUTUMN,
        OPEN,
        rule(K.BEFORE_CLOSE, 2),
        dt.time(7),
        QUIET,
        utc(2027, 11, 7, 13, 30),
        False,
        "not yet due",
    ),
    (
        "quiet hours, fall-back day: 14:00 UTC = 08:00 CST",
        AUTUMN,
        OPEN,
        rule(K.BEFORE_CLOSE, 2),
        dt.time(7),
        QUIET,
        utc(2027, 11, 7, 14, 0),
        True,
        "due",
    ),
    (
        "due 20:00, a run at 22:00 is in her quiet hours",
        SPRING,
        OPEN,
        rule(K.ON_OPEN),
        dt.time(20),
        QUIET,
        utc(2027, 3, 11, 4, 0),
        False,
        "quiet hours",
    ),
    (
        "due 20:00, sent next morning at 08:00 (within 24 h)",
        SPRING,
        OPEN,
        rule(K.ON_OPEN),
        dt.time(20),
        QUIET,
        utc(2027, 3, 11, 14, 0),
        True,
        "due",
    ),
    (
        "no quiet hours: due 20:00, sent at 22:00",
        SPRING,
        OPEN,
        rule(K.ON_OPEN),
        dt.time(20),
        {},
        utc(2027, 3, 11, 4, 0),
        True,
        "due",
    ),
    (
        "stale: 24 h after it fell due, dropped",
        SPRING,
        OPEN,
        rule(K.ON_OPEN),
        dt.time(10),
        {},
        utc(2027, 3, 11, 16, 0),
        False,
        "stale",
    ),
    (
        "window closed",
        AUTUMN,
        STARTED,
        rule(K.BEFORE_CLOSE, 2),
        dt.time(10),
        {},
        utc(2027, 11, 9, 6, 0),
        False,
        "window closed",
    ),
    (
        "no consent",
        SPRING,
        OPEN,
        rule(K.ON_OPEN),
        dt.time(10),
        {"consent": False},
        utc(2027, 3, 10, 16, 0),
        False,
        "no consent to be contacted",
    ),
    (
        "rule by SMS only, no mobile number",
        SPRING,
        OPEN,
        rule(K.ON_OPEN, email=False),
        dt.time(10),
        {"mobile": ""},
        utc(2027, 3, 10, 16, 0),
        False,
        "no address for the rule's channels",
    ),
    (
        "inactive rule",
        SPRING,
        OPEN,
        rule(K.ON_OPEN, active=False),
        dt.time(10),
        {},
        utc(2027, 3, 10, 16, 0),
        False,
        "policy or rule off",
    ),
    (
        "completed form",
        SPRING,
        S.COMPLETED,
        rule(K.BEFORE_CLOSE, 7),
        dt.time(10),
        {},
        utc(2027, 4, 14, 15, 0),
        False,
        "form is completed",
    ),
    (
        "before close on a window shorter than N days: falls before it opens",
        SPRING,
        OPEN,
        rule(K.BEFORE_CLOSE, 60),
        dt.time(10),
        {},
        utc(2027, 3, 10, 16, 0),
        False,
        "falls outside the window",
    ),
]


@pytest.mark.parametrize(
    ("label", "window", "status", "the_rule", "send_at", "extra", "now", "send", "why"),
    ROWS,
    ids=[row[0] for row in ROWS],
)
def test_when_a_reminder_goes(label, window, status, the_rule, send_at, extra, now, send, why):
    decision = decide(
        rule=the_rule,
        assessment=form(*window, CHICAGO, status),
        policy=policy(send_at=send_at),
        contact=contact(**extra),
        tz=CHICAGO,
        now=now,
        off_study=False,
    )
    assert (decision.send, decision.why) == (send, why)


def test_off_study_stops_everything():
    decision = decide(
        rule=rule(K.ON_OPEN),
        assessment=form(*SPRING, CHICAGO, OPEN),
        policy=policy(),
        contact=contact(),
        tz=CHICAGO,
        now=utc(2027, 3, 10, 16, 0),
        off_study=True,
    )
    assert (decision.send, decision.why) == (False, "off study")


def test_due_times_are_local_wall_clock_times_across_both_changes():
    p = policy(send_at=dt.time(10))
    spring = form(*SPRING, CHICAGO, OPEN)
    autumn = form(*AUTUMN, CHICAGO, OPEN)
    assert due_at(rule(K.ON_OPEN), spring, p, CHICAGO) == utc(2027, 3, 10, 16)
    assert due_at(rule(K.AFTER_OPEN, 7), spring, p, CHICAGO) == utc(2027, 3, 17, 15)
    assert due_at(rule(K.BEFORE_CLOSE, 7), autumn, p, CHICAGO) == utc(2027, 11, 2, 15)
    assert due_at(rule(K.BEFORE_CLOSE, 2), autumn, p, CHICAGO) == utc(2027, 11, 7, 16)
    # 1 day before it closes is its last day
    assert due_at(rule(K.BEFORE_CLOSE, 1), autumn, p, CHICAGO).astimezone(
        CHICAGO
    ).date() == dt.date(2027, 11, 8)


@pytest.mark.parametrize(
    ("local", "expected_local"),
    [
        (dt.datetime(2027, 3, 13, 23, 30), dt.datetime(2027, 3, 14, 8, 0)),  # over the change
        (dt.datetime(2027, 3, 14, 3, 30), dt.datetime(2027, 3, 14, 8, 0)),
        (dt.datetime(2027, 11, 6, 22, 0), dt.datetime(2027, 11, 7, 8, 0)),
        (dt.datetime(2027, 11, 7, 12, 0), dt.datetime(2027, 11, 7, 12, 0)),  # not quiet
    ],
)
def test_end_of_quiet_hours_spanning_midnight(local, expected_local):
    instant = local.replace(tzinfo=CHICAGO)
    result = end_of_quiet_hours(instant, contact(**QUIET), CHICAGO)
    assert result.astimezone(CHICAGO).replace(tzinfo=None) == expected_local


def test_quiet_hours_within_one_day():
    c = contact(quiet_start=dt.time(12, 0), quiet_end=dt.time(14, 0))
    assert c.in_quiet_hours(dt.time(12, 0)) and c.in_quiet_hours(dt.time(13, 59))
    assert not c.in_quiet_hours(dt.time(14, 0)) and not c.in_quiet_hours(dt.time(11, 59))


@pytest.mark.parametrize(
    ("preferred", "email", "sms", "mobile", "expected"),
    [
        ("sms", True, True, "+15555550123", "sms"),
        ("sms", True, False, "+15555550123", "email"),  # the rule allows email only
        ("sms", True, True, "", "email"),  # no number
        ("email", False, True, "+15555550123", "sms"),
        ("email", False, True, "", None),
    ],
)
def test_one_channel_per_reminder_her_preferred_one_first(preferred, email, sms, mobile, expected):
    c = contact(preferred_channel=preferred, mobile=mobile)
    assert channel_for(rule(K.ON_OPEN, email=email, sms=sms), c) == expected
