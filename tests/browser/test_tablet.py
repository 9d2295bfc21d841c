"""The patient tablet in a real browser: hand-off to thank-you, reload, offline, double tap,
Spanish, no JavaScript, idle lock; axe-core on every page; screenshots of every page."""

from __future__ import annotations

import json
import re

import pytest

from scoring.instruments import RESPONSE_SCALE
from surveys import instrumentation
from surveys.models import Assessment, AuditEvent, KioskSession, Response, Score
from tests.browser.conftest import (
    PIN,
    answer,
    check_page,
    make_patient,
    open_kiosk,
    shot,
    wait_saved,
)
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sections(assessment: Assessment) -> list:
    return list(instrumentation.sections(assessment.instrument_version))


def value_for(index: int) -> int:
    return index % len(RESPONSE_SCALE)


def hand_over_in_the_browser(page, patient, *, language: str, assistance: str, prefix: str):
    """The coordinator's path: log in, open the participant, hand the tablet over."""
    page.goto("/accounts/login/")
    page.fill("#id_username", patient.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"/coordinator/participants/{patient.assessment.participant_id}/")
    page.click("text=Hand the tablet over")
    page.wait_for_url(f"**/tablet/start/{patient.assessment.pk}/")
    page.check(f"input[name=assistance][value={assistance}]")
    page.select_option("select[name=language]", language)
    page.fill("input[name=pin]", PIN)
    page.fill("input[name=pin_confirm]", PIN)
    check_page(page, f"{prefix}-00-hand-off")
    page.click("text=Start the questionnaire on this tablet")
    page.wait_for_url("**/tablet/intro/")


def test_a_coordinator_hands_over_and_she_answers_everything_and_sends(page, patient):
    assessment = patient.assessment
    hand_over_in_the_browser(page, patient, language="en", assistance="read_aloud", prefix="en")
    assert page.get_attribute("html", "lang") == "en"
    check_page(page, "en-01-intro")
    page.click("text=Begin")
    for number, section in enumerate(sections(assessment), start=1):
        page.wait_for_url(f"**/tablet/page/{section.code}/")
        assert page.locator("fieldset.item").count() == len(section.items)
        assert page.locator(".part").inner_text() == f"Part {number} of 6"
        if number == 1:
            check_page(page, f"en-{number + 1:02d}-{section.code}-empty")
        for index, code in enumerate(section.items):
            if code == "GS7":
                page.click("label[for='GS7-declined']")
            else:
                answer(page, code, value_for(index))
        wait_saved(page, assessment.pk)
        assert page.locator("[data-save-status]").inner_text() == "All answers saved"
        check_page(page, f"en-{number + 1:02d}-{section.code}")
        if section.code == "SWB":
            page.set_viewport_size({"width": 1024, "height": 768})
            check_page(page, "landscape-SWB")
            page.set_viewport_size({"width": 390, "height": 844})
            check_page(page, "phone-SWB")
            page.set_viewport_size({"width": 768, "height": 1024})
        page.click("button[value=next]")
    page.wait_for_url("**/tablet/review/")
    assert "You have answered every question." in page.inner_text("main")
    check_page(page, "en-08-review")
    page.click("text=Send my answers")
    page.wait_for_url("**/tablet/done/")
    assert "Thank you" in page.inner_text("h1")
    check_page(page, "en-09-thank-you")

    assessment.refresh_from_db()
    assert assessment.status == Assessment.Status.COMPLETED
    assert assessment.assistance == Assessment.Assistance.READ_ALOUD
    assert assessment.mode == Assessment.Mode.TABLET and assessment.language == "en"
    assert assessment.started_at <= assessment.completed_at
    assert {"intro", "PWB", "LR", "review"} <= set(assessment.page_seconds)
    stored = {r.item_code: r for r in Response.objects.filter(assessment=assessment)}
    assert len(stored) == 46
    assert stored["GS7"].declined and stored["GS7"].value is None
    for section in sections(assessment):
        for index, code in enumerate(section.items):
            if code != "GS7":
                assert stored[code].value == value_for(index), code
    assert {r.revision for r in stored.values()} == {1}
    assert Score.objects.filter(assessment=assessment).exists()
    kiosk = KioskSession.objects.get(assessment=assessment)
    assert kiosk.end_reason == KioskSession.EndReason.SUBMITTED
    page.goto("/coordinator/")  # the tablet stays confined until staff take it back
    assert page.url.endswith("/tablet/done/")


def test_reloading_in_the_middle_keeps_every_answer(context, live_server, page, patient):
    assessment = patient.assessment
    open_kiosk(context, live_server, patient)
    page.goto("/tablet/page/PWB/")
    for code, value in (("GP1", 1), ("GP2", 3), ("GP3", 0), ("GP4", 4)):
        answer(page, code, value)
    wait_saved(page, assessment.pk)
    page.reload()
    for code, value in (("GP1", 1), ("GP2", 3), ("GP3", 0), ("GP4", 4)):
        assert page.is_checked(f"#{code}-{value}"), code
    assert page.locator("[data-answered-text]").inner_text() == "4 of 46 questions answered"
    for code in ("GP5", "GP6", "GP7"):
        answer(page, code, 2)
    page.click("button[value=next]")
    page.wait_for_url("**/tablet/page/SWB/")
    page.go_back()  # the browser's back button: the page comes back with the saved answers
    page.wait_for_url("**/tablet/page/PWB/")
    assert page.is_checked("#GP7-2") and page.is_checked("#GP1-1")
    rows = list(Response.objects.filter(assessment=assessment).values_list("item_code", "revision"))
    assert sorted(rows) == sorted((f"GP{n}", 1) for n in range(1, 8))


def test_a_dropped_connection_loses_nothing_and_stores_nothing_twice(
    context, live_server, page, patient
):
    assessment = patient.assessment
    open_kiosk(context, live_server, patient)
    page.goto("/tablet/page/EWB/")
    page.wait_for_selector("main[data-offline-ready='true']", timeout=30_000)
    answer(page, "GE1", 1)
    wait_saved(page, assessment.pk)

    context.set_offline(True)
    answer(page, "GE2", 2)
    answer(page, "GE3", 3)
    answer(page, "GE3", 4)  # she changes her mind while offline
    answer(page, "GE4", 0)
    page.wait_for_selector("[data-save-status][data-state='offline']")
    assert "Waiting for the network" in page.inner_text("[data-save-status]")
    queue = json.loads(
        page.evaluate(f"localStorage.getItem('ecogprom.tablet.queue.{assessment.pk}')")
    )
    assert [(e["item"], e["value"]) for e in queue] == [
        ("GE2", 2),
        ("GE3", 3),
        ("GE3", 4),
        ("GE4", 0),
    ]
    shot(page, "offline-EWB")
    page.click("button[value=next]")  # the next page opens offline; the answers stay queued
    page.wait_for_url("**/tablet/page/FWB/")
    assert list(
        Response.objects.filter(assessment=assessment).values_list("item_code", flat=True)
    ) == ["GE1"]

    context.set_offline(False)
    wait_saved(page, assessment.pk)
    stored = {
        r.item_code: (r.value, r.revision) for r in Response.objects.filter(assessment=assessment)
    }
    # Every tap arrived once; her change of mind is the answer's second revision.
    assert stored == {"GE1": (1, 1), "GE2": (2, 1), "GE3": (4, 2), "GE4": (0, 1)}


def test_double_tapping_send_completes_the_assessment_once(context, live_server, page, patient):
    assessment = patient.assessment
    open_kiosk(context, live_server, patient)
    page.goto("/tablet/page/PWB/")
    answer(page, "GP1", 2)
    wait_saved(page, assessment.pk)
    page.goto("/tablet/review/")
    assert "45 questions have no answer yet." in page.inner_text("main")
    page.dblclick("text=Send my answers")
    page.wait_for_url("**/tablet/done/")
    # And two more posts at once, as a flaky network might replay them.
    statuses = page.evaluate(
        """async () => {
            const post = () => fetch('/tablet/submit/', {method: 'POST', headers: {
                'X-CSRFToken': document.cookie.match(/csrftoken=([^;]+)/)[1]}});
            const both = await Promise.all([post(), post()]);
            return both.map(r => [r.status, new URL(r.url).pathname]);
        }"""
    )
    assert statuses == [[200, "/tablet/done/"], [200, "/tablet/done/"]]
    assessment.refresh_from_db()
    assert assessment.status == Assessment.Status.COMPLETED
    assert AuditEvent.objects.filter(assessment=assessment, to_status="completed").count() == 1
    assert AuditEvent.objects.filter(assessment=assessment, action="scored").count() == 1
    assert Score.objects.filter(assessment=assessment).count() == 1


def test_spanish_from_the_hand_off_to_the_thank_you(page, db):
    patient = make_patient(language="en")  # the coordinator chooses Spanish at hand-off
    assessment = patient.assessment
    hand_over_in_the_browser(page, patient, language="es", assistance="none", prefix="es")
    assert page.get_attribute("html", "lang") == "es"
    assert "Bienvenida" in page.inner_text("h1")
    check_page(page, "es-01-intro")
    page.click("text=Empezar")
    page.wait_for_url("**/tablet/page/PWB/")
    assert page.inner_text("h1") == "Bienestar físico"
    assert "Poca energía" in page.inner_text("main")
    assert page.inner_text("label[for='GP1-4']").split() == ["4", "Muchísimo"]
    for index, code in enumerate(sections(assessment)[0].items):
        answer(page, code, value_for(index))
    wait_saved(page, assessment.pk)
    assert page.inner_text("[data-save-status]") == "Todas las respuestas guardadas"
    check_page(page, "es-02-PWB")
    page.click("text=Siguiente")
    page.wait_for_url("**/tablet/page/SWB/")
    assert "Prefiero no responder a esta pregunta" in page.inner_text("main")
    page.goto("/tablet/review/")
    assert "Revise sus respuestas" in page.inner_text("h1")
    assert "39 preguntas aún no tienen respuesta." in page.inner_text("main")
    check_page(page, "es-08-review")
    page.click("a[href='/tablet/page/LR/#item-LR5']")
    page.wait_for_url("**/tablet/page/LR/#item-LR5")
    answer(page, "LR5", 3)
    wait_saved(page, assessment.pk)
    page.click("text=Revisar mis respuestas")
    page.wait_for_url("**/tablet/review/")
    assert "38 preguntas aún no tienen respuesta." in page.inner_text("main")
    page.click("text=Enviar mis respuestas")
    page.wait_for_url("**/tablet/done/")
    assert page.inner_text("h1") == "Gracias"
    check_page(page, "es-09-thank-you")
    assessment.refresh_from_db()
    assert (assessment.status, assessment.language) == (Assessment.Status.COMPLETED, "es")
    assert Response.objects.filter(assessment=assessment).count() == 8


def test_without_javascript_each_page_still_saves(browser, live_server, patient):
    context = browser.new_context(
        viewport={"width": 768, "height": 1024}, base_url=live_server.url, java_script_enabled=False
    )
    try:
        open_kiosk(context, live_server, patient)
        page = context.new_page()
        page.goto("/tablet/page/SWB/")
        answer(page, "GS1", 4)
        answer(page, "GS2", 0)
        page.click("label[for='GS7-declined']")
        shot(page, "nojs-SWB")
        page.click("button[value=next]")
        page.wait_for_url("**/tablet/page/EWB/")
        page.click("button[value=back]")
        page.wait_for_url("**/tablet/page/SWB/")
        assert page.is_checked("#GS1-4") and page.is_checked("#GS7-declined")
    finally:
        context.close()
    stored = {
        r.item_code: (r.value, r.declined)
        for r in Response.objects.filter(assessment=patient.assessment)
    }
    assert stored == {"GS1": (4, False), "GS2": (0, False), "GS7": (None, True)}


def test_an_idle_tablet_locks_and_the_staff_pin_unlocks_it(
    context, live_server, page, patient, settings
):
    settings.KIOSK_IDLE_SECONDS = 2
    open_kiosk(context, live_server, patient)
    page.goto("/tablet/page/FWB/")
    answer(page, "GF1", 3)
    page.wait_for_url("**/tablet/locked/", timeout=30_000)
    assert "GF1" not in page.content()
    settings.KIOSK_IDLE_SECONDS = 300
    check_page(page, "locked")
    page.fill("input[name=pin]", "0000")
    page.click("button:has-text('Unlock')")
    page.wait_for_selector("text=That PIN is not right.")
    page.fill("input[name=pin]", PIN)
    page.click("button:has-text('Unlock')")
    page.wait_for_url("**/tablet/page/FWB/")
    assert page.is_checked("#GF1-3")
    assert Response.objects.get(assessment=patient.assessment, item_code="GF1").value == 3

    page.click("a.staff-link")
    page.wait_for_url("**/tablet/exit/")
    check_page(page, "exit")
    page.fill("form.pin-form input[name=pin]", PIN)
    page.click("form.pin-form button")
    page.wait_for_url(re.compile(r".*/accounts/login/\?next=.*"))
    kiosk = KioskSession.objects.get(assessment=patient.assessment)
    assert kiosk.end_reason == KioskSession.EndReason.COORDINATOR
