"""The reminder task sent the way beat sends it, run by a real Celery worker on Redis; the
worker's email goes by SMTP to an aiosmtpd server on loopback (tests/conftest.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from celery import beat
from django.utils import timezone

from ecogprom.celery import app
from surveys.models import Message, ReminderRule, TaskRun
from surveys.outreach.policy import policy_for
from tests.conftest import WORKER_SMTP_PORT, wait_for
from tests.factories import SiteFactory, coordinator_of, randomize
from tests.outreach.conftest import register
from tests.outreach.helpers import SmtpServer


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_beat_sends_the_reminder_task_and_the_worker_emails_her(celery_worker, tmp_path, trial):
    from surveys.trial.sweep import sweep_assessments

    now = timezone.now()
    site = SiteFactory(code="UTC", name="Anywhere", timezone="UTC")
    coordinator = coordinator_of(site, username="coord_utc")
    today = now.date()
    participant = randomize(trial, site, study_id="E2108-0501", randomized_on=today, now=now)
    sweep_assessments(now=now)
    register(participant, coordinator, email="worker-test@example.org")
    # One rule that fell due at the opening of her (open) baseline window, and long enough
    # not to go stale: it is due whenever this test runs.
    policy = policy_for(trial)
    policy.rules.all().delete()
    policy.rules.create(kind=ReminderRule.Kind.ON_OPEN, days=0, email=True, sms=False)
    policy.send_at = dt.time(0, 0)
    policy.stale_after_hours = 24 * 60
    policy.save()
    with SmtpServer(port=WORKER_SMTP_PORT) as smtp:
        app.loader.import_default_modules()
        service = beat.Service(app=app, schedule_filename=str(tmp_path / "beat-schedule"))
        scheduler = service.get_scheduler()
        try:
            entry = scheduler.schedule["send-reminders"]
            assert entry.task == "surveys.send_reminders"
            scheduler.apply_async(entry, producer=scheduler.producer, advance=False)
        finally:
            scheduler.close()
        run = wait_for(
            lambda: TaskRun.objects.filter(
                name="surveys.send_reminders", finished_at__isnull=False
            ).first(),
            timeout=60,
        )
        assert run.result["sent"] == 1, run.result
        wait_for(lambda: smtp.mailbox.messages, timeout=10)
    message = Message.objects.get()
    assert message.status == Message.Status.SENT and message.participant_id == participant.pk
    assert smtp.mailbox.envelopes[0][1] == ["worker-test@example.org"]
    (body,) = smtp.mailbox.bodies()
    assert "http://testserver/r/" in body
