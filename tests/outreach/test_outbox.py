"""The demo's outbox: reminders delivered to a page a coordinator opens in the browser."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from surveys.home.links import resolve_link
from surveys.models import Message, OutboxMessage
from surveys.outreach.outbox import OUTBOX_EMAIL_BACKEND
from surveys.outreach.reminders import send_due_reminders
from tests.factories import coordinator_of
from tests.outreach.conftest import SEVEN_BEFORE, enroll, register

pytestmark = pytest.mark.django_db


@pytest.fixture
def outbox(settings):
    settings.EMAIL_BACKEND = OUTBOX_EMAIL_BACKEND
    settings.SMS_BACKEND = "outbox"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_reminders_land_in_the_outbox_with_a_link_that_opens(
    outbox, trial, chicago, coordinator_chi, site_a
):
    maria = enroll(trial, chicago, study_id="E2108-0401")
    register(maria, coordinator_chi, email="maria@example.org")
    rosa = enroll(trial, chicago, study_id="E2108-0402")
    register(rosa, coordinator_chi, mobile="+13125550147", preferred_channel="sms")
    assert send_due_reminders(now=SEVEN_BEFORE)["sent"] == 2
    kept = {o.channel: o for o in OutboxMessage.objects.all()}
    assert set(kept) == {"email", "sms"}
    assert kept["email"].to == "maria@example.org" and kept["sms"].to == "+13125550147"
    assert kept["email"].message == Message.objects.get(participant=maria)
    assert Message.objects.get(participant=rosa).provider_id == f"outbox-{kept['sms'].pk}"
    page = client_for(coordinator_chi).get(reverse("outreach:outbox"))
    assert page.status_code == 200
    html = page.content.decode()
    links = re.findall(r'<a href="(http://testserver/r/[A-Za-z0-9_-]+)"', html)
    assert len(links) == 2
    for link in links:
        resolve_link(link.rsplit("/", 1)[1], now=SEVEN_BEFORE)
    assert "E2108-0401" in html and "7 days before it closes" in html
    # another site's coordinator sees none of it
    other = client_for(coordinator_of(site_a, username="coord_other"))
    assert "E2108-0401" not in other.get(reverse("outreach:outbox")).content.decode()


def test_no_outbox_when_messages_really_go_out(settings, coordinator_chi):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.SMS_BACKEND = "twilio"
    assert client_for(coordinator_chi).get(reverse("outreach:outbox")).status_code == 404


def test_her_page_lists_the_reminders_sent(outbox, maria, coordinator_chi):
    send_due_reminders(now=SEVEN_BEFORE)
    html = (
        client_for(coordinator_chi)
        .get(reverse("coordinator:participant", args=[maria.pk]))
        .content.decode()
    )
    assert 'id="reminders"' in html
    assert "7 days before it closes" in html and "Sent" in html and "EN" in html
