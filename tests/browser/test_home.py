"""At home on a phone (390 × 844): her link, her access code, her one form, the network
dropping once, the submission in mode "home"; then every refused link, each a clear page with
nothing stored."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from surveys.home.links import MAX_CODE_FAILURES, issue_access_code, issue_link
from surveys.models import AnswerTap, Assessment, AuditEvent, HomeAccess, KioskSession, Response
from tests.browser.conftest import answer, check_page, make_patient, scrolls_sideways, wait_saved

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}
CODE = "135790"


@pytest.fixture
def phone(browser, live_server) -> Any:
    ctx = browser.new_context(
        viewport=PHONE, base_url=live_server.url, locale="en-US", is_mobile=True, has_touch=True
    )
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


def home_patient(code: str = CODE) -> tuple[Any, str]:
    patient = make_patient()
    now = timezone.now()
    issue_access_code(patient.assessment.participant, actor=patient.coordinator, now=now, code=code)
    return patient, issue_link(patient.assessment, actor=None, now=now)


def stored_state() -> tuple[int, int, int]:
    return KioskSession.objects.count(), Response.objects.count(), AnswerTap.objects.count()


def refused(page: Any, url: str, status: int, text: str, name: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status == status, (url, response and response.status)
    assert text in page.inner_text("h1")
    assert scrolls_sideways(page) == []
    check_page(page, name)


def test_she_answers_at_home_on_her_phone_with_the_network_dropping_once(phone):
    patient, url = home_patient()
    assessment = patient.assessment
    page = phone.new_page()
    opened = page.goto(url)
    assert opened is not None and opened.status == 200
    assert "access code" in page.inner_text("main")
    assert scrolls_sideways(page) == []
    check_page(page, "home-01-access-code")
    page.fill("#access-code", CODE)
    page.click("text=Open the questionnaire")
    page.wait_for_url("**/tablet/intro/")
    assert KioskSession.objects.get().mode == "home"
    assert "Clinic staff only" not in page.inner_text("body")
    check_page(page, "home-02-intro")
    page.click("text=Begin")
    page.wait_for_url("**/tablet/page/PWB/")
    page.wait_for_selector("main[data-offline-ready='true']", timeout=30_000)
    answer(page, "GP1", 1)
    wait_saved(page, assessment.pk)
    assert scrolls_sideways(page) == []
    check_page(page, "home-03-PWB")

    phone.set_offline(True)  # the network drops once
    answer(page, "GP2", 3)
    page.wait_for_selector("[data-save-status][data-state='offline']")
    assert dict(Response.objects.values_list("item_code", "value")) == {"GP1": 1}
    phone.set_offline(False)
    wait_saved(page, assessment.pk)
    assert dict(Response.objects.values_list("item_code", "value")) == {"GP1": 1, "GP2": 3}

    page.goto("/tablet/review/")
    check_page(page, "home-04-review")
    page.click("text=Send my answers")
    page.wait_for_url("**/tablet/done/")
    assert "You can close this page." in page.inner_text("main")
    check_page(page, "home-05-done")
    assessment.refresh_from_db()
    assert assessment.status == Assessment.Status.COMPLETED
    assert assessment.mode == Assessment.Mode.HOME and assessment.phone_staff is None
    assert AuditEvent.objects.filter(action="kiosk_start", details__mode="home").count() == 1

    # The link refuses a second use, in this browser and in another.
    before = stored_state()
    refused(page, url, 410, "already been sent", "home-06-second-use")
    other = phone.browser.new_context(viewport=PHONE, base_url=page.url.split("/tablet")[0])
    try:
        again = other.new_page().goto(url)
        assert again is not None and again.status == 410
    finally:
        other.close()
    assert stored_state() == before


def test_wrong_links_are_refused_with_a_clear_page_and_nothing_stored(phone):
    patient, url = home_patient()
    other, other_url = home_patient(code="246802")
    page = phone.new_page()
    before = stored_state()

    # Another assessment's link: her own code does not open it.
    page.goto(other_url)
    page.fill("#access-code", CODE)
    page.click("text=Open the questionnaire")
    assert "not right" in page.inner_text("[role=alert]")
    assert "/tablet/" not in page.url
    assert HomeAccess.objects.get(participant=other.assessment.participant).failed_attempts == 1

    # A tampered token.
    token = url.removeprefix("/r/")
    refused(page, "/r/" + token[:-3] + ("xyz" if token[-3:] != "xyz" else "abc"), 404,
            "not valid", "home-07-tampered")  # fmt: skip

    # After the window closed.
    Assessment.objects.filter(pk=patient.assessment.pk).update(
        closes_at=timezone.now() - dt.timedelta(minutes=1)
    )
    refused(page, url, 410, "closed", "home-08-closed")

    # Too many wrong codes lock the link (the other one, still open).
    page.goto(other_url)
    for _ in range(MAX_CODE_FAILURES - 1):
        page.fill("#access-code", "000000")
        page.click("text=Open the questionnaire")
    page.wait_for_load_state()
    assert "locked" in page.inner_text("h1")
    check_page(page, "home-09-locked")
    refused(page, other_url, 403, "locked", "home-10-locked-again")
    assert HomeAccess.objects.get(participant=other.assessment.participant).locked_at is not None
    assert AuditEvent.objects.filter(action="home_locked").count() == 1
    assert stored_state() == before
