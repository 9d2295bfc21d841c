"""The JSON answer endpoint: idempotent saves, and every refusal stores nothing."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from surveys.models import AnswerTap, Assessment, KioskSession, Response
from surveys.trial.participants import participant_go_off_study
from tests.tablet.conftest import hand_over, open_assessment_for, tablet_client

pytestmark = pytest.mark.django_db
URL = "/tablet/answer/"


def post(client: Client, assessment: Assessment | int, item: str = "GP1", value=2, **extra):
    body = {
        "assessment": assessment if isinstance(assessment, int) else assessment.pk,
        "item": item,
        "value": value,
        **extra,
    }
    return client.post(URL, data=json.dumps(body), content_type="application/json")


def test_the_url_is_named_answer():
    assert reverse("tablet:answer") == URL


def test_a_tap_is_saved_and_the_assessment_moves_in_progress(tablet, assessment):
    response = post(tablet, assessment, "GP1", 3, key="k1")
    assert response.status_code == 200
    body = response.json()
    tapped_at = body.pop("tapped_at")
    assert body == {
        "ok": True,
        "item": "GP1",
        "value": 3,
        "declined": False,
        "answered": True,
        "stored": "created",
        "revision": 1,
        "session": "live",
        "replay": False,
    }
    stored = Response.objects.get(assessment=assessment)
    assert tapped_at == int(stored.tapped_at.timestamp() * 1000)
    assessment.refresh_from_db()
    assert assessment.status == Assessment.Status.IN_PROGRESS
    assert assessment.started_at is not None
    assert list(assessment.responses.values_list("item_code", "value")) == [("GP1", 3)]


def test_the_same_key_sent_twice_is_stored_once(tablet, assessment):
    first = post(tablet, assessment, "GP2", 1, key="retry-me")
    again = post(tablet, assessment, "GP2", 1, key="retry-me")
    assert (first.json()["stored"], again.json()["stored"]) == ("created", "unchanged")
    assert Response.objects.filter(assessment=assessment).count() == 1
    assert Response.objects.get(assessment=assessment).revision == 1


def test_a_replayed_key_does_not_overwrite_with_its_own_value_again(tablet, assessment):
    post(tablet, assessment, "GP2", 1, key="a")
    replay = post(tablet, assessment, "GP2", 1, key="a")
    assert replay.json()["revision"] == 1


def test_a_double_tap_of_the_same_answer_with_new_keys_changes_nothing(tablet, assessment):
    post(tablet, assessment, "GP3", 4, key="tap-1")
    second = post(tablet, assessment, "GP3", 4, key="tap-2")
    assert second.json()["stored"] == "unchanged"
    response = Response.objects.get(assessment=assessment, item_code="GP3")
    assert (response.value, response.revision, response.idempotency_key) == (4, 1, "tap-1")


def test_changing_an_answer_updates_the_one_row(tablet, assessment):
    post(tablet, assessment, "GP4", 0, key="first")
    changed = post(tablet, assessment, "GP4", 2, key="second")
    assert changed.json()["stored"] == "changed"
    rows = list(Response.objects.filter(assessment=assessment).values_list("value", "revision"))
    assert rows == [(2, 2)]


def test_gs7_can_be_declined(tablet, assessment):
    response = post(tablet, assessment, "GS7", None, declined=True, key="d")
    assert response.status_code == 200
    stored = Response.objects.get(assessment=assessment, item_code="GS7")
    assert (stored.value, stored.declined) == (None, True)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (5, "above 4"),
        (-1, "below 0"),
        ("2", "a string"),
        (2.5, "a fraction"),
        (True, "a bool"),
        (None, "missing"),
    ],
)
def test_a_value_outside_0_to_4_is_a_400_and_nothing_is_stored(tablet, assessment, value, why):
    response = post(tablet, assessment, "GP1", value, key="bad")
    assert response.status_code == 400, why
    assert response.json()["ok"] is False
    assert "0 to 4" in response.json()["error"]
    assert not Response.objects.exists()
    assessment.refresh_from_db()
    assert assessment.status == Assessment.Status.OPEN


@pytest.mark.parametrize("item", ["GP99", "B10", "gp1", ""])
def test_an_item_not_in_the_pinned_form_is_a_400(tablet, assessment, item):
    # B10 is a real FACT-B+4 item, but not on this trial's form.
    response = post(tablet, assessment, item, 2)
    assert response.status_code == 400
    assert response.json()["code"] == "item"
    assert "not an item of this questionnaire" in response.json()["error"]
    assert not Response.objects.exists()


def test_declining_an_item_without_that_option_is_a_400(tablet, assessment):
    response = post(tablet, assessment, "GP1", None, declined=True)
    assert response.status_code == 400
    assert not Response.objects.exists()


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'{"item": "GP1", "value": 2}', b'{"assessment": "1", "item": "GP1"}'],
)
def test_a_malformed_request_is_a_400(tablet, assessment, body):
    response = tablet.post(URL, data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "malformed"
    assert not Response.objects.exists()


def test_a_completed_assessment_takes_no_answers_409(tablet, assessment):
    assert post(tablet, assessment, "GP1", 2).status_code == 200
    submitted = tablet.post("/tablet/submit/")
    assert submitted.status_code == 302
    response = post(tablet, assessment, "GP2", 2)
    # The session ended at submission: a late tap is refused, nothing stored.
    assert response.status_code in (403, 409)
    assert list(Response.objects.values_list("item_code", flat=True)) == ["GP1"]


def test_an_assessment_no_longer_open_is_a_409(tablet, assessment):
    # The window closed under the live session: the clock alone refuses the answer.
    Assessment.objects.filter(pk=assessment.pk).update(closes_at=timezone.now())
    response = post(tablet, assessment, "GP1", 2)
    assert response.status_code == 409
    assert response.json()["code"] == "status"
    assert "takes no answers" in response.json()["error"]
    assert not Response.objects.exists()


def test_going_off_study_ends_the_tablet_session_and_keeps_a_late_tap_aside(tablet, assessment):
    participant = assessment.participant
    participant_go_off_study(
        participant=participant,
        off_study_on=timezone.localdate(),
        reason="withdrawal",
        note="",
        actor="test",
        now=timezone.now(),
    )
    assessment.refresh_from_db()
    assert assessment.status == Assessment.Status.NOT_EXPECTED
    session = KioskSession.objects.get(assessment=assessment)
    assert session.end_reason == KioskSession.EndReason.OFF_STUDY
    # A tap still queued on the tablet is never applied to the form, nor dropped: it is kept
    # for the coordinator (docs/tablet.md); the tablet shows no further question.
    response = post(tablet, assessment, "GP1", 2)
    assert response.status_code == 409
    assert response.json()["preserved"] is True
    assert not Response.objects.exists()
    assert AnswerTap.objects.preserved().filter(assessment=assessment, item_code="GP1").exists()
    page = tablet.get("/tablet/")
    assert page.status_code in (302, 403)
    if page.status_code == 302:
        assert tablet.get(page["Location"]).status_code == 403


def test_a_kiosk_session_for_another_assessment_is_a_403(
    trial, site_a, coordinator_a, tablet, assessment
):
    other = open_assessment_for(trial, site_a)
    response = post(tablet, other, "GP1", 2)
    assert response.status_code == 403
    assert response.json()["code"] == "kiosk_other_assessment"
    assert not Response.objects.exists()
    other.refresh_from_db()
    assert other.status == Assessment.Status.OPEN


def test_an_unknown_assessment_id_is_a_403(tablet, assessment):
    response = post(tablet, 999_999, "GP1", 2)
    assert response.status_code == 403
    assert not Response.objects.exists()


def test_without_a_kiosk_session_it_is_a_403(assessment, coordinator_a):
    client = Client()
    client.force_login(coordinator_a)  # a staff login is not a kiosk session
    response = post(client, assessment, "GP1", 2)
    assert response.status_code == 403
    assert response.json()["code"] == "kiosk_missing"
    assert not Response.objects.exists()


def test_a_replaced_tablet_still_delivers_what_she_tapped(assessment, coordinator_a, kiosk, tablet):
    """Issue 12 defect 1: the old code answered 403 ``kiosk_ended`` and stored nothing."""
    hand_over(assessment, coordinator_a)  # she continues on another tablet
    response = post(tablet, assessment, "GP1", 2, key="queued-offline")
    assert response.status_code == 200
    assert (response.json()["stored"], response.json()["session"]) == ("created", "ended")
    assert list(Response.objects.values_list("item_code", "value")) == [("GP1", 2)]


def test_the_new_tablet_saves_after_a_hand_over(assessment, coordinator_a, kiosk, tablet):
    new_tablet = tablet_client(hand_over(assessment, coordinator_a))
    assert post(new_tablet, assessment, "GP1", 2).status_code == 200


def test_answers_need_the_csrf_token(kiosk, assessment):
    client = tablet_client(kiosk, enforce_csrf_checks=True)
    response = post(client, assessment, "GP1", 2)
    assert response.status_code == 403
    assert not Response.objects.exists()


def test_answers_with_the_csrf_token_from_the_page_are_saved(kiosk, assessment):
    client = tablet_client(kiosk, enforce_csrf_checks=True)
    client.get("/tablet/page/PWB/")
    token = client.cookies["csrftoken"].value
    body = json.dumps({"assessment": assessment.pk, "item": "GP1", "value": 2})
    response = client.post(URL, data=body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200


def test_get_is_not_allowed(tablet):
    assert tablet.get(URL).status_code == 405


def test_a_locked_tablet_still_stores_taps_made_before_the_lock(tablet, kiosk, assessment):
    tablet.post("/tablet/lock/")
    kiosk.refresh_from_db()
    assert kiosk.locked
    assert post(tablet, assessment, "GP5", 1, key="queued").status_code == 200
    assert Response.objects.filter(item_code="GP5", value=1).count() == 1
