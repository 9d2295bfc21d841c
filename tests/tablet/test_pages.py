"""The patient's pages without JavaScript: plain form posts save, navigate and submit."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from scoring.instruments import RESPONSE_SCALE
from surveys import instrumentation
from surveys.models import Assessment, AuditEvent, KioskSession, Response, Score
from tests.tablet.conftest import hand_over, make_idle, tablet_client

pytestmark = pytest.mark.django_db


def sections(assessment: Assessment) -> list:
    return list(instrumentation.sections(assessment.instrument_version))


def answer_page(client, code: str, answers: dict[str, str], nav: str = "next"):
    return client.post(reverse("tablet:page", args=[code]), {**answers, "nav": nav})


def fill_everything(client, assessment: Assessment, value: int = 2) -> None:
    for section in sections(assessment):
        response = answer_page(client, section.code, {code: str(value) for code in section.items})
        assert response.status_code == 302


def test_the_entry_page_starts_with_the_welcome(tablet):
    response = tablet.get(reverse("tablet:form"))
    assert response["Location"] == reverse("tablet:intro")
    page = tablet.get(reverse("tablet:intro"))
    assert page.status_code == 200
    assert 'href="/tablet/page/PWB/"' in page.content.decode()


def test_there_is_one_page_per_section_pwb_swb_ewb_fwb_bcs_then_lr(assessment):
    assert [s.code for s in sections(assessment)] == ["PWB", "SWB", "EWB", "FWB", "BCS", "LR"]


def test_a_page_shows_each_item_as_a_fieldset_with_the_0_to_4_scale(tablet, assessment):
    html = tablet.get(reverse("tablet:page", args=["PWB"])).content.decode()
    assert html.count('<fieldset class="item') == 7
    assert html.count("<legend>") == 7
    for option in RESPONSE_SCALE:
        assert f'id="GP1-{option.value}"' in html
        assert option.label_en in html
    assert 'for="GP1-0"' in html
    assert '<html lang="en" class="text-normal">' in html
    assert "Part 1 of 6" in html
    assert "0 of 46 questions answered" in html
    assert "Low energy" in html
    assert "Demonstration wording" in html


def test_only_gs7_has_the_prefer_not_to_answer_box(tablet):
    swb = tablet.get(reverse("tablet:page", args=["SWB"])).content.decode()
    pwb = tablet.get(reverse("tablet:page", args=["PWB"])).content.decode()
    assert 'name="GS7_declined"' in swb
    assert swb.count("_declined") == 1
    assert "_declined" not in pwb


def test_an_unknown_section_is_not_found(tablet):
    assert tablet.get("/tablet/page/NOPE/").status_code == 404


def test_posting_a_page_saves_its_answers_and_goes_to_the_next(tablet, assessment):
    response = answer_page(tablet, "PWB", {"GP1": "0", "GP2": "4", "GP7": "1"})
    assert response.status_code == 302
    assert response["Location"] == reverse("tablet:page", args=["SWB"])
    saved = dict(Response.objects.values_list("item_code", "value"))
    assert saved == {"GP1": 0, "GP2": 4, "GP7": 1}
    html = tablet.get(reverse("tablet:page", args=["PWB"])).content.decode()
    assert re.search(r'id="GP2-4"[^>]*checked', html)


def test_posting_the_same_page_twice_stores_each_answer_once(tablet, assessment):
    answer_page(tablet, "PWB", {"GP1": "3"})
    answer_page(tablet, "PWB", {"GP1": "3"})  # back button, post again / double tap
    stored = Response.objects.get(item_code="GP1")
    assert (Response.objects.count(), stored.revision) == (1, 1)


def test_a_page_posted_without_an_answer_keeps_what_was_saved(tablet, assessment):
    answer_page(tablet, "PWB", {"GP1": "3"})
    answer_page(tablet, "PWB", {})
    assert Response.objects.get(item_code="GP1").value == 3


def test_back_goes_to_the_previous_page_and_saves_too(tablet, assessment):
    response = answer_page(tablet, "SWB", {"GS1": "2"}, nav="back")
    assert response["Location"] == reverse("tablet:page", args=["PWB"])
    assert Response.objects.filter(item_code="GS1").exists()


def test_the_last_section_leads_to_the_review(tablet):
    response = answer_page(tablet, "LR", {"LR1": "1"})
    assert response["Location"] == reverse("tablet:review")


def test_gs7_declined_through_the_box(tablet):
    answer_page(tablet, "SWB", {"GS7_declined": "1", "GS7": "2"})
    stored = Response.objects.get(item_code="GS7")
    assert (stored.value, stored.declined) == (None, True)


def test_a_tampered_value_is_refused_and_nothing_is_stored(tablet):
    response = answer_page(tablet, "PWB", {"GP1": "7"})
    assert response.status_code == 400
    assert not Response.objects.exists()


def test_the_review_lists_unanswered_items_with_links_back(tablet, assessment):
    answer_page(
        tablet, "PWB", {code: "1" for code in sections(assessment)[0].items if code != "GP3"}
    )
    html = tablet.get(reverse("tablet:review")).content.decode()
    assert 'href="/tablet/page/PWB/#item-GP3"' in html
    assert 'href="/tablet/page/PWB/#item-GP1"' not in html
    assert "40 questions have no answer yet" in html


def test_a_declined_gs7_is_not_listed_as_unanswered(tablet, assessment):
    answer_page(tablet, "SWB", {"GS7_declined": "1"})
    html = tablet.get(reverse("tablet:review")).content.decode()
    assert "#item-GS7" not in html


def test_submitting_completes_scores_and_records_how_it_was_done(assessment, coordinator_a):
    kiosk = hand_over(assessment, coordinator_a, assistance="read_aloud")
    tablet = tablet_client(kiosk)
    tablet.get(reverse("tablet:intro"))
    for section in sections(assessment):
        tablet.get(reverse("tablet:page", args=[section.code]))
        answer_page(tablet, section.code, dict.fromkeys(section.items, "2"))
    tablet.get(reverse("tablet:review"))
    response = tablet.post(reverse("tablet:submit"))
    assert response["Location"] == reverse("tablet:done")
    assessment.refresh_from_db()
    assert assessment.status == Assessment.Status.COMPLETED
    assert assessment.started_at and assessment.completed_at
    assert assessment.started_at <= assessment.completed_at
    assert assessment.mode == Assessment.Mode.TABLET
    assert assessment.assistance == Assessment.Assistance.READ_ALOUD
    assert assessment.language == "en"
    assert set(assessment.page_seconds) == {
        "intro",
        "PWB",
        "SWB",
        "EWB",
        "FWB",
        "BCS",
        "LR",
        "review",
    }
    score = Score.objects.get(assessment=assessment)
    assert (score.pwb, score.swb, score.factb_n) == (14, 14, 37)
    kiosk.refresh_from_db()
    assert kiosk.end_reason == KioskSession.EndReason.SUBMITTED and kiosk.ended_at
    done = tablet.get(reverse("tablet:done"))
    assert "Thank you" in done.content.decode()


def test_submitting_twice_completes_once(tablet, assessment):
    answer_page(tablet, "PWB", {"GP1": "2"})
    first = tablet.post(reverse("tablet:submit"))
    second = tablet.post(reverse("tablet:submit"))
    assert first["Location"] == second["Location"] == reverse("tablet:done")
    completions = AuditEvent.objects.filter(assessment=assessment, to_status="completed")
    assert completions.count() == 1
    assert AuditEvent.objects.filter(action=AuditEvent.Action.SCORED).count() == 1
    assert Score.objects.count() == 1


def test_submitting_with_no_answer_says_so(tablet, assessment):
    response = tablet.post(reverse("tablet:submit"))
    assert response["Location"] == reverse("tablet:review") + "?error=empty"
    assert "at least one question" in tablet.get(response["Location"]).content.decode()
    assessment.refresh_from_db()
    assert assessment.status == Assessment.Status.OPEN


def test_after_submission_every_page_shows_the_thank_you(tablet, assessment):
    answer_page(tablet, "PWB", {"GP1": "2"})
    tablet.post(reverse("tablet:submit"))
    for name in ("form", "intro", "review"):
        assert tablet.get(reverse(f"tablet:{name}"))["Location"] == reverse("tablet:done")
    assert tablet.get("/coordinator/")["Location"] == reverse("tablet:form")


def test_resuming_on_another_tablet_continues_at_the_first_gap(assessment, coordinator_a, tablet):
    answer_page(tablet, "PWB", dict.fromkeys(sections(assessment)[0].items, "1"))
    answer_page(tablet, "SWB", {"GS1": "3"})
    second = tablet_client(hand_over(assessment, coordinator_a))
    assert second.get(reverse("tablet:form"))["Location"] == reverse("tablet:page", args=["SWB"])
    html = second.get(reverse("tablet:page", args=["SWB"])).content.decode()
    assert re.search(r'id="GS1-3"[^>]*checked', html)
    assert tablet.get(reverse("tablet:page", args=["SWB"])).status_code == 403  # the old tablet


def test_the_tablet_pages_are_never_cached(tablet):
    response = tablet.get(reverse("tablet:page", args=["PWB"]))
    assert "no-store" in response["Cache-Control"]


def test_without_a_kiosk_session_the_pages_say_to_ask_the_staff(client):
    response = client.get(reverse("tablet:page", args=["PWB"]))
    assert response.status_code == 403
    assert "No questionnaire is open on this tablet" in response.content.decode()


def test_an_idle_tablet_locks_and_shows_no_answers(tablet, kiosk):
    answer_page(tablet, "PWB", {"GP1": "2"})
    make_idle(kiosk)
    response = tablet.get(reverse("tablet:page", args=["PWB"]))
    assert response["Location"] == reverse("tablet:locked")
    kiosk.refresh_from_db()
    assert kiosk.locked
    locked = tablet.get(reverse("tablet:locked")).content.decode()
    assert "This screen is locked" in locked
    assert "GP1" not in locked and "Low energy" not in locked


def test_a_page_posted_after_the_idle_time_is_saved_then_locked(tablet, kiosk):
    make_idle(kiosk)
    response = answer_page(tablet, "PWB", {"GP4": "1"})
    assert response["Location"] == reverse("tablet:locked")
    assert Response.objects.get(item_code="GP4").value == 1


def test_the_pin_unlocks_and_she_continues_on_her_page(tablet, kiosk):
    tablet.get(reverse("tablet:page", args=["EWB"]))
    tablet.post(reverse("tablet:lock"))
    assert tablet.get(reverse("tablet:page", args=["EWB"]))["Location"] == reverse("tablet:locked")
    wrong = tablet.post(reverse("tablet:locked"), {"pin": "0000"})
    assert wrong.status_code == 400
    right = tablet.post(reverse("tablet:locked"), {"pin": "2468"})
    assert right["Location"] == reverse("tablet:page", args=["EWB"])
    kiosk.refresh_from_db()
    assert not kiosk.locked


def test_five_wrong_pins_block_the_pin(tablet, kiosk):
    tablet.post(reverse("tablet:lock"))
    for _ in range(5):
        tablet.post(reverse("tablet:locked"), {"pin": "0000"})
    blocked = tablet.post(reverse("tablet:locked"), {"pin": "2468"})
    assert blocked.status_code == 403
    kiosk.refresh_from_db()
    assert kiosk.locked


def test_leaving_with_the_pin_ends_the_session_and_frees_the_browser(tablet, kiosk, assessment):
    answer_page(tablet, "PWB", {"GP1": "2"})
    assert tablet.post(reverse("tablet:exit"), {"method": "pin", "pin": "9999"}).status_code == 400
    response = tablet.post(reverse("tablet:exit"), {"method": "pin", "pin": "2468"})
    assert response["Location"].startswith(reverse("login"))
    kiosk.refresh_from_db()
    assert kiosk.end_reason == KioskSession.EndReason.COORDINATOR
    assert tablet.get("/coordinator/")["Location"].startswith(reverse("login"))
    assert Response.objects.get(item_code="GP1").value == 2  # answers stay


def test_leaving_with_a_coordinator_login_of_her_site(tablet, kiosk, assessment):
    from tests.factories import PASSWORD

    response = tablet.post(
        reverse("tablet:exit"),
        {"method": "login", "username": "coord_a", "password": PASSWORD},
    )
    assert response["Location"] == reverse(
        "coordinator:participant", args=[assessment.participant_id]
    )
    assert tablet.get("/coordinator/").status_code == 200
    kiosk.refresh_from_db()
    assert not kiosk.is_live


def test_a_coordinator_of_another_site_cannot_take_the_tablet(tablet, kiosk, coordinator_b):
    from tests.factories import PASSWORD

    response = tablet.post(
        reverse("tablet:exit"),
        {"method": "login", "username": "coord_b", "password": PASSWORD},
    )
    assert response.status_code == 403
    kiosk.refresh_from_db()
    assert kiosk.is_live
    assert tablet.get("/coordinator/")["Location"] == reverse("tablet:form")


def test_the_form_is_rendered_in_the_pinned_language(trial, site_a, coordinator_a):
    from tests.tablet.conftest import open_assessment_for

    assessment = open_assessment_for(trial, site_a, language="es")
    tablet = tablet_client(hand_over(assessment, coordinator_a))
    html = tablet.get(
        reverse("tablet:page", args=["PWB"]), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert '<html lang="es" class="text-normal">' in html
    assert "Bienestar físico" in html
    assert "Poca energía" in html
    assert "Nada" in html and "Muchísimo" in html
    assert "Siguiente" in html
    assert "Parte 1 de 6" in html


def test_licensed_wording_is_shown_when_loaded(tablet, assessment):
    from django.utils import timezone

    from surveys.models import InstrumentText

    InstrumentText.objects.bulk_create(
        InstrumentText(
            instrument="FACT-B",
            version="4",
            language="en",
            item_code=code,
            text=f"Licensed text of {code}",
            loaded_at=timezone.now(),
        )
        for code in instrumentation.instruments(assessment.instrument_version)[0].item_codes
    )
    pwb = tablet.get(reverse("tablet:page", args=["PWB"])).content.decode()
    assert "Licensed text of GP1" in pwb and "Low energy" not in pwb
    assert "Demonstration wording" not in pwb
    lr = tablet.get(reverse("tablet:page", args=["LR"])).content.decode()
    assert "Demonstration wording" in lr  # the LR items have no licensed text loaded
