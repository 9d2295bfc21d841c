"""``/r/<token>`` over HTTP: the code is asked, her one form opens in mode "home", refusals are
clear 4xx pages that store nothing, and a home session is confined to her form."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from surveys.home.links import MAX_CODE_FAILURES, issue_link
from surveys.models import (
    AnswerTap,
    Assessment,
    AuditEvent,
    HomeAccess,
    KioskSession,
    Response,
)
from surveys.tablet.middleware import MODE_KEY, SESSION_KEY
from tests.home.conftest import CODE
from tests.tablet.conftest import open_assessment_for

pytestmark = pytest.mark.django_db


def snapshot() -> dict[str, int]:
    """What a refused request must not change."""
    return {
        "sessions": KioskSession.objects.count(),
        "responses": Response.objects.count(),
        "taps": AnswerTap.objects.count(),
    }


def open_link(client: Client, url: str, code: str = CODE):
    client.get(url)
    return client.post(url, {"code": code})


def answer_first_item(client: Client, assessment: Assessment) -> None:
    response = client.post(
        reverse("tablet:answer"),
        json.dumps({"assessment": assessment.pk, "item": "GP1", "value": 3, "key": "k1"}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content


def test_the_link_asks_the_access_code_then_opens_her_form_at_home(client, assessment, link_url):
    page = client.get(link_url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="code"' in html and 'inputmode="numeric"' in html
    assert not KioskSession.objects.exists()
    opened = client.post(link_url, {"code": CODE})
    assert opened.status_code == 302 and opened["Location"] == reverse("tablet:form")
    session = KioskSession.objects.get()
    assert session.mode == Assessment.Mode.HOME and session.started_by is None
    assert session.home_link is not None and session.home_link.opened_at is not None
    assert client.session[SESSION_KEY] == session.token and client.session[MODE_KEY] == "home"
    start = AuditEvent.objects.get(action=AuditEvent.Action.KIOSK_START)
    assert start.actor_label == "home" and start.details["mode"] == "home"
    # Her form, then the submission records the mode.
    assert client.get(reverse("tablet:intro")).status_code == 200
    answer_first_item(client, assessment)
    assert client.post(reverse("tablet:submit")).status_code == 302
    assessment.refresh_from_db()
    assert assessment.status == Assessment.Status.COMPLETED
    assert assessment.mode == Assessment.Mode.HOME and assessment.phone_staff is None
    done = client.get(reverse("tablet:done"))
    assert "You can close this page." in done.content.decode()
    # The link refuses a second use, with a clear page.
    again = Client().get(link_url)
    assert again.status_code == 410
    assert "already been sent" in again.content.decode()


def test_a_home_session_is_confined_to_her_one_form(client, assessment, link_url, trial, site_a):
    open_link(client, link_url)
    for url in (
        reverse("coordinator:worklist"),
        reverse("coordinator:participant", args=[assessment.participant_id]),
        "/admin/",
        "/statistician/",
    ):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == reverse("tablet:form")
    other = open_assessment_for(trial, site_a)
    refused = client.post(
        reverse("tablet:answer"),
        json.dumps({"assessment": other.pk, "item": "GP1", "value": 1}),
        content_type="application/json",
    )
    assert refused.status_code == 403
    assert not other.responses.exists()


def test_the_exit_page_at_home_takes_nothing_back(client, link_url):
    open_link(client, link_url)
    page = client.get(reverse("tablet:exit"))
    assert page.status_code == 200 and "Stop for now" in page.content.decode()
    assert client.post(reverse("tablet:exit"), {"method": "pin", "pin": CODE}).status_code == 405
    assert KioskSession.objects.get().is_live


def test_another_assessments_link_opens_only_that_assessment(
    client, assessment, link_url, trial, site_a, coordinator_a
):
    other = open_assessment_for(trial, site_a)
    from surveys.home.links import issue_access_code

    issue_access_code(other.participant, actor=coordinator_a, now=timezone.now(), code="246802")
    other_url = issue_link(other, actor=coordinator_a, now=timezone.now())
    before = snapshot()
    # Her code does not open another participant's link (and counts as a wrong code there).
    refused = open_link(client, other_url, CODE)
    assert refused.status_code == 400
    assert snapshot() == before
    assert HomeAccess.objects.get(participant=other.participant).failed_attempts == 1


def test_a_tampered_token_is_a_clear_404_and_stores_nothing(client, link_url):
    token = link_url.removeprefix("/r/")
    tampered = "/r/" + token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    before = snapshot()
    for response in (client.get(tampered), client.post(tampered, {"code": CODE})):
        assert response.status_code == 404
        assert "not valid" in response.content.decode()
    assert snapshot() == before


def test_a_link_after_the_window_closed_is_refused(client, assessment, link_url):
    Assessment.objects.filter(pk=assessment.pk).update(
        closes_at=timezone.now() - dt.timedelta(minutes=1)
    )
    before = snapshot()
    for response in (client.get(link_url), client.post(link_url, {"code": CODE})):
        assert response.status_code == 410
        assert "closed" in response.content.decode()
    assert snapshot() == before


def test_too_many_wrong_codes_lock_the_link_with_a_clear_page(
    client, assessment, link_url, coordinator_a
):
    before = snapshot()
    client.get(link_url)
    for attempt in range(1, MAX_CODE_FAILURES):
        wrong = client.post(link_url, {"code": "000000"})
        assert wrong.status_code == 400
        assert f"{MAX_CODE_FAILURES - attempt} tr" in wrong.content.decode()
    locked = client.post(link_url, {"code": "000000"})
    assert locked.status_code == 403 and "locked" in locked.content.decode()
    assert client.post(link_url, {"code": CODE}).status_code == 403  # even the right one
    assert Client().get(link_url).status_code == 403  # another browser too
    assert snapshot() == before
    assert AuditEvent.objects.filter(action=AuditEvent.Action.HOME_LOCKED).count() == 1
    # The coordinator unlocks by issuing a new code (from her page).
    coord = Client()
    coord.force_login(coordinator_a)
    page = coord.post(reverse("athome:access_code", args=[assessment.participant_id]))
    assert page.status_code == 200
    new_code = page.content.decode().split("data-access-code>")[1].split("<")[0]
    assert open_link(Client(), link_url, new_code).status_code == 302


def test_a_code_that_is_not_six_digits_does_not_count(client, assessment, link_url):
    client.get(link_url)
    for bad in ("", "12345", "1234567", "abcdef", "12\x0034"):
        assert client.post(link_url, {"code": bad}).status_code == 400
    assert HomeAccess.objects.get(participant=assessment.participant).failed_attempts == 0


@pytest.mark.parametrize(
    "path",
    ["/r/%00", "/r/abc%00defghijklmnopqrstu", "/r/" + "A" * 5000, "/r/%C3%A9%C3%A9%C3%A9"],
)
def test_hostile_paths_are_refused_with_a_4xx(client, link_url, path):
    before = snapshot()
    response = client.get(path)
    assert 400 <= response.status_code < 500
    assert snapshot() == before


def test_a_json_post_to_a_link_is_refused_and_counts_nothing(client, assessment, link_url):
    client.get(link_url)
    deep: object = CODE
    for _ in range(5000):
        deep = [deep]
    body = '{"code": ' + "[" * 5000 + '"1"' + "]" * 5000 + "}"
    response = client.post(link_url, body, content_type="application/json")
    assert 400 <= response.status_code < 500
    assert HomeAccess.objects.get(participant=assessment.participant).failed_attempts == 0
    assert not KioskSession.objects.exists()


def test_the_coordinator_revokes_and_reissues_links_from_her_page(
    client, assessment, link_url, coordinator_a
):
    client.force_login(coordinator_a)
    page = client.get(reverse("coordinator:participant", args=[assessment.participant_id]))
    html = page.content.decode()
    assert reverse("athome:revoke_links", args=[assessment.pk]) in html
    assert reverse("athome:phone", args=[assessment.pk]) in html
    revoked = client.post(reverse("athome:revoke_links", args=[assessment.pk]))
    assert revoked.status_code == 302
    assert Client().get(link_url).status_code == 410
    issued = client.post(reverse("athome:issue_link", args=[assessment.pk]))
    assert issued.status_code == 200
    new_url = issued.content.decode().split("data-home-link>")[1].split("<")[0]
    assert new_url.startswith("http://testserver/r/")
    assert Client().get(new_url.removeprefix("http://testserver")).status_code == 200
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"home_links_revoked", "home_link_issued"} <= actions


def test_another_sites_coordinator_cannot_touch_her_links(client, assessment, coordinator_b):
    client.force_login(coordinator_b)
    for name in ("athome:issue_link", "athome:revoke_links", "athome:phone"):
        assert client.post(reverse(name, args=[assessment.pk])).status_code == 404
    url = reverse("athome:access_code", args=[assessment.participant_id])
    assert client.post(url).status_code == 404
    assert not AuditEvent.objects.filter(action__startswith="home_").exists()
