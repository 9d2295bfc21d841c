"""axe-core (WCAG 2.2 A/AA, every impact) on every staff page and every patient page, with a
browser asking for English and one asking for Spanish; target sizes (24 px staff, 44 px
tablet); the tablet at 200% text on a 390 px phone without sideways scrolling; dates that
never wrap; the save status that does not say "All answers saved" before any answer."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from surveys import instrumentation
from surveys.models import Assessment, ExportJob, KioskSession
from surveys.statistician.analysis import runs
from surveys.statistician.exports.jobs import export_create, run_export_job
from surveys.tablet.kiosk import kiosk_end
from tests.browser.conftest import (
    Patient,
    answer,
    check_page,
    open_kiosk,
    scrolls_sideways,
    wait_saved,
)
from tests.clinic import build_clinic, build_history
from tests.factories import PASSWORD, SiteFactory, UserFactory, coordinator_of, statistician

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
LOCALES = ("en-US", "es-ES")


def login(page: Any, username: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def logout(page: Any) -> None:
    page.context.clear_cookies()


@pytest.fixture
def world(db) -> dict[str, Any]:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from surveys.trial.setup import trial_create_e2108

    now = timezone.now()
    trial = trial_create_e2108()
    nec = SiteFactory(code="NEC", name="Northeast Cancer Center")
    sec = SiteFactory(code="SEC", name="Southeast Cancer Center")
    coordinator_of(nec, sec, username="coord")
    build_history(trial, [nec, sec], now=now)
    clinic = build_clinic(trial, nec, now=now)
    stat = statistician(username="stat")
    UserFactory(username="admin", is_superuser=True, is_staff=True)
    UserFactory(username="norole")
    guarded = coordinator_of(nec, username="guarded")
    TOTPDevice.objects.create(user=guarded, name="phone", confirmed=True)
    export = export_create(user=stat, kind="scored", fmt="csv", filters={})
    run_export_job(export.pk)
    run = runs.run_start(user=stat, parameters={"measures": ["TOI"], "mixed_model": False})
    runs.execute_run(run.pk)
    run.refresh_from_db()
    assert ExportJob.objects.get(pk=export.pk).status == "succeeded"
    assert run.status == "succeeded", run.error
    return {"clinic": clinic, "export": export, "run": run}


def coordinator_pages(world: dict[str, Any]) -> list[tuple[str, str]]:
    clinic = world["clinic"]
    people = clinic.people
    done = clinic.form("done", "baseline")
    pages = [
        (f"worklist-{view}", f"/coordinator/?view={view}")
        for view in ("open", "overdue", "missed", "upcoming", "all")
    ]
    pages += [
        ("worklist-search", "/coordinator/?view=all&q=E2108&sort=-status"),
        ("grid", "/coordinator/grid/"),
        ("grid-urgent", "/coordinator/grid/?sort=urgent&status=open"),
        ("participants", "/coordinator/participants/"),
        ("randomize", "/coordinator/participants/new/"),
        ("participant-done", f"/coordinator/participants/{people['done'].pk}/"),
        ("participant-missed", f"/coordinator/participants/{people['missed'].pk}/"),
        ("participant-started", f"/coordinator/participants/{people['started'].pk}/"),
        ("participant-died", f"/coordinator/participants/{people['died'].pk}/"),
        ("off-study-undo", f"/coordinator/participants/{people['died'].pk}/off-study/undo/"),
        (
            "randomization",
            f"/coordinator/participants/{people['new'].pk}/randomization/",
        ),
        (
            "submit-as-answered",
            f"/coordinator/assessments/{clinic.form('started', 'm6').pk}/submit-as-answered/",
        ),
        ("answers", f"/coordinator/assessments/{done.pk}/answers/"),
        ("correct", f"/coordinator/assessments/{done.pk}/answers/GS7/correct/"),
        ("compliance-arm", "/coordinator/compliance/"),
        ("compliance-site", "/coordinator/compliance/?by=site"),
        ("compliance-arm-site", "/coordinator/compliance/?by=arm_site"),
        ("compliance-click", "/coordinator/?view=all&bucket=missed_total&visit=baseline"),
        ("audit", "/coordinator/audit/"),
        ("audit-search", "/coordinator/audit/?user=coord&action=missed_reason"),
        ("audit-bad-date", "/coordinator/audit/?date_from=2025-03-02&date_to=2025-03-01"),
        ("hand-off", f"/tablet/start/{clinic.form('new', 'baseline').pk}/"),
        ("two-factor", "/accounts/two-factor/"),
    ]
    return pages


def check_staff(page: Any, name: str) -> None:
    assert page.get_attribute("html", "lang") == "en"  # staff pages are English
    check_page(page, name, patient=False)
    assert scrolls_sideways(page) == [], name


def test_every_staff_page_in_english_and_spanish_browsers(browser, live_server, world):
    clinic = world["clinic"]
    for locale in LOCALES:
        tag = locale[:2]
        context = browser.new_context(viewport=DESKTOP, base_url=live_server.url, locale=locale)
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.goto("/accounts/login/")
        check_staff(page, f"a11y-{tag}-login")
        page.fill("#id_username", "coord")
        page.fill("#id_password", "wrong")
        page.click("button[type=submit]")
        check_staff(page, f"a11y-{tag}-login-error")
        login(page, "coord")
        for name, url in coordinator_pages(world):
            page.goto(url)
            check_staff(page, f"a11y-{tag}-{name}")
        # the forms' second steps and their errors
        new = clinic.people["new"]
        page.goto(f"/coordinator/participants/{new.pk}/")
        page.fill("input[name=off_study_on]", new.randomized_on.isoformat())
        page.select_option("select[name=reason] >> nth=-1", "withdrawal")
        page.click("text=Review: take off study")
        page.wait_for_selector("#plan")
        check_staff(page, f"a11y-{tag}-off-study-confirm")
        page.goto(f"/coordinator/participants/{new.pk}/randomization/")
        page.fill(
            "input[name=randomized_on]", (new.randomized_on - dt.timedelta(days=1)).isoformat()
        )
        page.fill("textarea[name=reason]", "typed the wrong day")
        page.click("text=Show what changes")
        page.wait_for_selector("#plan")
        check_staff(page, f"a11y-{tag}-randomization-confirm")
        done = clinic.form("done", "baseline")
        page.goto(f"/coordinator/assessments/{done.pk}/answers/GP1/correct/")
        page.click("text=Show what changes")  # nothing chosen: the errors
        check_staff(page, f"a11y-{tag}-correct-errors")
        page.check("input[name=value][value='1']")
        page.check("input[name=reason_code][value=changed_at_review]")
        page.click("text=Show what changes")
        page.wait_for_selector("#score-preview")
        check_staff(page, f"a11y-{tag}-correct-confirm")
        page.goto("/coordinator/participants/new/")
        page.evaluate("() => { document.querySelector('main form').noValidate = true; }")
        page.click("main form button[type=submit]")
        assert page.locator(".errorlist").count() > 0
        check_staff(page, f"a11y-{tag}-randomize-errors")
        # dates never break in the middle, even on a narrow window
        page.set_viewport_size({"width": 900, "height": 900})
        page.goto(f"/coordinator/participants/{clinic.people['done'].pk}/")
        lines = page.evaluate(
            "() => Array.from(document.querySelectorAll('#timeline .date'))"
            ".map((el) => el.getClientRects().length)"
        )
        assert lines and set(lines) == {1}, lines
        page.set_viewport_size(DESKTOP)
        logout(page)
        login(page, "stat")
        for name, url in [
            ("stat-home", "/statistician/"),
            ("stat-export-new", "/statistician/exports/new/"),
            ("stat-export", f"/statistician/exports/{world['export'].pk}/"),
            ("stat-run-new", "/statistician/runs/new/"),
            ("stat-run", f"/statistician/runs/{world['run'].pk}/"),
        ]:
            page.goto(url)
            check_staff(page, f"a11y-{tag}-{name}")
        for user, name in (("admin", "home-admin"), ("norole", "home-no-role")):
            logout(page)
            login(page, user)
            page.goto("/")
            check_staff(page, f"a11y-{tag}-{name}")
        logout(page)
        login(page, "guarded")
        assert "/accounts/two-factor/" in page.url
        check_staff(page, f"a11y-{tag}-two-factor-verify")
        context.close()


def at_200_percent_text(context: Any, page: Any) -> Any:
    """Chromium's default font size doubled (as a 200% text setting does), at phone width."""
    cdp = context.new_cdp_session(page)
    cdp.send("Page.setFontSizes", {"fontSizes": {"standard": 32, "fixed": 26}})
    return cdp


def check_patient(context: Any, page: Any, name: str, language: str) -> None:
    assert page.get_attribute("html", "lang") == language
    check_page(page, name, patient=True)
    assert scrolls_sideways(page) == [], name
    page.set_viewport_size(PHONE)
    base = page.evaluate("() => parseFloat(getComputedStyle(document.documentElement).fontSize)")
    cdp = at_200_percent_text(context, page)
    page.reload()
    doubled = page.evaluate("() => parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert doubled >= 1.9 * base, (base, doubled)  # the text really is twice as large
    assert scrolls_sideways(page) == [], f"{name} at 200% text, 390 px"
    cdp.send("Page.setFontSizes", {"fontSizes": {"standard": 16, "fixed": 13}})
    cdp.detach()
    page.set_viewport_size({"width": 768, "height": 1024})
    page.reload()


@pytest.mark.parametrize("language", ["en", "es"])
def test_every_patient_page_in_english_and_spanish(browser, live_server, language, db):
    from tests.browser.conftest import make_patient

    patient: Patient = make_patient(language=language)
    assessment = patient.assessment
    context = browser.new_context(
        viewport={"width": 768, "height": 1024},
        base_url=live_server.url,
        locale="es-ES" if language == "en" else "en-US",  # her language wins, not the browser's
    )
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        open_kiosk(context, live_server, patient)
        page.goto("/tablet/")
        page.wait_for_url("**/tablet/intro/")
        check_patient(context, page, f"a11y-{language}-intro", language)
        assert page.locator("#time-estimate").count() == 1
        codes = [s.code for s in instrumentation.sections(assessment.instrument_version)]
        for code in codes:
            page.goto(f"/tablet/page/{code}/")
            if code == codes[0]:
                page.wait_for_selector("[data-save-status][data-state]")
                status = page.locator("[data-save-status]")
                assert status.get_attribute("data-state") == "none"
                assert status.inner_text() != "All answers saved"
                answer(page, "GP1", 1)
                wait_saved(page, assessment.pk)
            check_patient(context, page, f"a11y-{language}-{code}", language)
        # the largest text size of the control, on a phone
        page.goto(f"/tablet/page/{codes[1]}/")
        page.set_viewport_size(PHONE)
        page.click("button.size-x-large")
        page.wait_for_function("() => document.documentElement.classList.contains('text-x-large')")
        assert page.locator("button.size-x-large").get_attribute("aria-pressed") == "true"
        assert scrolls_sideways(page) == []
        check_page(page, f"a11y-{language}-x-large-text-phone", patient=True)
        page.reload()  # kept for the hand-off
        assert "text-x-large" in (page.get_attribute("html", "class") or "")
        page.click("button.size-normal")
        page.wait_for_function("() => document.documentElement.classList.contains('text-normal')")
        page.set_viewport_size({"width": 768, "height": 1024})
        page.goto("/tablet/review/")
        check_patient(context, page, f"a11y-{language}-review", language)
        page.goto("/tablet/exit/")
        check_patient(context, page, f"a11y-{language}-exit", language)
        page.goto("/tablet/review/")
        page.evaluate("() => document.querySelector('form[data-lock-form]').submit()")
        page.wait_for_url("**/tablet/locked/")
        check_patient(context, page, f"a11y-{language}-locked", language)
        page.fill("input[name=pin]", "2468")
        page.click("form.pin-form button[type=submit]")
        page.wait_for_url(lambda url: "/locked/" not in url)
        page.goto("/tablet/review/")
        page.click("[data-submit-button]")
        page.wait_for_url("**/tablet/done/")
        check_patient(context, page, f"a11y-{language}-done", language)
    finally:
        context.close()
    # the messages: no questionnaire on this tablet; a session ended; a window closed
    other = make_patient(language=language)
    context = browser.new_context(viewport={"width": 768, "height": 1024}, base_url=live_server.url)
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        page.goto("/tablet/")
        check_page(page, f"a11y-{language}-message-missing", patient=True)
        kiosk = open_kiosk(context, live_server, other)
        Assessment.objects.filter(pk=other.assessment.pk).update(
            closes_at=timezone.now() - dt.timedelta(minutes=1)
        )
        page.goto("/tablet/intro/")
        assert page.locator("[data-message=closed]").count() == 1
        check_patient(context, page, f"a11y-{language}-message-closed", language)
        kiosk_end(kiosk, actor=other.coordinator, now=timezone.now())
        assert KioskSession.objects.get(pk=kiosk.pk).ended_at is not None
        page.goto("/tablet/intro/")
        assert page.locator("[data-message=ended]").count() == 1
        check_patient(context, page, f"a11y-{language}-message-ended", language)
    finally:
        context.close()
