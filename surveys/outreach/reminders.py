"""The reminder job: every due reminder sent once, every condition checked when it goes.

``send_due_reminders(now=...)`` (beat: ``surveys.send_reminders``, every 15 minutes)
looks at every open form of a participant who consented to be contacted, asks
:func:`surveys.outreach.policy.decide` about each rule of her trial's policy, and
sends what is due *now*. A reminder is claimed before it is sent: its
:class:`~surveys.models.Message` row is inserted first (``INSERT ... ON CONFLICT DO
NOTHING RETURNING``) and the unique constraint on (assessment, rule) lets exactly one
run through, however often or concurrently beat runs. Then it is delivered and the
row records the result (a failure is recorded, not retried: at most one message per
reminder). When two rules of one form are due at the same moment only the later
one is sent; the other is recorded as superseded.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import get_connection
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.utils import translation

from surveys.home.links import issue_link
from surveys.models import (
    Assessment,
    AuditEvent,
    Channel,
    ContactDetails,
    HomeAccess,
    Message,
    Participant,
    ReminderPolicy,
    ReminderRule,
    Trial,
    actor_fields,
)
from surveys.outreach.delivery import Delivery, send_email, send_sms
from surveys.outreach.policy import channel_for, decide, policy_for

log = logging.getLogger(__name__)
ACTOR = "system:reminders"
BATCH = 500
TEMPLATES: dict[str, str] = {
    Channel.EMAIL.value: "outreach/reminder_email.txt",
    Channel.SMS.value: "outreach/reminder_sms.txt",
}
SUBJECT_TEMPLATE = "outreach/reminder_subject.txt"
_CLAIM_COLUMNS = (
    "participant_id",
    "assessment_id",
    "rule_id",
    "rule_label",
    "channel",
    "language",
    "template",
    "due_at",
    "created_at",
    "status",
    "error",
    "provider_id",
)


@dataclass
class Due:
    assessment: Assessment
    rule: ReminderRule
    channel: str
    due: dt.datetime
    status: str = Message.Status.SENDING


def candidates() -> Any:
    """Forms that could have a reminder due: open windows of consenting, on-study women.

    (Whether she holds a usable access code is asked of each row by ``decide``, so
    that the job's result counts the women it could not remind for want of one.)
    """
    return (
        Assessment.objects.filter(
            status__in=Assessment.ACTIVE,
            participant__off_study_on__isnull=True,
            participant__contact__consent=True,
            participant__contact__erased_at__isnull=True,
            participant__trial__reminder_policy__enabled=True,
        )
        .select_related("participant__site", "participant__contact", "participant__home_access")
        .order_by("pk")
    )


def _has_access_code(participant: Participant) -> bool:
    try:
        access = participant.home_access
    except HomeAccess.DoesNotExist:
        return False
    return not access.is_locked


def _due_in(
    batch: list[Assessment],
    policies: dict[int, tuple[ReminderPolicy, list[ReminderRule]]],
    *,
    now: dt.datetime,
    reasons: Counter[str],
) -> list[Due]:
    done = set(Message.objects.filter(assessment__in=batch).values_list("assessment_id", "rule_id"))
    due: list[Due] = []
    for assessment in batch:
        participant = assessment.participant
        policy, rules = policies[participant.trial_id]
        contact: ContactDetails = participant.contact
        tz = participant.site.tzinfo
        mine: list[Due] = []
        for rule in rules:
            if (assessment.pk, rule.pk) in done:
                continue
            decision = decide(
                rule=rule,
                assessment=assessment,
                policy=policy,
                contact=contact,
                tz=tz,
                now=now,
                off_study=participant.off_study_on is not None,
                has_access_code=_has_access_code(participant),
            )
            reasons[decision.why] += 1
            channel = channel_for(rule, contact) if decision.send else None
            if channel is not None and decision.due is not None:
                mine.append(Due(assessment, rule, channel, decision.due))
        if mine:
            mine.sort(key=lambda d: d.due)
            for earlier in mine[:-1]:
                earlier.status = Message.Status.SUPERSEDED
            due.extend(mine)
    return due


def _claim(due: list[Due], *, now: dt.datetime) -> dict[tuple[int, int], int]:
    """Insert the Message rows first; the ones this run inserted are its to send."""
    if not due:
        return {}
    ops, quote = connection.ops, connection.ops.quote_name
    rows = []
    for d in due:
        contact = d.assessment.participant.contact
        rows.append(
            (
                d.assessment.participant_id,
                d.assessment.pk,
                d.rule.pk,
                str(d.rule)[:100],
                d.channel,
                contact.language,
                TEMPLATES[d.channel],
                ops.adapt_datetimefield_value(d.due),
                ops.adapt_datetimefield_value(now),
                d.status,
                "",
                "",
            )
        )
    values = ", ".join(["(" + ", ".join(["%s"] * len(_CLAIM_COLUMNS)) + ")"] * len(rows))
    sql = (
        f"INSERT INTO {quote(Message._meta.db_table)} "
        f"({', '.join(quote(c) for c in _CLAIM_COLUMNS)}) VALUES {values} "
        "ON CONFLICT DO NOTHING RETURNING id, assessment_id, rule_id"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [value for row in rows for value in row])
        return {(a, r): pk for pk, a, r in cursor.fetchall()}


def render_reminder(
    *, assessment: Assessment, channel: str, language: str, link: str
) -> tuple[str, str]:
    """The subject (email) and text of a reminder, in her language."""
    tz = assessment.participant.site.tzinfo
    context = {
        "link": link,
        "last_day": assessment.window_end,
        "closes_at": assessment.closes_at.astimezone(tz),
        "study_id": assessment.participant.study_id,
    }
    with translation.override(language):
        subject = (
            render_to_string(SUBJECT_TEMPLATE, context).strip() if channel == Channel.EMAIL else ""
        )
        body = render_to_string(TEMPLATES[channel], context).strip() + "\n"
    return subject, body


def deliver(message: Message, *, assessment: Assessment, now: dt.datetime, mail: Any) -> Delivery:
    """Issue her link, render the reminder in her language and send it by its channel."""
    contact = assessment.participant.contact
    path = issue_link(assessment, actor=None, now=now)
    link = f"{settings.PUBLIC_BASE_URL}{path}"
    subject, body = render_reminder(
        assessment=assessment, channel=message.channel, language=message.language, link=link
    )
    to = contact.address(message.channel)
    if message.channel == Channel.EMAIL:
        return send_email(to=to, subject=subject, body=body, message=message, connection=mail)
    return send_sms(to=to, body=body, message=message)


def send_due_reminders(*, now: dt.datetime) -> dict[str, Any]:
    """Send every reminder due at *now*; return what happened (counts and reasons)."""
    if not settings.PUBLIC_BASE_URL:
        return {"error": "PUBLIC_BASE_URL is not set: reminders would carry no usable link"}
    for trial in Trial.objects.filter(reminder_policy__isnull=True):
        policy_for(trial)
    policies = {
        policy.trial_id: (policy, [r for r in policy.rules.all() if r.active])
        for policy in ReminderPolicy.objects.filter(enabled=True).prefetch_related("rules")
    }
    reasons: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    mail = get_connection(fail_silently=False)
    ids = list(candidates().values_list("pk", flat=True))
    try:
        for start in range(0, len(ids), BATCH):
            batch = list(candidates().filter(pk__in=ids[start : start + BATCH]))
            counts["forms"] += len(batch)
            due = _due_in(batch, policies, now=now, reasons=reasons)
            claimed = _claim(due, now=now)
            counts["claimed"] += len(claimed)
            counts["lost_to_another_run"] += len(due) - len(claimed)
            sent = _deliver_claimed(due, claimed, now=now, mail=mail)
            counts.update(sent)
    finally:
        mail.close()
    return {**counts, "reasons": dict(reasons)}


def _deliver_claimed(
    due: list[Due], claimed: dict[tuple[int, int], int], *, now: dt.datetime, mail: Any
) -> Counter[str]:
    outcome: Counter[str] = Counter()
    finished: list[Message] = []
    events: list[AuditEvent] = []
    for d in due:
        pk = claimed.get((d.assessment.pk, d.rule.pk))
        if pk is None:
            continue
        if d.status == Message.Status.SUPERSEDED:
            outcome["superseded"] += 1
            continue
        message = Message(
            pk=pk,
            participant_id=d.assessment.participant_id,
            assessment=d.assessment,
            rule=d.rule,
            channel=d.channel,
            language=d.assessment.participant.contact.language,
        )
        try:
            result = deliver(message, assessment=d.assessment, now=now, mail=mail)
        except Exception as exc:  # a bug or a broken template: recorded; the batch goes on
            log.exception("reminder %s could not be delivered", pk)
            result = Delivery(False, error=f"{type(exc).__name__}: {exc}"[:500])
        message.status = Message.Status.SENT if result.ok else Message.Status.FAILED
        message.sent_at = now if result.ok else None
        message.error, message.provider_id = result.error, result.provider_id[:100]
        finished.append(message)
        outcome["sent" if result.ok else "failed"] += 1
        events.append(
            AuditEvent(
                at=now,
                action=AuditEvent.Action.REMINDER,
                participant_id=d.assessment.participant_id,
                assessment=d.assessment,
                reason="sent" if result.ok else "failed",
                details={
                    "channel": d.channel,
                    "rule": str(d.rule),
                    "message": pk,
                    "result": message.status,
                    "error": result.error,
                },
                **actor_fields(ACTOR),
            )
        )
    Message.objects.bulk_update(
        finished, ["status", "sent_at", "error", "provider_id"], batch_size=100
    )
    AuditEvent.objects.bulk_create(events)
    return outcome
