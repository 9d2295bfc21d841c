"""Off study in two browsers: the coordinator reviews and confirms, her tablet stops, then undo.

Two devices: the patient's tablet (a live kiosk session, answering) and the
coordinator's browser. The first click only shows what will change; the
confirmation ends the tablet's session (its next tap is refused and it says
so); the undo, with a reason, brings her started form back in progress.
"""

from __future__ import annotations

import pytest

from surveys.models import Assessment, AuditEvent, KioskSession, Response
from tests.browser.conftest import answer, check_page, open_kiosk, wait_saved
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
S = Assessment.Status


def test_off_study_confirmed_ends_the_tablet_and_is_undone(browser, live_server, patient):
    assessment = patient.assessment
    tablet_context = browser.new_context(
        viewport={"width": 768, "height": 1024}, base_url=live_server.url, locale="en-US"
    )
    tablet_context.set_default_timeout(15_000)
    staff_context = browser.new_context(
        viewport={"width": 1280, "height": 900}, base_url=live_server.url, locale="en-US"
    )
    staff_context.set_default_timeout(15_000)
    try:
        open_kiosk(tablet_context, live_server, patient)
        tablet = tablet_context.new_page()
        tablet.goto("/tablet/")
        tablet.click("text=Begin")
        answer(tablet, "GP1", 2)
        wait_saved(tablet, assessment.pk)

        staff = staff_context.new_page()
        staff.goto("/accounts/login/")
        staff.fill("#id_username", patient.username)
        staff.fill("#id_password", PASSWORD)
        staff.click("button[type=submit]")
        staff.goto(f"/coordinator/participants/{assessment.participant_id}/")
        # Nothing is chosen for her: the reason and the date must be picked.
        assert staff.input_value("select[name=reason] >> nth=-1") == ""
        assert staff.input_value("input[name=off_study_on]") == ""
        staff.fill("input[name=off_study_on]", assessment.participant.randomized_on.isoformat())
        staff.select_option("select[name=reason] >> nth=-1", "withdrawal")
        staff.click("text=Review: take off study")
        staff.wait_for_selector("#plan")
        check_page(staff, "off-study-01-confirm")
        assert "Partially answered" in staff.inner_text(f"#change-{assessment.pk}")
        assert "will be ended" in staff.inner_text("#plan-sessions")
        assessment.refresh_from_db()
        assert assessment.status == S.IN_PROGRESS  # nothing happened yet
        staff.click("#confirm-off-study")
        staff.wait_for_selector("text=is off study")
        assessment.refresh_from_db()
        assert assessment.status == S.PARTIAL
        assert not KioskSession.objects.get(assessment=assessment).is_live

        # The tablet's next tap is refused, and the tablet says its session ended.
        answer(tablet, "GP2", 3)
        tablet.wait_for_selector("text=This tablet session has ended")
        assert list(Response.objects.filter(assessment=assessment).values_list("item_code")) == [
            ("GP1",)
        ]

        staff.click("#undo-off-study")
        staff.wait_for_selector("#plan")
        check_page(staff, "off-study-02-undo")
        staff.fill("textarea[name=reason]", "taken off study by mistake")
        staff.click("#confirm-undo")
        staff.wait_for_selector("text=is on study again")
        assessment.refresh_from_db()
        assert assessment.status == S.IN_PROGRESS
        assert AuditEvent.objects.filter(action="off_study_undone").count() == 1
    finally:
        tablet_context.close()
        staff_context.close()
