"""The coordinator's hand-off: her sites only, a PIN, assistance, language, one live session."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import check_password
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from surveys.models import Assessment, AuditEvent, KioskSession
from surveys.tablet.answers import response_save
from surveys.tablet.middleware import SESSION_KEY
from tests.factories import UserFactory
from tests.tablet.conftest import PIN, hand_over, open_assessment_for

pytestmark = pytest.mark.django_db


def start_url(assessment: Assessment) -> str:
    return reverse("tablet:start", args=[assessment.pk])


def hand_off(client: Client, assessment: Assessment, **data):
    payload = {"assistance": "read_aloud", "language": "en", "pin": PIN, "pin_confirm": PIN}
    payload.update(data)
    return client.post(start_url(assessment), payload)


@pytest.fixture
def coord(client, coordinator_a):
    client.force_login(coordinator_a)
    return client


def test_the_participant_page_links_to_the_hand_off(coord, assessment):
    page = coord.get(reverse("coordinator:participant", args=[assessment.participant_id]))
    assert page.status_code == 200
    assert start_url(assessment) in page.content.decode()


def test_the_hand_off_page_asks_for_a_pin_and_the_level_of_assistance(coord, assessment):
    page = coord.get(start_url(assessment))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="pin"' in html and 'name="pin_confirm"' in html
    for value in Assessment.Assistance.values:
        assert f'value="{value}"' in html
    assert assessment.participant.study_id in html


def test_another_sites_assessment_is_not_found(client, coordinator_b, assessment):
    client.force_login(coordinator_b)
    assert client.get(start_url(assessment)).status_code == 404
    assert hand_off(client, assessment).status_code == 404
    assert not KioskSession.objects.exists()


def test_people_who_are_not_coordinators_cannot_hand_over(client, assessment):
    assert client.get(start_url(assessment)).status_code == 302  # to the login page
    client.force_login(UserFactory())
    assert client.get(start_url(assessment)).status_code == 403


def test_starting_turns_this_browser_into_the_patients_tablet(coord, assessment, coordinator_a):
    response = hand_off(coord, assessment)
    assert response.status_code == 302
    assert response["Location"] == reverse("tablet:form")
    session = KioskSession.objects.get()
    assert session.assessment == assessment and session.started_by == coordinator_a
    assert session.is_live and not session.locked
    assert check_password(PIN, session.pin_hash) and PIN not in session.pin_hash
    assert coord.session[SESSION_KEY] == session.token
    assert "_auth_user_id" not in coord.session  # the staff login left this browser
    assessment.refresh_from_db()
    assert assessment.assistance == Assessment.Assistance.READ_ALOUD
    event = AuditEvent.objects.get(action=AuditEvent.Action.KIOSK_START)
    assert event.actor == coordinator_a and event.assessment == assessment


def test_the_tablet_is_confined_to_the_questionnaire(coord, assessment):
    hand_off(coord, assessment)
    for path in ("/coordinator/", "/admin/", "/", "/statistician/", "/api/"):
        response = coord.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == reverse("tablet:form"), path
    assert coord.get(start_url(assessment)).status_code == 302  # no staff login any more


@pytest.mark.parametrize(
    ("pin", "confirm"),
    [("12", "12"), ("abcd", "abcd"), ("123456789", "123456789"), ("1234", "4321")],
)
def test_a_bad_pin_starts_nothing(coord, assessment, pin, confirm):
    response = hand_off(coord, assessment, pin=pin, pin_confirm=confirm)
    assert response.status_code == 400
    assert not KioskSession.objects.exists()
    assert "_auth_user_id" in coord.session


def test_the_language_can_be_chosen_before_any_answer(coord, assessment):
    hand_off(coord, assessment, language="es")
    assessment.refresh_from_db()
    assert assessment.language == "es"


def test_the_language_is_pinned_once_answers_are_saved(coord, assessment):
    response_save(assessment_id=assessment.pk, item_code="GP1", value=2, now=timezone.now())
    page = coord.get(start_url(assessment))
    assert "Fixed: answers have already been saved" in page.content.decode()
    hand_off(coord, assessment, language="es")
    assessment.refresh_from_db()
    assert assessment.language == "en"
    assert KioskSession.objects.filter(ended_at__isnull=True).count() == 1


def test_a_second_hand_off_ends_the_first_session(assessment, coordinator_a):
    first = hand_over(assessment, coordinator_a)
    second = hand_over(assessment, coordinator_a)
    first.refresh_from_db()
    assert first.ended_at is not None
    assert first.end_reason == KioskSession.EndReason.REPLACED
    assert list(KioskSession.objects.filter(ended_at__isnull=True)) == [second]
    assert AuditEvent.objects.filter(action=AuditEvent.Action.KIOSK_END).count() == 1


def test_the_page_warns_about_a_running_session(coord, assessment, coordinator_a):
    hand_over(assessment, coordinator_a)
    page = coord.get(start_url(assessment))
    assert "already running" in page.content.decode()


def test_an_assessment_that_takes_no_answers_cannot_be_handed_over(coord, trial, site_a):
    assessment = open_assessment_for(trial, site_a)
    scheduled = assessment.participant.assessments.get(visit__code="m6")
    assert scheduled.status == Assessment.Status.SCHEDULED
    assert coord.get(start_url(scheduled)).status_code == 409
    assert hand_off(coord, scheduled).status_code == 409
    assert not KioskSession.objects.exists()
