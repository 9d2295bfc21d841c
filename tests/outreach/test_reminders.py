"""The reminder job against real components: an SMTP server on loopback (aiosmtpd) receives
the emails, a local HTTP server plays the SMS provider; PostgreSQL decides who sends.

The clock is passed in (``now``); the participant's baseline window runs 2027-02-01 to
2027-03-15 at a Chicago site (tests/outreach/conftest.py)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection

from surveys.home.links import resolve_link
from surveys.models import (
    Assessment,
    AuditEvent,
    Message,
    OutboxMessage,
    ReminderRule,
)
from surveys.outreach.policy import policy_for
from surveys.outreach.reminders import send_due_reminders
from surveys.trial.participants import participant_go_off_study
from tests.clinic import complete
from tests.outreach.conftest import SEVEN_BEFORE, TWO_BEFORE, baseline, enroll, register
from tests.outreach.helpers import SmsProvider, SmtpServer

K = ReminderRule.Kind


@pytest.fixture
def smtp(settings):
    with SmtpServer() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = server.port
        settings.DEFAULT_FROM_EMAIL = "reminders@prom.example.org"
        yield server.mailbox


@pytest.fixture
def sms(settings):
    with SmsProvider() as provider:
        settings.SMS_BACKEND = "twilio"
        settings.SMS_API_BASE_URL = provider.url
        settings.SMS_ACCOUNT_SID = "AC0123456789abcdef"
        settings.SMS_AUTH_TOKEN = "sms-token-for-tests"
        settings.SMS_FROM_NUMBER = "+15550009999"
        yield provider


def token_of(text: str) -> str:
    return text.split("http://testserver/r/", 1)[1].split()[0]


@pytest.mark.django_db
def test_a_due_reminder_arrives_by_smtp_with_her_link_and_is_logged(maria, smtp):
    result = send_due_reminders(now=SEVEN_BEFORE)
    assert result["sent"] == 1 and result["claimed"] == 1
    assert smtp.envelopes == [("reminders@prom.example.org", ["maria@example.org"])]
    (email,) = smtp.messages
    assert smtp.subjects() == ["Your study questionnaire is open"]
    (body,) = smtp.bodies()
    assert "open until March 15, 2027" in body
    link = resolve_link(token_of(body), now=SEVEN_BEFORE)  # her link, for this form
    assert link.assessment_id == baseline(maria).pk
    (message,) = Message.objects.all()
    assert message.status == Message.Status.SENT and message.channel == "email"
    assert message.rule_label == "7 days before it closes" and message.language == "en"
    assert message.template == "outreach/reminder_email.txt"
    assert message.sent_at == SEVEN_BEFORE and message.provider_id == email["Message-ID"]
    event = AuditEvent.objects.get(action=AuditEvent.Action.REMINDER)
    assert event.participant_id == maria.pk and event.details["result"] == "sent"
    # production keeps no text: nothing went to an outbox
    assert not OutboxMessage.objects.exists()
    # the same run again, or a later one that day: nothing more
    assert send_due_reminders(now=SEVEN_BEFORE).get("sent", 0) == 0
    assert send_due_reminders(now=SEVEN_BEFORE + dt.timedelta(hours=3)).get("sent", 0) == 0
    assert len(smtp.messages) == 1


@pytest.mark.django_db
def test_spanish_speakers_get_spanish_reminders(trial, chicago, coordinator_chi, smtp):
    ana = enroll(trial, chicago, study_id="E2108-0102", language="es")
    register(ana, coordinator_chi, email="ana@example.org", language="es")
    send_due_reminders(now=SEVEN_BEFORE)
    assert smtp.subjects() == ["Su cuestionario del estudio está abierto"]
    (body,) = smtp.bodies()
    assert "está abierto hasta el 15 de marzo de 2027" in body
    assert "código de acceso" in body and "http://testserver/r/" in body
    assert Message.objects.get().language == "es"


@pytest.mark.django_db
def test_sms_goes_to_the_provider_api_with_basic_auth(trial, chicago, coordinator_chi, sms, smtp):
    rosa = enroll(trial, chicago, study_id="E2108-0103")
    register(rosa, coordinator_chi, mobile="+13125550147", preferred_channel="sms")
    result = send_due_reminders(now=SEVEN_BEFORE)
    assert result["sent"] == 1
    assert smtp.messages == []  # one message per reminder: her preferred channel
    (request,) = sms.requests
    assert request.path == "/2010-04-01/Accounts/AC0123456789abcdef/Messages.json"
    assert request.credentials() == ("AC0123456789abcdef", "sms-token-for-tests")
    assert request.form["To"] == "+13125550147" and request.form["From"] == "+15550009999"
    assert "http://testserver/r/" in request.form["Body"]
    assert len(request.form["Body"]) <= 160
    resolve_link(token_of(request.form["Body"]), now=SEVEN_BEFORE)
    message = Message.objects.get()
    assert message.channel == "sms" and message.provider_id == "SM" + "1".zfill(32)


@pytest.mark.django_db
def test_a_refused_sms_is_recorded_not_raised_and_not_retried(trial, chicago, coordinator_chi, sms):
    sms.fail_with = (400, "The 'To' number is not a valid phone number.")
    rosa = enroll(trial, chicago, study_id="E2108-0104")
    register(rosa, coordinator_chi, mobile="+13125550148", preferred_channel="sms")
    result = send_due_reminders(now=SEVEN_BEFORE)
    assert result["failed"] == 1
    message = Message.objects.get()
    assert message.status == Message.Status.FAILED and message.sent_at is None
    assert message.error == "HTTP 400: The 'To' number is not a valid phone number."
    send_due_reminders(now=SEVEN_BEFORE + dt.timedelta(minutes=15))
    assert len(sms.requests) == 1  # at most one message per reminder


@pytest.mark.django_db
def test_an_smtp_server_that_is_down_is_a_recorded_failure(maria, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    result = send_due_reminders(now=SEVEN_BEFORE)
    assert result["failed"] == 1
    message = Message.objects.get()
    assert message.status == Message.Status.FAILED and "Connection" in message.error


@pytest.mark.django_db
def test_completion_stops_every_later_reminder(maria, smtp):
    send_due_reminders(now=SEVEN_BEFORE)
    complete(baseline(maria), SEVEN_BEFORE + dt.timedelta(hours=1))
    assert baseline(maria).status == Assessment.Status.COMPLETED
    for now in (TWO_BEFORE, TWO_BEFORE + dt.timedelta(hours=5)):
        assert send_due_reminders(now=now).get("sent", 0) == 0
    assert len(smtp.messages) == 1
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_going_off_study_stops_every_later_reminder(maria, smtp, coordinator_chi):
    send_due_reminders(now=SEVEN_BEFORE)
    participant_go_off_study(
        participant=maria,
        off_study_on=dt.date(2027, 3, 10),
        reason="withdrawal",
        actor=coordinator_chi,
        now=SEVEN_BEFORE + dt.timedelta(days=1),
    )
    assert send_due_reminders(now=TWO_BEFORE).get("sent", 0) == 0
    assert len(smtp.messages) == 1


@pytest.mark.django_db
def test_withdrawn_consent_stops_every_later_reminder(maria, smtp, coordinator_chi):
    from surveys.outreach.contacts import contact_withdraw_consent

    send_due_reminders(now=SEVEN_BEFORE)
    assert contact_withdraw_consent(participant=maria, actor=coordinator_chi, now=SEVEN_BEFORE)
    assert send_due_reminders(now=TWO_BEFORE).get("sent", 0) == 0
    assert len(smtp.messages) == 1


@pytest.mark.django_db
def test_a_policy_edit_after_a_reminder_was_scheduled_moves_it_and_sends_no_stale_one(maria, smtp):
    policy = policy_for(maria.trial)
    seven = policy.rules.get(kind=K.BEFORE_CLOSE, days=7)
    # Edited before it fell due: "7 days before" becomes "4 days before" (2027-03-12 10:00 CST).
    seven.days = 4
    seven.save()
    assert send_due_reminders(now=SEVEN_BEFORE).get("sent", 0) == 0
    assert (
        send_due_reminders(now=dt.datetime(2027, 3, 12, 15, 59, tzinfo=dt.UTC)).get("sent", 0) == 0
    )
    assert send_due_reminders(now=dt.datetime(2027, 3, 12, 16, 0, tzinfo=dt.UTC))["sent"] == 1
    assert Message.objects.get().rule_label == "4 days before it closes"
    # Edited so that the other rule fell due long ago: not sent late, not sent at all.
    two = policy.rules.get(kind=K.BEFORE_CLOSE, days=2)
    two.days = 10  # would have been due 2027-03-06
    two.save()
    result = send_due_reminders(now=dt.datetime(2027, 3, 12, 16, 30, tzinfo=dt.UTC))
    assert result.get("sent", 0) == 0 and result["reasons"]["stale"] >= 1
    # A rule switched off before its time sends nothing.
    two.days, two.active = 2, False
    two.save()
    assert send_due_reminders(now=TWO_BEFORE).get("sent", 0) == 0
    assert len(smtp.messages) == 1


@pytest.mark.django_db
def test_a_window_moved_after_a_reminder_was_due_sends_nothing_stale(maria, smtp):
    # The schedule changes under the job (here: her window now ended a week earlier): the
    # reminder it would have sent is computed from the new dates, and is long past.
    form = baseline(maria)
    Assessment.objects.filter(pk=form.pk).update(
        window_end=dt.date(2027, 3, 8), closes_at=dt.datetime(2027, 3, 9, 6, tzinfo=dt.UTC)
    )
    result = send_due_reminders(now=SEVEN_BEFORE)
    assert result.get("sent", 0) == 0 and smtp.messages == []


@pytest.mark.django_db
def test_quiet_hours_defer_a_reminder_to_their_end(trial, chicago, coordinator_chi, smtp):
    policy = policy_for(trial)
    policy.send_at = dt.time(7, 0)
    policy.save()
    lena = enroll(trial, chicago, study_id="E2108-0105")
    register(lena, coordinator_chi, quiet_start=dt.time(21, 0), quiet_end=dt.time(8, 30))
    # 2027-03-09 07:00 CST is due, but she is quiet until 08:30 CST = 14:30 UTC
    assert (
        send_due_reminders(now=dt.datetime(2027, 3, 9, 14, 29, tzinfo=dt.UTC)).get("sent", 0) == 0
    )
    assert send_due_reminders(now=dt.datetime(2027, 3, 9, 14, 30, tzinfo=dt.UTC))["sent"] == 1


@pytest.mark.django_db
def test_two_rules_due_at_once_send_one_message(maria, smtp):
    policy = policy_for(maria.trial)
    policy.rules.create(kind=K.AFTER_OPEN, days=36, email=True, sms=False)  # 2027-03-09 too
    result = send_due_reminders(now=SEVEN_BEFORE)
    assert result["sent"] == 1 and result["superseded"] == 1
    assert len(smtp.messages) == 1
    assert set(Message.objects.values_list("status", flat=True)) == {"sent", "superseded"}


@pytest.mark.django_db(transaction=True)
def test_two_beats_at_once_send_one_message_per_reminder(trial, chicago, coordinator_chi, smtp):
    people = [enroll(trial, chicago, study_id=f"E2108-02{i:02d}") for i in range(12)]
    for person in people:
        register(person, coordinator_chi)
    policy_for(trial)
    start = threading.Barrier(3)
    results: list[dict] = []
    errors: list[BaseException] = []

    def beat() -> None:
        try:
            start.wait(timeout=10)
            results.append(send_due_reminders(now=SEVEN_BEFORE))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=beat) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(r.get("sent", 0) for r in results) == 12
    assert Message.objects.filter(status="sent").count() == 12
    assert len(smtp.messages) == 12
    assert sorted(rcpt[0] for _, rcpt in smtp.envelopes) == sorted(
        f"{p.study_id.lower()}@example.org" for p in people
    )


@pytest.mark.django_db
def test_reminders_sent_count_as_contact_attempts_on_the_needs_a_call_rows(maria, smtp):
    from surveys.home.calls import contact_attempts_subquery

    def attempts() -> int:
        return (
            Assessment.objects.filter(pk=baseline(maria).pk)
            .annotate(n=contact_attempts_subquery())
            .get()
            .n
        )

    assert attempts() == 0
    send_due_reminders(now=SEVEN_BEFORE)
    assert attempts() == 1
