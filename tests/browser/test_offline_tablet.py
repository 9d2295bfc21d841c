"""The tablet without a network, and two tablets for one questionnaire, in Chromium.

Issue 12, defects 1 and 8: a replaced tablet's offline taps were thrown away
(403 ``kiosk_ended``, the queue emptied, "Your answers saved so far are kept"
on the screen, the database holding the first answer only); a reload while
offline showed the browser's own error page, and "Next" waited for the
network. Here every tapped answer reaches the database exactly once with her
last value, the reload comes from the service worker's copy (checked: the
response is the worker's, the server saw no request, the page is the copy
rendered before the network went), and Next/Back work offline.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from django.utils import timezone

from surveys.models import AnswerTap, Assessment, AuditEvent, KioskSession, Response
from surveys.tablet.kiosk import kiosk_start, kiosk_submit
from tests.browser.conftest import (
    PIN,
    answer,
    check_page,
    make_patient,
    open_kiosk,
    wait_saved,
)
from tests.browser.test_tablet import hand_over_in_the_browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def queue_of(page: Any, assessment_id: int) -> list[dict[str, Any]]:
    raw = page.evaluate(f"localStorage.getItem('ecogprom.tablet.queue.{assessment_id}')")
    return json.loads(raw) if raw else []


def offline_ready(page: Any) -> None:
    """The service worker controls the page and has kept the form's pages."""
    page.wait_for_selector("main[data-offline-ready='true']", timeout=30_000)
    assert page.evaluate("navigator.serviceWorker.controller !== null")


def stored(assessment: Assessment) -> dict[str, int | None]:
    return dict(Response.objects.filter(assessment=assessment).values_list("item_code", "value"))


def test_reload_while_offline_shows_the_form_with_her_queued_answers_and_next_works(
    context, live_server, page, patient
):
    assessment = patient.assessment
    open_kiosk(context, live_server, patient)
    page.goto("/tablet/page/PWB/")
    offline_ready(page)
    page.reload()  # now under the worker's control from the first byte
    offline_ready(page)
    answer(page, "GP1", 1)
    wait_saved(page, assessment.pk)
    rendered = page.get_attribute("main", "data-rendered-at")

    context.set_offline(True)
    answer(page, "GP2", 3)
    answer(page, "GP3", 0)
    page.wait_for_selector("[data-save-status][data-state='offline']")
    assert [e["item"] for e in queue_of(page, assessment.pk)] == ["GP2", "GP3"]

    reloaded = page.reload()
    assert reloaded is not None and reloaded.from_service_worker
    # The worker's kept copy, not a page the server rendered again.
    assert page.get_attribute("main", "data-rendered-at") == rendered
    assert not page.url.startswith("chrome-error:")
    assert page.inner_text("h1") == "Physical well-being"
    # Her queued taps are on the page again, with the one the server has.
    for code, value in (("GP1", 1), ("GP2", 3), ("GP3", 0)):
        assert page.is_checked(f"#{code}-{value}"), code
    assert page.locator("[data-answered-text]").inner_text() == "3 of 46 questions answered"
    assert "Waiting for the network" in page.inner_text("[data-save-status]")
    check_page(page, "offline-reload-PWB")

    # Next works offline: the next section comes from the worker, her answers stay queued.
    page.click("button[value=next]")
    page.wait_for_url("**/tablet/page/SWB/")
    assert page.inner_text("h1") == "Social/family well-being"
    answer(page, "GS1", 4)
    page.click("button[value=back]")
    page.wait_for_url("**/tablet/page/PWB/")
    assert page.is_checked("#GP2-3") and page.is_checked("#GP3-0")
    page.click("button[value=next]")
    page.wait_for_url("**/tablet/page/SWB/")
    assert page.is_checked("#GS1-4")
    assert stored(assessment) == {"GP1": 1}

    # The review needs the network: our own page says so (not the browser's error page).
    page.goto("/tablet/review/")
    assert not page.url.startswith("chrome-error:")
    assert "This page needs the network" in page.inner_text("h1")
    check_page(page, "offline-review")

    context.set_offline(False)
    page.wait_for_url("**/tablet/review/", timeout=30_000)
    page.wait_for_selector("h1:has-text('Check your answers')", timeout=30_000)
    page.wait_for_function(f"() => !localStorage.getItem('ecogprom.tablet.queue.{assessment.pk}')")
    assert stored(assessment) == {"GP1": 1, "GP2": 3, "GP3": 0, "GS1": 4}
    assert Response.objects.filter(assessment=assessment, revision=1).count() == 4
    assert AnswerTap.objects.filter(assessment=assessment).count() == 4
    assert "42 questions have no answer yet." in page.inner_text("main")


def test_next_is_not_held_back_by_a_short_outage(context, live_server, page, patient):
    """Issue 12 defect 8: "Next" was blocked while offline (released 6 s after a 4 s outage)."""
    assessment = patient.assessment
    open_kiosk(context, live_server, patient)
    page.goto("/tablet/page/EWB/")
    offline_ready(page)
    context.set_offline(True)
    answer(page, "GE1", 2)
    page.click("button[value=next]")
    page.wait_for_url("**/tablet/page/FWB/", timeout=5_000)  # at once, not after the outage
    assert [e["item"] for e in queue_of(page, assessment.pk)] == ["GE1"]
    context.set_offline(False)
    wait_saved(page, assessment.pk)
    assert stored(assessment) == {"GE1": 2}


def test_a_replaced_tablet_delivers_its_offline_taps_and_the_second_tablet_shows_them(
    browser, live_server, patient
):
    """Issue 12 defect 1, in two browsers: tablet 1 offline, hand-over on tablet 2."""
    assessment = patient.assessment
    first = browser.new_context(viewport={"width": 768, "height": 1024}, base_url=live_server.url)
    second = browser.new_context(viewport={"width": 768, "height": 1024}, base_url=live_server.url)
    try:
        tablet1 = first.new_page()
        old_session = open_kiosk(first, live_server, patient)
        tablet1.goto("/tablet/page/PWB/")
        offline_ready(tablet1)
        answer(tablet1, "GP1", 1)
        wait_saved(tablet1, assessment.pk)

        first.set_offline(True)
        for code, value in (("GP2", 2), ("GP3", 4), ("GP4", 0), ("GP5", 3)):
            answer(tablet1, code, value)
        answer(tablet1, "GP3", 1)  # she changes her mind, still offline
        tablet1.wait_for_selector("[data-save-status][data-state='offline']")
        assert [(e["item"], e["value"]) for e in queue_of(tablet1, assessment.pk)] == [
            ("GP2", 2),
            ("GP3", 4),
            ("GP4", 0),
            ("GP5", 3),
            ("GP3", 1),
        ]

        # The coordinator hands the same questionnaire over on tablet 2; she answers GP5
        # again there (later than on tablet 1) and GP6 for the first time.
        tablet2 = second.new_page()
        open_kiosk(second, live_server, patient)
        tablet2.goto("/tablet/page/PWB/")
        assert tablet2.is_checked("#GP1-1")
        answer(tablet2, "GP5", 4)
        answer(tablet2, "GP6", 2)
        wait_saved(tablet2, assessment.pk)
        old_session.refresh_from_db()
        assert old_session.end_reason == KioskSession.EndReason.REPLACED

        first.set_offline(False)  # tablet 1 comes back: its queue drains, nothing is lost
        tablet1.wait_for_function(
            f"() => !localStorage.getItem('ecogprom.tablet.queue.{assessment.pk}')",
            timeout=30_000,
        )
        assert stored(assessment) == {"GP1": 1, "GP2": 2, "GP3": 1, "GP4": 0, "GP5": 4, "GP6": 2}
        taps = AnswerTap.objects.filter(assessment=assessment)
        assert taps.count() == 8  # GP1, the five taps queued on tablet 1, two on tablet 2
        assert taps.values("idempotency_key").distinct().count() == 8
        late = taps.filter(kiosk_session=old_session, from_ended_session=True)
        assert list(late.order_by("tapped_at").values_list("item_code", "value", "outcome")) == [
            ("GP2", 2, "created"),
            ("GP3", 4, "created"),
            ("GP4", 0, "created"),
            ("GP5", 3, "older"),  # tapped on tablet 1 before her GP5 on tablet 2: not applied
            ("GP3", 1, "changed"),  # her change of mind, offline
        ]
        events = AuditEvent.objects.filter(assessment=assessment, action="late_answer")
        assert sorted(e.details["item"] for e in events) == ["GP2", "GP3", "GP3", "GP4", "GP5"]
        assert {e.details["kiosk_session"] for e in events} == {old_session.pk}

        # Tablet 1 stops asking questions and tells the truth; then shows the server's page.
        tablet1.wait_for_selector("h1:has-text('This tablet session has ended')", timeout=30_000)
        assert "handed over on another tablet" in tablet1.inner_text("main")
        assert "kept for the clinic staff" not in tablet1.inner_text("main")
        check_page(tablet1, "replaced-tablet-ended")

        # Tablet 2 shows every answer.
        tablet2.reload()
        for code, value in (("GP1", 1), ("GP2", 2), ("GP3", 1), ("GP4", 0), ("GP5", 4), ("GP6", 2)):
            assert tablet2.is_checked(f"#{code}-{value}"), code
        assert tablet2.locator("[data-answered-text]").inner_text() == "6 of 46 questions answered"
    finally:
        first.close()
        second.close()


def test_answers_reaching_a_submitted_questionnaire_are_kept_for_the_coordinator(
    browser, live_server, patient
):
    assessment = patient.assessment
    first = browser.new_context(viewport={"width": 768, "height": 1024}, base_url=live_server.url)
    try:
        tablet1 = first.new_page()
        open_kiosk(first, live_server, patient)
        tablet1.goto("/tablet/page/BCS/")
        offline_ready(tablet1)
        answer(tablet1, "B1", 2)
        wait_saved(tablet1, assessment.pk)
        first.set_offline(True)
        answer(tablet1, "B2", 3)
        answer(tablet1, "B3", 1)
        tablet1.wait_for_selector("[data-save-status][data-state='offline']")

        # Meanwhile she finishes on tablet 2, which sends the questionnaire.
        replacement = kiosk_start(
            assessment_id=assessment.pk,
            started_by=patient.coordinator,
            pin=PIN,
            assistance="none",
            now=timezone.now(),
        )
        kiosk_submit(token=replacement.token, now=timezone.now())
        assessment.refresh_from_db()
        assert assessment.status == Assessment.Status.COMPLETED

        first.set_offline(False)
        tablet1.wait_for_function(
            f"() => !localStorage.getItem('ecogprom.tablet.queue.{assessment.pk}')",
            timeout=30_000,
        )
        tablet1.wait_for_selector("[data-save-status][data-state='kept']")
        status = tablet1.inner_text("[data-save-status]")
        assert "could not be saved" in status and "kept for the clinic staff" in status
        assert stored(assessment) == {"B1": 2}  # the completed form is not touched
        kept = AnswerTap.objects.preserved().filter(assessment=assessment)
        assert sorted(kept.values_list("item_code", "value", "closed_reason")) == [
            ("B2", 3, "completed"),
            ("B3", 1, "completed"),
        ]
        tablet1.wait_for_selector("h1:has-text('This tablet session has ended')", timeout=30_000)
        assert "2 answers from this tablet arrived after the questionnaire had closed" in (
            tablet1.inner_text("main")
        )
    finally:
        first.close()


SESSION_CACHES = """async () => (await caches.keys())
    .filter(name => name.startsWith('ecogprom-tablet-session-'))
    .map(name => name.slice('ecogprom-tablet-session-'.length))"""


def kept_sessions(page: Any) -> list[str]:
    return sorted(page.evaluate(SESSION_CACHES))


def test_one_patients_kept_pages_never_reach_the_next_patient(context, live_server, page, db):
    """Take-back and submission drop the session's copies; the next patient's are her own."""
    first = make_patient()
    kiosk_a = open_kiosk(context, live_server, first)
    page.goto("/tablet/page/PWB/")
    offline_ready(page)
    answer(page, "GP1", 4)
    wait_saved(page, first.assessment.pk)
    assert kept_sessions(page) == [str(kiosk_a.pk)]

    # The coordinator takes the tablet back with the PIN.
    page.click("a.staff-link")
    page.wait_for_url("**/tablet/exit/")
    page.fill("form.pin-form input[name=pin]", PIN)
    page.click("form.pin-form button")
    page.wait_for_url(re.compile(r".*/accounts/login/\?next=.*"))
    page.wait_for_function(f"async () => ({SESSION_CACHES})().then(ids => ids.length === 0)")
    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('ecogprom.'))") == []

    # The next patient on the same tablet, handed over through the coordinator's pages (their
    # form posts go through the installed service worker): her form shows nothing of the
    # first one's, even offline.
    second = make_patient()
    hand_over_in_the_browser(page, second, language="en", assistance="none", prefix="second")
    kiosk_b = KioskSession.objects.get(assessment=second.assessment)
    page.goto("/tablet/page/PWB/")
    offline_ready(page)
    assert kept_sessions(page) == [str(kiosk_b.pk)]
    context.set_offline(True)
    reloaded = page.reload()
    assert reloaded is not None and reloaded.from_service_worker
    assert page.get_attribute("main", "data-kiosk-session") == str(kiosk_b.pk)
    assert page.locator("input.opt-input:checked").count() == 0
    context.set_offline(False)

    answer(page, "GP2", 1)
    wait_saved(page, second.assessment.pk)
    page.goto("/tablet/review/")
    page.click("text=Send my answers")
    page.wait_for_url("**/tablet/done/")
    page.wait_for_function(f"async () => ({SESSION_CACHES})().then(ids => ids.length === 0)")
    context.set_offline(True)
    page.goto("/tablet/page/PWB/")  # nothing kept: our offline page, no answers
    assert "This page needs the network" in page.inner_text("h1")
    assert page.locator("input.opt-input").count() == 0
    context.set_offline(False)


def test_an_idle_tablet_reloaded_offline_shows_no_answers(
    context, live_server, page, patient, settings, monkeypatch
):
    # The page's own 2-second idle lock is under test; the server's idle check (which would
    # lock the session whenever the machine is slow to reload and prefetch within 2 s) is not.
    monkeypatch.setattr(KioskSession, "is_idle", lambda self, now: False)
    assessment = patient.assessment
    open_kiosk(context, live_server, patient)
    page.goto("/tablet/page/SWB/")
    offline_ready(page)
    answer(page, "GS1", 3)
    wait_saved(page, assessment.pk)
    settings.KIOSK_IDLE_SECONDS = 2
    page.reload()  # the page now locks after 2 s without a touch
    # She keeps touching the screen until the worker has kept the pages again: on a busy
    # machine that takes longer than 2 s, and the page would lock online instead.
    deadline = time.monotonic() + 30
    while not page.locator("main[data-offline-ready='true']").count():
        assert time.monotonic() < deadline, "the service worker did not keep the pages"
        page.dispatch_event("main", "pointerdown")
        page.wait_for_timeout(250)
    offline_ready(page)
    context.set_offline(True)
    page.wait_for_selector("[data-lock-overlay]:not([hidden])", timeout=15_000)
    page.reload()
    assert page.locator("input.opt-input").count() == 0  # not the kept page: the offline one
    assert page.is_visible("[data-lock-overlay]")
    settings.KIOSK_IDLE_SECONDS = 300
    context.set_offline(False)
    page.wait_for_url("**/tablet/locked/", timeout=30_000)
    assert KioskSession.objects.get(assessment=assessment).locked


def test_without_the_service_worker_next_waits_for_the_network_instead_of_failing(
    browser, live_server, patient
):
    """No worker (blocked here; an old browser, or the first second before it installs):
    nothing is kept, so Next waits for the network and says so; never the error page."""
    assessment = patient.assessment
    context = browser.new_context(
        viewport={"width": 768, "height": 1024},
        base_url=live_server.url,
        service_workers="block",
    )
    try:
        page = context.new_page()
        open_kiosk(context, live_server, patient)
        page.goto("/tablet/page/PWB/")
        context.set_offline(True)
        answer(page, "GP1", 2)
        page.click("button[value=next]")
        page.wait_for_selector("[data-save-status][data-state='wait-nav']")
        assert "This step needs the network" in page.inner_text("[data-save-status]")
        assert page.url.endswith("/tablet/page/PWB/")
        context.set_offline(False)
        page.wait_for_url("**/tablet/page/SWB/", timeout=30_000)
        assert stored(assessment) == {"GP1": 2}
        assert page.get_attribute("main", "data-offline-ready") is None
    finally:
        context.close()
