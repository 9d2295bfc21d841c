"""When a reminder falls due: pure functions of the policy, the dates and the clock.

Nothing is scheduled ahead: each run of the reminder job computes, from the
current policy and the current window of each form, which reminders are due at
that moment. Editing the policy or the schedule therefore never leaves a stale
message behind: a reminder whose due time moved is simply due at its new time,
and one whose conditions no longer hold is not sent.

Due times are local wall-clock times in the participant's *site* time zone
(``zoneinfo``): "7 days after the window opened" at ``send_at`` is the same local
hour on both sides of a daylight-saving change, however many UTC hours that is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction

from surveys.models import Assessment, ContactDetails, ReminderPolicy, ReminderRule, Trial

Kind = ReminderRule.Kind
S = Assessment.Status

#: The defaults of a trial that has no policy yet: when the window opens, 7 days later
#: if she has not started, and 7 and 2 days before it closes.
DEFAULT_RULES: tuple[tuple[str, int], ...] = (
    (Kind.ON_OPEN, 0),
    (Kind.AFTER_OPEN, 7),
    (Kind.BEFORE_CLOSE, 7),
    (Kind.BEFORE_CLOSE, 2),
)

#: The statuses each kind of reminder is for: "if not started" means still open.
STATUSES_FOR: dict[str, tuple[str, ...]] = {
    Kind.ON_OPEN: (S.OPEN,),
    Kind.AFTER_OPEN: (S.OPEN,),
    Kind.BEFORE_CLOSE: (S.OPEN, S.IN_PROGRESS),
}


@transaction.atomic
def policy_for(trial: Trial) -> ReminderPolicy:
    """The trial's policy, made with the default rules the first time it is asked for."""
    policy, created = ReminderPolicy.objects.get_or_create(trial=trial)
    if created:
        ReminderRule.objects.bulk_create(
            ReminderRule(policy=policy, kind=kind, days=days) for kind, days in DEFAULT_RULES
        )
    return policy


def local_day_at(day: dt.date, at: dt.time, tz: dt.tzinfo) -> dt.datetime:
    """*day* at the local wall-clock time *at* in *tz*, as an aware instant."""
    return dt.datetime.combine(day, at, tzinfo=tz)


def due_at(
    rule: ReminderRule, assessment: Assessment, policy: ReminderPolicy, tz: dt.tzinfo
) -> dt.datetime:
    """When *rule* falls due for *assessment*: a day of its window at ``policy.send_at``.

    The window's days are the site's calendar days (``window_start`` to
    ``window_end``; it closes at the midnight that ends ``window_end``), so "N days
    before it closes" is the day ``window_end + 1 - N``.
    """
    if rule.kind == Kind.ON_OPEN:
        day = assessment.window_start
    elif rule.kind == Kind.AFTER_OPEN:
        day = assessment.window_start + dt.timedelta(days=rule.days)
    else:
        day = assessment.window_end + dt.timedelta(days=1 - rule.days)
    return local_day_at(day, policy.send_at, tz)


def end_of_quiet_hours(instant: dt.datetime, contact: ContactDetails, tz: dt.tzinfo) -> dt.datetime:
    """*instant*, or the end of her quiet hours when *instant* falls inside them."""
    local = instant.astimezone(tz)
    if contact.quiet_end is None or not contact.in_quiet_hours(local.time()):
        return instant
    day = local.date() if local.time() < contact.quiet_end else local.date() + dt.timedelta(days=1)
    return local_day_at(day, contact.quiet_end, tz)


@dataclass(frozen=True)
class Decision:
    """Whether a reminder goes now; when not, why (and from when it would)."""

    send: bool
    why: str
    due: dt.datetime | None = None
    not_before: dt.datetime | None = None


def decide(
    *,
    rule: ReminderRule,
    assessment: Assessment,
    policy: ReminderPolicy,
    contact: ContactDetails | None,
    tz: dt.tzinfo,
    now: dt.datetime,
    off_study: bool,
    has_access_code: bool = True,
) -> Decision:
    """Every condition of one reminder at *now*: the one place the rules are written.

    Sent only if the policy and the rule are on, the form is still of the kind the
    rule is for (open, or not yet submitted) and its window still open, she is on
    study, she consented and has an address for a channel of the rule, she holds an
    access code that is not locked (else the link in the message would not open), the due
    time (moved past her quiet hours) has come and is not older than the policy's
    ``stale_after_hours``, and *now* is not in her quiet hours.
    """
    if not (policy.enabled and rule.active):
        return Decision(False, "policy or rule off")
    if off_study:
        return Decision(False, "off study")
    if contact is None or not contact.consent or contact.erased_at is not None:
        return Decision(False, "no consent to be contacted")
    if not any(contact.address(c) for c in rule.allowed()):
        return Decision(False, "no address for the rule's channels")
    if not has_access_code:
        return Decision(False, "no usable access code: her link would not open")
    if assessment.status not in STATUSES_FOR[rule.kind]:
        return Decision(False, f"form is {assessment.status}")
    if now >= assessment.closes_at:
        return Decision(False, "window closed")
    due = due_at(rule, assessment, policy, tz)
    if not assessment.opens_at <= due < assessment.closes_at:
        return Decision(False, "falls outside the window", due)
    start = end_of_quiet_hours(due, contact, tz)
    if now < start:
        return Decision(False, "not yet due", due, start)
    if now >= start + dt.timedelta(hours=policy.stale_after_hours):
        return Decision(False, "stale", due, start)
    if contact.in_quiet_hours(now.astimezone(tz).time()):
        return Decision(False, "quiet hours", due, end_of_quiet_hours(now, contact, tz))
    return Decision(True, "due", due, start)


def channel_for(rule: ReminderRule, contact: ContactDetails) -> str | None:
    """The one channel a reminder goes by: her preferred one if the rule allows it."""
    allowed = rule.allowed()
    return next((c for c in contact.channels() if c in allowed), None)
