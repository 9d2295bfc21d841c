"""From a window that opens to a form answered at home, on a phone, in Chromium.

The sweep opens her 6-month window today; the reminder job sends its email by SMTP to an
aiosmtpd server on loopback; the link in that email opens on a phone-sized screen, asks
her access code, and her form: she answers every question, the network drops once on the
way (her answers wait in the page and arrive once it is back), and she sends it. The
assessment is completed, with mode "home"; the link then refuses a second use.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from surveys.home.links import issue_access_code
from surveys.models import Assessment, Message, ReminderRule, Response
from surveys.outreach.contacts import ContactInput, contact_save
from surveys.outreach.policy import policy_for
from surveys.outreach.reminders import send_due_reminders
from surveys.trial.setup import trial_create_e2108
from surveys.trial.sweep import sweep_assessments
from tests.browser.conftest import answer, check_page, shot, wait_saved
from tests.browser.test_tablet import sections, value_for
from tests.clinic import site_today
from tests.factories import SiteFactory, coordinator_of, randomize
from tests.outreach.helpers import SmtpServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}
CODE = "135790"


def opening_today(trial, site) -> dt.date:
    """A randomization date whose 6-month window opens today at the site."""
    visit = trial.visits.get(code="m6")
    today = site_today(site, timezone.now())
    for back in range(150, 240):
        day = today - dt.timedelta(days=back)
        if visit.window(day)[0] == today:
            return day
    raise AssertionError("no randomization date opens the 6-month window today")


def test_a_reminder_email_leads_her_to_answer_at_home_on_her_phone(browser, live_server, settings):
    trial = trial_create_e2108()
    site = SiteFactory(code="HOM", name="Home site", timezone="America/Chicago")
    coordinator = coordinator_of(site, username="coord_home")
    now = timezone.now()
    # Registered last night, a minute before the window opened at midnight (site time).
    last_night = form_opening = dt.datetime.combine(
        site_today(site, now), dt.time(0), tzinfo=site.tzinfo
    )
    last_night -= dt.timedelta(minutes=1)
    participant = randomize(
        trial,
        site,
        study_id="E2108-0901",
        randomized_on=opening_today(trial, site),
        now=last_night,
    )
    form = Assessment.objects.get(participant=participant, visit__code="m6")
    assert form.status == Assessment.Status.SCHEDULED and form.opens_at == form_opening
    contact_save(
        participant=participant,
        data=ContactInput("maria@example.org", "", "email", "en", None, None, True),
        actor=coordinator,
        now=now,
    )
    issue_access_code(participant, actor=coordinator, now=now, code=CODE)
    # Reminders when the window opens, from its first minute (the demo policy's timing).
    policy = policy_for(trial)
    policy.send_at = dt.time(0, 0)
    policy.save()
    policy.rules.exclude(kind=ReminderRule.Kind.ON_OPEN).update(active=False)
    settings.PUBLIC_BASE_URL = live_server.url

    with SmtpServer() as smtp:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp.port
        # The window opens (the sweep), and the reminder job runs.
        sweep_assessments(now=timezone.now())
        form.refresh_from_db()
        assert form.status == Assessment.Status.OPEN
        result = send_due_reminders(now=timezone.now())
        assert result["sent"] == 1, result
        (body,) = smtp.mailbox.bodies()
    assert smtp.mailbox.envelopes[0][1] == ["maria@example.org"]
    (link,) = re.findall(rf"{re.escape(live_server.url)}/r/[A-Za-z0-9_-]+", body)
    assert Message.objects.get().status == Message.Status.SENT

    context = browser.new_context(viewport=PHONE, locale="en-US", is_mobile=True)
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        page.goto(link)
        assert page.locator("#access-code").get_attribute("inputmode") == "numeric"
        check_page(page, "home-01-access-code", patient=True)
        page.fill("#access-code", CODE)
        page.click("text=Open the questionnaire")
        page.click("text=Begin")
        dropped = False
        for section in sections(form):
            page.wait_for_url(f"**/tablet/page/{section.code}/")
            if not dropped and section.code == "SWB":
                page.wait_for_selector("main[data-offline-ready='true']", timeout=30_000)
                context.set_offline(True)
                for index, code in enumerate(section.items[:3]):
                    answer(page, code, value_for(index))
                page.wait_for_selector("[data-save-status][data-state='offline']")
                shot(page, "home-02-offline")
                context.set_offline(False)
                dropped = True
            for index, code in enumerate(section.items):
                answer(page, code, value_for(index))
            wait_saved(page, form.pk)
            page.click("button[value=next]")
        assert dropped
        page.wait_for_url("**/tablet/review/")
        assert "You have answered every question." in page.inner_text("main")
        page.click("text=Send my answers")
        page.wait_for_url("**/tablet/done/")
        shot(page, "home-03-done")

        form.refresh_from_db()
        assert form.status == Assessment.Status.COMPLETED
        assert form.mode == Assessment.Mode.HOME
        stored = dict(Response.objects.filter(assessment=form).values_list("item_code", "value"))
        assert len(stored) == 46
        for section in sections(form):
            for index, code in enumerate(section.items):
                assert stored[code] == value_for(index), code
        # The link refuses a second use.
        again = context.new_page()
        response = again.goto(link)
        assert response is not None and response.status == 410
        assert "already been sent" in again.inner_text("main")
    finally:
        context.close()
