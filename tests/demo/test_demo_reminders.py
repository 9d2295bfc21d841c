"""The demo's reminders: after seed_demo, a few recent women have (fake) contact details and
the outbox holds their reminders, each with a home link that opens with the demo code."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from surveys.demo.home import DEMO_ACCESS_CODE
from surveys.home.links import check_access_code, resolve_link
from surveys.models import ContactDetails, Message, OutboxMessage
from surveys.outreach.outbox import OUTBOX_EMAIL_BACKEND

pytestmark = pytest.mark.django_db
AS_OF = dt.date(2027, 3, 15)


@pytest.fixture(autouse=True)
def demo_delivery(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EMAIL_BACKEND = OUTBOX_EMAIL_BACKEND
    settings.SMS_BACKEND = "outbox"


def test_the_seeded_demo_has_contacts_and_reminders_in_the_outbox():
    out = io.StringIO()
    call_command("seed_demo", "--as-of", AS_OF.isoformat(), "--no-run", stdout=out)
    assert "reminders in the outbox" in out.getvalue()
    contacts = list(ContactDetails.objects.select_related("participant__site"))
    assert len(contacts) == 4
    assert {c.participant.site.code for c in contacts} & {"NEC", "SEC"}
    assert {c.participant.site.code for c in contacts} & {"WCC", "PRC"}
    assert all(c.email.endswith("@example.org") and c.mobile.startswith("+1555") for c in contacts)
    sent = Message.objects.filter(status=Message.Status.SENT)
    assert sent.exists()
    kept = OutboxMessage.objects.filter(message__in=sent)
    assert {o.channel for o in kept} <= {"email", "sms"} and kept.count() == sent.count()
    now = dt.datetime.combine(AS_OF, dt.time(12), tzinfo=dt.UTC)
    for item in kept:
        (token,) = re.findall(r"/r/([A-Za-z0-9_-]+)", item.body)
        link = resolve_link(token, now=now)
        assert check_access_code(link, DEMO_ACCESS_CODE, now=now)
    client = Client()
    assert client.login(username="coord_east", password="demo-coord-2108")
    page = client.get(reverse("outreach:outbox"))
    assert page.status_code == 200 and "/r/" in page.content.decode()
