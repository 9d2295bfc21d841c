"""The tablet and the staff pages work under the Content-Security-Policy, with no violation.

The policy allows scripts and styles from this origin only (no inline script,
no style attributes): every tap is still saved by static/js/tablet.js, the
progress bar (a <progress> element) still moves, and the browser reports no
violation on any page of the path from the coordinator's login to the
patient's thank-you page.
"""

from __future__ import annotations

import pytest

from surveys import instrumentation
from surveys.models import Response
from tests.browser.conftest import PIN, answer, wait_saved
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push({directive: e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile,
                     sample: e.sample, line: e.lineNumber});
});
"""


def violations(page) -> list:
    return page.evaluate("() => window.__csp || []")


def test_the_whole_tablet_path_runs_under_the_policy_without_a_violation(context, patient):
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    console = []
    page.on("console", lambda m: console.append(m.text) if "Content Security" in m.text else None)
    seen: dict[str, list] = {}

    def visit_done(name: str) -> None:
        seen[name] = violations(page)

    page.goto("/accounts/login/")
    page.fill("#id_username", patient.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/coordinator/")
    visit_done("worklist")
    page.goto(f"/coordinator/participants/{patient.assessment.participant_id}/")
    visit_done("participant")
    page.click("text=Hand the tablet over")
    page.wait_for_url(f"**/tablet/start/{patient.assessment.pk}/")
    visit_done("hand-off")
    header = page.evaluate(
        "async () => (await fetch(location.href)).headers.get('content-security-policy')"
    )
    assert "script-src 'self'" in header and "unsafe-inline" not in header
    page.check("input[name=assistance][value=none]")
    page.fill("input[name=pin]", PIN)
    page.fill("input[name=pin_confirm]", PIN)
    page.click("text=Start the questionnaire on this tablet")
    page.wait_for_url("**/tablet/intro/")
    visit_done("intro")
    page.click("text=Begin")
    first = next(iter(instrumentation.sections(patient.assessment.instrument_version)))
    page.wait_for_url(f"**/tablet/page/{first.code}/")
    before = page.evaluate("() => document.querySelector('[data-progress-bar]').value")
    for index, code in enumerate(first.items):
        answer(page, code, index % 5)
    wait_saved(page, patient.assessment.pk)  # saved by the script, through fetch()
    after = page.evaluate("() => document.querySelector('[data-progress-bar]').value")
    assert (before, after) == (0, len(first.items))  # the script moved the bar
    assert Response.objects.filter(assessment=patient.assessment).count() == len(first.items)
    visit_done(first.code)
    page.goto("/tablet/review/")
    visit_done("review")
    page.click("[data-submit-button]")
    page.wait_for_url("**/tablet/done/")
    visit_done("done")
    assert {name: v for name, v in seen.items() if v} == {}
    assert console == []


def test_a_staff_page_with_a_plot_and_the_idle_warning_runs_without_a_violation(
    context, live_server, settings
):
    from django.contrib.auth import get_user_model

    from tests.factories import statistician

    settings.STAFF_IDLE_TIMEOUT_SECONDS = 8
    settings.STAFF_IDLE_WARNING_SECONDS = 6
    statistician(username="stat_b")
    assert get_user_model().objects.filter(username="stat_b").exists()
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.goto("/accounts/login/")
    page.fill("#id_username", "stat_b")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/statistician/")
    page.wait_for_selector("[data-idle-dialog]:not([hidden])", timeout=10_000)  # the warning
    page.click("[data-idle-stay]")
    page.wait_for_selector("[data-idle-dialog][hidden]", state="attached")
    page.goto("/accounts/password/")
    assert violations(page) == []
