"""The coordinator's workspace in a real browser: the status grid, acting from the worklist's
rows, the compliance table at 1366 × 768 and its click-through, correcting an answer end to
end, and the audit log's search and export. axe-core and target sizes on every page."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.utils import timezone

from surveys.models import AuditEvent, ResponseCorrection, Score, ScoreRevision
from surveys.statistician.exports.datasets import items_long
from surveys.statistician.exports.filters import ExportFilters
from tests.browser.conftest import check_page, scrolls_sideways, shot
from tests.clinic import Clinic, build_clinic
from tests.factories import PASSWORD, SiteFactory, coordinator_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
DESKTOP = {"width": 1366, "height": 768}


@pytest.fixture
def clinic(db) -> Clinic:
    from surveys.trial.setup import trial_create_e2108

    trial = trial_create_e2108()
    site = SiteFactory(code="NEC", name="Northeast Cancer Center")
    coordinator_of(site, username="coord_nec")
    other = SiteFactory(code="SEC", name="Southeast Cancer Center")
    build_clinic(trial, other, now=timezone.now())  # not hers
    return build_clinic(trial, site, now=timezone.now())


@pytest.fixture
def staff(browser, live_server) -> Any:
    context = browser.new_context(viewport=DESKTOP, base_url=live_server.url, locale="en-US")
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def login(page: Any, username: str = "coord_nec") -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def test_the_status_grid_shows_her_sites_at_a_glance_and_opens_a_participant(staff, clinic):
    login(staff)
    staff.goto("/coordinator/grid/")
    check_page(staff, "grid-01")
    rows = staff.locator("#grid tbody tr")
    assert rows.count() == len(clinic.people)  # hers only
    closing = clinic.people["closing"]
    cells = staff.locator(f"#p-{closing.pk} td.cell")
    baseline = cells.nth(0).inner_text()
    assert "Open" in baseline and "Overdue" in baseline and "2 days left" in baseline
    missed = staff.locator(f"#p-{clinic.people['started'].pk} td.cell").nth(0).inner_text()
    assert "Missed" in missed and "no reason yet" in missed
    assert "32 of 46 answered" in staff.locator(f"#p-{clinic.people['started'].pk}").inner_text()
    # search, then filter: the URL keeps them
    staff.fill("#g-q", clinic.people["started"].study_id)
    staff.click("form.filters button[type=submit]")
    staff.wait_for_url("**/grid/?*q=*")
    assert staff.locator("#grid tbody tr").count() == 1
    staff.goto("/coordinator/grid/")
    staff.select_option("#g-study", "off")
    staff.click("form.filters button[type=submit]")
    staff.wait_for_url("**study=off*")
    assert staff.locator("#grid tbody tr th a").all_inner_texts() == [
        clinic.people["died"].study_id
    ]
    # sort by the soonest closing window, then a click on a cell opens her page at that form
    staff.goto("/coordinator/grid/")
    staff.click("text=Soonest window closing first")
    staff.wait_for_url("**sort=urgent*")
    assert staff.locator("#grid tbody tr").first.get_attribute("id") == f"p-{closing.pk}"
    staff.locator(f"#p-{closing.pk} td.cell a").nth(0).click()
    form = clinic.form("closing", "baseline")
    staff.wait_for_url(f"**/participants/{closing.pk}/#assessment-{form.pk}")
    assert "Overdue" in staff.inner_text(f"#assessment-{form.pk}")
    check_page(staff, "grid-02-participant")


def test_the_worklist_is_acted_on_from_its_rows(staff, clinic):
    login(staff)
    staff.goto("/coordinator/?view=all&arm=A")
    check_page(staff, "worklist-01-all-arm-A")
    header = staff.locator("#worklist thead th", has_text="Study id")
    assert header.get_attribute("aria-sort") is None
    header.locator("a").click()
    staff.wait_for_url("**sort=study_id*")
    header = staff.locator("#worklist thead th", has_text="Study id")
    assert header.get_attribute("aria-sort") == "ascending"
    header.locator("a").click()
    staff.wait_for_url("**sort=-study_id*")
    assert staff.locator("#worklist thead th[aria-sort]").get_attribute("aria-sort") == (
        "descending"
    )
    here = staff.url
    assert "arm=A" in here and "view=all" in here
    # record why a form was missed, from its row: back on the same list, same order
    missed = clinic.form("missed", "baseline")
    row = staff.locator(f"#row-{missed.pk}")
    row.locator("summary").click()
    check_page(staff, "worklist-02-reason-form")
    row.locator("select[name=reason]").select_option("missed_appointment")
    row.locator("button[type=submit]").click()
    staff.wait_for_selector("text=Reason recorded for")
    assert staff.url == here
    missed.refresh_from_db()
    assert missed.missed_reason == "missed_appointment"
    # hand the tablet over from the row of a form closing tomorrow
    closing = clinic.form("closing", "baseline")
    staff.goto("/coordinator/")
    row = staff.locator(f"#row-{closing.pk}")
    assert "Overdue" in row.inner_text() and "2" in row.locator("td.days-left").inner_text()
    row.locator("a", has_text="Hand over").click()
    staff.wait_for_url(f"**/tablet/start/{closing.pk}/")
    check_page(staff, "worklist-03-hand-off", patient=False)


@pytest.mark.parametrize("by", ["arm", "site", "arm_site"])
def test_the_compliance_table_fits_1366_by_768_and_every_count_opens_its_forms(staff, clinic, by):
    login(staff)
    staff.goto(f"/coordinator/compliance/?by={by}")
    check_page(staff, f"compliance-{by}")
    assert scrolls_sideways(staff) == []
    region = staff.locator(".compliance-scroll")
    widths = region.evaluate("(el) => [el.scrollWidth, el.clientWidth]")
    assert widths[0] <= widths[1], widths  # the table needs no horizontal scroll
    key_columns = ["visit", "compliance_pct", "completion_pct", "not_yet_due", "missed_total"]
    key_columns += {"arm": ["arm"], "site": ["site"], "arm_site": ["arm", "site"]}[by]
    for key in key_columns:
        box = staff.locator(f"#h-{key}").bounding_box()
        assert box is not None, key
        assert box["x"] >= 0 and box["x"] + box["width"] <= DESKTOP["width"], (key, box)
    # click a count: the worklist lists exactly those forms
    link = staff.locator("#compliance tbody tr.level-visit_total td[data-key=received] a").first
    count = int(link.inner_text().split()[0])
    link.click()
    staff.wait_for_url("**bucket=received*")
    assert staff.locator("#bucket").inner_text().startswith("From the compliance table")
    assert staff.locator("#worklist tbody tr").count() == count
    assert f"{count} assessment" in staff.inner_text("#worklist caption")


def test_a_completed_answer_is_corrected_end_to_end(staff, clinic):
    done = clinic.form("done", "baseline")
    login(staff)
    staff.goto(f"/coordinator/participants/{done.participant_id}/")
    staff.click(f"#assessment-{done.pk} >> text=Answers and corrections")
    staff.wait_for_url(f"**/assessments/{done.pk}/answers/")
    check_page(staff, "correct-01-answers")
    staff.locator("#item-GP1 a", has_text="Correct").click()
    check_page(staff, "correct-02-form")
    assert staff.locator("input[name=value]:checked").count() == 0  # nothing chosen for her
    staff.check("input[name=value][value='0']")
    staff.check("input[name=reason_code][value=transcription_error]")
    staff.fill("textarea[name=reason_text]", "entered from the wrong row")
    staff.click("text=Show what changes")
    staff.wait_for_selector("#score-preview")
    check_page(staff, "correct-03-confirm")
    assert "2 (Somewhat)" in staff.inner_text("#current-answer")
    assert "0 (Not at all)" in staff.inner_text("#new-answer")
    assert not ResponseCorrection.objects.exists()
    staff.click("#confirm-correction")
    staff.wait_for_selector("text=GP1 corrected")
    check_page(staff, "correct-04-done")
    score = Score.objects.get(assessment=done)
    assert (score.toi, score.factb) == (50, 76)  # 48 and 74 before: GP1 now scores 4, not 2
    assert ScoreRevision.objects.get(assessment=done).toi == 48
    assert "Transcription error: entered from the wrong row" in staff.inner_text("#item-GP1")
    assert staff.locator("#score-history tr.revision").count() == 1
    staff.goto(f"/coordinator/participants/{done.participant_id}/")
    trail = staff.inner_text("#audit")
    assert "Answer corrected" in trail and "2 (Somewhat) → 0 (Not at all)" in trail
    assert "Rescored after a corrected answer" in trail
    items = items_long(ExportFilters(trial="E2108"))
    gp1 = items[(items["SUBJID"] == done.participant.study_id) & (items["ITEMCD"] == "GP1")]
    assert gp1[["VALUE", "CORRECTD"]].values.tolist() == [[0, 1]]


def test_the_audit_log_is_searched_and_exported(staff, clinic):
    login(staff)
    staff.goto("/coordinator/audit/")
    check_page(staff, "audit-01")
    died = clinic.people["died"]
    staff.fill("#id_participant", died.study_id)
    staff.select_option("#id_action", "status_change")
    staff.click("form.filters button[type=submit]")
    staff.wait_for_url("**participant=*")
    rows = staff.locator("#audit-log tbody tr")
    assert rows.count() >= 3
    text = staff.inner_text("#audit-log")
    assert "Scheduled → Not expected" in text and "not_expected" not in text
    check_page(staff, "audit-02-search")
    with staff.expect_download() as download:
        staff.click("#audit-csv")
    content = download.value.path().read_text(encoding="utf-8")
    table = list(csv.DictReader(io.StringIO(content)))
    assert table and {row["participant"] for row in table} == {died.study_id}
    assert {row["action"] for row in table} == {"Status change"}
    export = AuditEvent.objects.get(action="audit_export")
    assert export.details["rows"] == len(table)
    staff.goto("/coordinator/audit/?action=audit_export")
    assert "Audit log exported" in staff.inner_text("#audit-log")
    shot(staff, "audit-03-export-recorded")
