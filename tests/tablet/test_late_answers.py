"""Answers that arrive late: from a replaced tablet, older than a stored tap, after the form
closed, or replayed. No tapped answer is dropped; nothing is stored twice (issue 12, defect 1).
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from surveys.models import AnswerTap, Assessment, AuditEvent, KioskSession, Response
from surveys.tablet.answers import AnswerRejected, KeyConflict, response_save
from surveys.tablet.kiosk import (
    KioskDenied,
    bound_tap_time,
    kiosk_answer,
    kiosk_submit,
    tap_time_from_client,
)
from surveys.trial.participants import participant_go_off_study
from surveys.trial.sweep import sweep_assessments
from tests.tablet.conftest import hand_over, open_assessment_for, tablet_client

pytestmark = pytest.mark.django_db
URL = "/tablet/answer/"


def post(client: Client, assessment: Assessment, item: str = "GP1", value=2, **extra):
    body = {"assessment": assessment.pk, "item": item, "value": value, **extra}
    return client.post(URL, data=json.dumps(body), content_type="application/json")


def deliver(session: KioskSession, item: str, value, *, key: str, tapped_at=None, now=None):
    return kiosk_answer(
        token=session.token,
        assessment_id=session.assessment_id,
        item_code=item,
        value=value,
        idempotency_key=key,
        tapped_at=tapped_at,
        now=now or timezone.now(),
    )


def answers(assessment: Assessment) -> dict[str, int | None]:
    return dict(Response.objects.filter(assessment=assessment).values_list("item_code", "value"))


def ms(instant: dt.datetime) -> int:
    return int(instant.timestamp() * 1000)


@pytest.fixture
def started_an_hour_ago(kiosk):
    """Tablet 1's hand-off an hour ago: tap times within the last hour are in bounds."""
    KioskSession.objects.filter(pk=kiosk.pk).update(
        started_at=timezone.now() - dt.timedelta(hours=1)
    )
    kiosk.refresh_from_db()
    return kiosk


@pytest.fixture
def replaced(assessment, coordinator_a, kiosk):
    """Tablet 1's session (kiosk), replaced by a hand-off on tablet 2; returns tablet 2's."""
    second = hand_over(assessment, coordinator_a)
    kiosk.refresh_from_db()
    assert kiosk.end_reason == KioskSession.EndReason.REPLACED
    return second


# --------------------------------------------------------------------------- replaced tablet
def test_a_replaced_tablets_answers_are_stored_and_the_audit_names_its_session(
    assessment, kiosk, replaced
):
    tapped = replaced.started_at  # on tablet 1, offline, as the hand-over happened
    result = deliver(kiosk, "GP2", 3, key="t1-gp2", tapped_at=tapped)
    assert result.outcome == "created" and not result.replay
    assert answers(assessment) == {"GP2": 3}
    stored = Response.objects.get(assessment=assessment, item_code="GP2")
    assert stored.tapped_at == tapped
    tap = AnswerTap.objects.get(idempotency_key="t1-gp2")
    assert (tap.kiosk_session, tap.from_ended_session, tap.tapped_at) == (kiosk, True, tapped)
    event = AuditEvent.objects.get(action=AuditEvent.Action.LATE_ANSWER)
    assert event.assessment == assessment and event.actor_label == "kiosk"
    assert event.details["kiosk_session"] == kiosk.pk
    assert event.details["session_end_reason"] == "replaced"
    assert (event.details["item"], event.details["value"]) == ("GP2", 3)
    assert event.details["outcome"] == "created"
    assessment.refresh_from_db()
    assert assessment.status == Assessment.Status.IN_PROGRESS


def test_a_replaced_tablet_cannot_show_questions_any_more(assessment, kiosk, replaced):
    old = tablet_client(kiosk)
    for path in ("/tablet/page/PWB/", "/tablet/intro/", "/tablet/review/"):
        page = old.get(path)
        assert page.status_code == 403, path
        assert "This tablet session has ended" in page.content.decode()
        assert page["X-Kiosk-State"] == "ended"
    assert old.get("/tablet/ping/").status_code == 403
    assert old.post("/tablet/submit/").status_code == 403
    assessment.refresh_from_db()
    assert assessment.status == Assessment.Status.OPEN


def test_over_http_the_replaced_tablet_hears_that_its_session_ended(assessment, kiosk, replaced):
    old = tablet_client(kiosk)
    now = timezone.now()
    response = post(old, assessment, "GP4", 1, key="q1", tapped_at=ms(now), sent_at=ms(now))
    assert response.status_code == 200
    body = response.json()
    assert (body["stored"], body["session"], body["value"]) == ("created", "ended", 1)


# --------------------------------------------------------------------------- latest tap wins
def test_an_older_tap_arriving_late_does_not_overwrite_a_newer_answer(assessment, kiosk, replaced):
    t0 = replaced.started_at
    deliver(replaced, "GP3", 1, key="t2-gp3", tapped_at=t0 + dt.timedelta(seconds=30))
    older = deliver(kiosk, "GP3", 4, key="t1-gp3", tapped_at=t0 - dt.timedelta(seconds=30))
    assert older.outcome == "older"
    stored = Response.objects.get(assessment=assessment, item_code="GP3")
    assert (stored.value, stored.revision, stored.idempotency_key) == (1, 1, "t2-gp3")
    # Nothing is silently lost: the older tap is logged and audited.
    tap = AnswerTap.objects.get(idempotency_key="t1-gp3")
    assert (tap.value, tap.outcome) == (4, "older")
    event = AuditEvent.objects.get(action=AuditEvent.Action.LATE_ANSWER)
    assert (event.details["item"], event.details["outcome"]) == ("GP3", "older")


def test_a_later_tap_from_the_replaced_tablet_wins(assessment, started_an_hour_ago, replaced):
    kiosk = started_an_hour_ago
    now = timezone.now()
    deliver(replaced, "GP3", 1, key="t2", tapped_at=now - dt.timedelta(seconds=20), now=now)
    later = deliver(kiosk, "GP3", 4, key="t1", tapped_at=now - dt.timedelta(seconds=5), now=now)
    assert later.outcome == "changed"
    stored = Response.objects.get(assessment=assessment, item_code="GP3")
    assert (stored.value, stored.revision) == (4, 2)


def test_the_same_value_tapped_again_later_moves_the_tap_time_forward(
    assessment, started_an_hour_ago, replaced
):
    kiosk = started_an_hour_ago
    """Tablet 2 taps 2, tablet 1 (offline) 4, tablet 2 taps 2 again: 2 was her last tap."""
    now = timezone.now()
    deliver(replaced, "GP6", 2, key="a", tapped_at=now - dt.timedelta(seconds=60), now=now)
    again = deliver(replaced, "GP6", 2, key="c", tapped_at=now - dt.timedelta(seconds=10), now=now)
    assert again.outcome == "unchanged"
    late = deliver(kiosk, "GP6", 4, key="b", tapped_at=now - dt.timedelta(seconds=30), now=now)
    assert late.outcome == "older"
    assert answers(assessment) == {"GP6": 2}


def test_an_older_tap_on_the_live_tablet_is_audited_too(assessment, started_an_hour_ago):
    kiosk = started_an_hour_ago
    now = timezone.now()
    deliver(kiosk, "GP7", 3, key="new", tapped_at=now - dt.timedelta(seconds=5), now=now)
    result = deliver(kiosk, "GP7", 0, key="old", tapped_at=now - dt.timedelta(seconds=50), now=now)
    assert result.outcome == "older"
    assert answers(assessment) == {"GP7": 3}
    event = AuditEvent.objects.get(action=AuditEvent.Action.OLDER_ANSWER)
    assert event.details["session_ended"] is False and event.details["value"] == 0


def test_ordinary_taps_on_the_live_tablet_add_no_audit_noise(assessment, kiosk):
    deliver(kiosk, "GP1", 1, key="a")
    deliver(kiosk, "GP1", 2, key="b")
    assert not AuditEvent.objects.filter(
        action__in=["late_answer", "older_answer", "answer_preserved"]
    ).exists()
    assert list(AnswerTap.objects.values_list("outcome", flat=True)) == ["created", "changed"]


# --------------------------------------------------------------------------- preserved answers
def test_answers_reaching_a_submitted_form_are_kept_for_the_coordinator(
    assessment, kiosk, replaced
):
    deliver(replaced, "GP1", 2, key="t2-gp1")
    kiosk_submit(token=replaced.token, now=timezone.now())
    old = tablet_client(kiosk)
    response = post(old, assessment, "GP2", 4, key="t1-gp2")
    assert response.status_code == 409
    body = response.json()
    assert body["preserved"] is True and body["reason"] == "completed"
    assert body["code"] == "status" and body["session"] == "ended"
    assert "kept for the coordinator" in body["error"]
    assert answers(assessment) == {"GP1": 2}  # the completed form is not touched
    kept = AnswerTap.objects.preserved().get()
    assert (kept.item_code, kept.value, kept.kiosk_session) == ("GP2", 4, kiosk)
    assert kept.closed_reason == AnswerTap.ClosedReason.COMPLETED
    event = AuditEvent.objects.get(action=AuditEvent.Action.ANSWER_PRESERVED)
    assert event.details["kiosk_session"] == kiosk.pk and event.details["item"] == "GP2"
    # Sent again (the reply was lost): the same answer, kept once.
    again = post(old, assessment, "GP2", 4, key="t1-gp2")
    assert again.status_code == 409 and again.json()["preserved"] is True
    assert AnswerTap.objects.preserved().count() == 1
    assert AuditEvent.objects.filter(action=AuditEvent.Action.ANSWER_PRESERVED).count() == 1


def test_answers_after_the_window_closed_are_kept_as_window_closed(assessment, kiosk):
    late = assessment.closes_at + dt.timedelta(minutes=5)
    result = deliver(kiosk, "GP1", 3, key="late", tapped_at=assessment.closes_at, now=late)
    assert result.preserved
    assert result.tap.closed_reason == AnswerTap.ClosedReason.WINDOW_CLOSED
    sweep_assessments(now=late)
    assessment.refresh_from_db()
    assert assessment.status == Assessment.Status.MISSED
    again = deliver(kiosk, "GP2", 3, key="later", now=late)
    assert again.tap.closed_reason == AnswerTap.ClosedReason.WINDOW_CLOSED
    assert not Response.objects.exists()


def test_answers_after_she_went_off_study_are_kept_as_not_expected(assessment, kiosk, tablet):
    participant_go_off_study(
        participant=assessment.participant,
        off_study_on=timezone.localdate(),
        reason="withdrawal",
        note="",
        actor="test",
        now=timezone.now(),
    )
    response = post(tablet, assessment, "GP1", 2, key="k")
    assert response.status_code == 409 and response.json()["reason"] == "not_expected"
    assert AnswerTap.objects.preserved().get().closed_reason == "not_expected"
    assert not Response.objects.exists()


def test_the_plain_save_still_refuses_a_closed_assessment(assessment, kiosk):
    deliver(kiosk, "GP1", 2, key="a")
    kiosk_submit(token=kiosk.token, now=timezone.now())
    with pytest.raises(AnswerRejected) as refused:
        response_save(assessment_id=assessment.pk, item_code="GP2", value=1, now=timezone.now())
    assert refused.value.code == "status"
    assert not AnswerTap.objects.preserved().exists()


# --------------------------------------------------------------------------- idempotency keys
def test_a_key_reused_with_another_value_is_a_409_and_changes_nothing(tablet, assessment):
    assert post(tablet, assessment, "GP1", 2, key="k-1").status_code == 200
    before = (
        list(Response.objects.values_list("item_code", "value", "revision", "tapped_at")),
        AnswerTap.objects.count(),
        AuditEvent.objects.count(),
    )
    for item, value in (("GP1", 3), ("GP2", 2)):
        response = post(tablet, assessment, item, value, key="k-1")
        assert response.status_code == 409, item
        assert response.json()["code"] == "key_conflict"
        assert "already used for another answer" in response.json()["error"]
    after = (
        list(Response.objects.values_list("item_code", "value", "revision", "tapped_at")),
        AnswerTap.objects.count(),
        AuditEvent.objects.count(),
    )
    assert after == before


def test_a_key_reused_with_the_same_answer_is_a_replay(tablet, assessment):
    first = post(tablet, assessment, "GP1", 2, key="k-1")
    post(tablet, assessment, "GP1", 3, key="k-2")  # she changed her mind
    replay = post(tablet, assessment, "GP1", 2, key="k-1")  # the first request, retried late
    assert replay.status_code == 200
    assert (replay.json()["stored"], replay.json()["replay"]) == ("unchanged", True)
    assert replay.json()["value"] == 3  # what the form holds: her later answer
    assert first.json()["replay"] is False
    assert answers(assessment) == {"GP1": 3}
    assert AnswerTap.objects.count() == 2


def test_a_key_conflict_in_the_service_raises(assessment, kiosk):
    deliver(kiosk, "GP1", 2, key="k")
    with pytest.raises(KeyConflict):
        deliver(kiosk, "GP1", 1, key="k")


# --------------------------------------------------------------------------- who may deliver
def test_an_unknown_token_is_refused(assessment, client):
    store = client.session
    store["kiosk_token"] = "not-a-token"
    store.save()
    response = post(client, assessment, "GP1", 2, key="x")
    assert response.status_code == 403 and response.json()["code"] == "kiosk_missing"
    assert not AnswerTap.objects.exists() and not Response.objects.exists()


def test_an_ended_session_of_another_assessment_is_refused(
    trial, site_a, coordinator_a, assessment, kiosk
):
    other = open_assessment_for(trial, site_a)
    hand_over(assessment, coordinator_a)  # tablet 1's session ends
    with pytest.raises(KioskDenied) as denied:
        kiosk_answer(
            token=kiosk.token,
            assessment_id=other.pk,
            item_code="GP1",
            value=2,
            idempotency_key="x",
            now=timezone.now(),
        )
    assert denied.value.code == "kiosk_other_assessment"
    response = post(tablet_client(kiosk), other, "GP1", 2, key="y")
    assert response.status_code == 403 and response.json()["code"] == "kiosk_other_assessment"
    assert not Response.objects.filter(assessment=other).exists()
    assert not AnswerTap.objects.filter(assessment=other).exists()


def test_a_browser_that_never_had_a_session_is_refused(client, assessment):
    response = post(client, assessment, "GP1", 2, key="x")
    assert response.status_code == 403 and response.json()["code"] == "kiosk_missing"
    assert not AnswerTap.objects.exists()


# --------------------------------------------------------------------------- tap times
def test_a_tablet_clock_that_is_wrong_still_orders_taps_by_their_age():
    now = dt.datetime(2026, 6, 15, 14, 0, tzinfo=dt.UTC)
    wrong_clock = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)  # the tablet thinks it is 2031
    tapped, sent = ms(wrong_clock), ms(wrong_clock + dt.timedelta(seconds=42))
    assert tap_time_from_client(tapped, sent, now=now) == now - dt.timedelta(seconds=42)
    # A clock that went backwards between tap and send: the tap is taken as just now.
    assert tap_time_from_client(sent, tapped, now=now) == now
    # Without the send time the tap time is taken as it is; without either, unknown.
    assert tap_time_from_client(ms(now), None, now=now) == now
    assert tap_time_from_client(None, sent, now=now) is None


def test_tap_times_are_bounded_by_the_first_hand_off_and_the_servers_now(
    assessment, coordinator_a, kiosk
):
    now = timezone.now()
    assert bound_tap_time(kiosk, now + dt.timedelta(hours=1), now=now) == now
    assert bound_tap_time(kiosk, None, now=now) == now
    inside = kiosk.started_at + dt.timedelta(milliseconds=1)
    assert bound_tap_time(kiosk, inside, now=now) == inside
    assert bound_tap_time(kiosk, dt.datetime(2001, 1, 1, tzinfo=dt.UTC), now=now) == (
        kiosk.started_at
    )
    # Tapped under tablet 1's session, delivered with a later session of the same form:
    # bounded by the first hand-off, not the later one (which would make the tap win).
    later = hand_over(assessment, coordinator_a)
    now = timezone.now()
    between = kiosk.started_at + (later.started_at - kiosk.started_at) / 2
    assert bound_tap_time(later, between, now=now) == between
    assert bound_tap_time(later, kiosk.started_at - dt.timedelta(days=1), now=now) == (
        kiosk.started_at
    )


def test_a_tap_time_from_the_future_is_stored_as_now(tablet, assessment):
    far = ms(timezone.now() + dt.timedelta(days=3))
    before = timezone.now()
    assert post(tablet, assessment, "GP1", 2, key="f", tapped_at=far).status_code == 200
    stored = Response.objects.get().tapped_at
    assert before <= stored <= timezone.now()


@pytest.mark.parametrize(
    "extra",
    [
        {"tapped_at": "yesterday"},
        {"tapped_at": True},
        {"tapped_at": -5},
        {"tapped_at": 1e20},
        {"sent_at": [1]},
    ],
    ids=["string", "bool", "negative", "huge", "list"],
)
def test_a_tap_time_that_is_not_a_time_is_a_400(tablet, assessment, extra):
    response = post(tablet, assessment, "GP1", 2, key="t", **extra)
    assert response.status_code == 400 and response.json()["code"] == "malformed"
    assert not Response.objects.exists() and not AnswerTap.objects.exists()


def test_nan_as_a_tap_time_is_a_400(tablet, assessment):
    body = f'{{"assessment": {assessment.pk}, "item": "GP1", "value": 2, "tapped_at": NaN}}'
    response = tablet.post(URL, data=body, content_type="application/json")
    assert response.status_code == 400
    assert not Response.objects.exists()


# --------------------------------------------------------------------------- without JavaScript
def test_a_page_posted_from_a_replaced_tablet_still_delivers_its_answers(
    assessment, kiosk, replaced
):
    old = tablet_client(kiosk)
    response = old.post("/tablet/page/PWB/", {"GP1": "3", "GP2": "1", "nav": "next"})
    assert response.status_code == 403
    html = response.content.decode()
    assert "This tablet session has ended" in html
    assert "handed over on another tablet" in html
    assert "data-kept-count" not in html  # nothing was kept: both were stored
    assert answers(assessment) == {"GP1": 3, "GP2": 1}
    assert AuditEvent.objects.filter(action=AuditEvent.Action.LATE_ANSWER).count() == 2


def test_a_page_posted_to_a_closed_form_says_its_answers_were_kept(assessment, kiosk, replaced):
    deliver(replaced, "GP1", 2, key="a")
    kiosk_submit(token=replaced.token, now=timezone.now())
    response = tablet_client(kiosk).post("/tablet/page/PWB/", {"GP3": "4", "nav": "next"})
    assert response.status_code == 403
    assert "1 answer from this tablet arrived after the questionnaire had closed" in (
        response.content.decode()
    )
    assert AnswerTap.objects.preserved().get().item_code == "GP3"


def test_an_untouched_field_does_not_undo_a_later_answer_from_another_tablet(
    assessment, kiosk, replaced
):
    deliver(kiosk, "GP1", 1, key="first")  # tablet 1's queue
    deliver(replaced, "GP1", 3, key="second")  # her later answer on tablet 2
    old = tablet_client(kiosk)
    # Tablet 1's page (no JavaScript) still shows GP1=1 as it was rendered; she tapped GP2.
    old.post("/tablet/page/PWB/", {"GP1": "1", "GP1_shown": "1", "GP2": "2", "GP2_shown": ""})
    assert answers(assessment) == {"GP1": 3, "GP2": 2}


# --------------------------------------------------------------------------- who sees them
@pytest.fixture
def kept_answer(assessment, kiosk, replaced):
    deliver(replaced, "GP1", 2, key="t2-gp1")
    kiosk_submit(token=replaced.token, now=timezone.now())
    deliver(kiosk, "GP4", 3, key="t1-gp4")
    return AnswerTap.objects.preserved().get()


def test_the_coordinator_sees_the_kept_answers_on_the_participant_page(
    client, coordinator_a, assessment, kept_answer
):
    client.force_login(coordinator_a)
    page = client.get(reverse("coordinator:participant", args=[assessment.participant_id]))
    html = page.content.decode()
    assert "Answers kept after the questionnaire closed" in html
    row = re.search(r'<table class="data" id="preserved-answers">.*?</table>', html, re.S).group(0)
    assert "<td>GP4</td>" in row and '<td class="num">3</td>' in row
    assert "The questionnaire had already been sent" in row
    assert f"{kept_answer.kiosk_session_id} (ended)" in row
    assert "Late answer kept for the coordinator" in html  # and in the audit trail


def test_the_section_is_absent_when_nothing_was_kept(client, coordinator_a, assessment, kiosk):
    deliver(kiosk, "GP1", 2, key="a")
    client.force_login(coordinator_a)
    page = client.get(reverse("coordinator:participant", args=[assessment.participant_id]))
    assert "preserved-answers" not in page.content.decode()


def test_another_sites_coordinator_does_not_see_them(
    client, coordinator_b, assessment, kept_answer
):
    client.force_login(coordinator_b)
    page = client.get(reverse("coordinator:participant", args=[assessment.participant_id]))
    assert page.status_code == 404


def test_the_admin_lists_kept_answers_read_only(admin_client, kept_answer):
    listing = admin_client.get("/admin/surveys/preservedanswer/")
    assert listing.status_code == 200
    html = listing.content.decode()
    assert "GP4" in html and "The questionnaire had already been sent" in html
    assert "GP1" not in re.sub(r"<select.*?</select>", "", html, flags=re.S)  # stored: not here
    assert admin_client.get("/admin/surveys/preservedanswer/add/").status_code == 403
    change = admin_client.get(f"/admin/surveys/preservedanswer/{kept_answer.pk}/change/")
    assert change.status_code == 200 and "Save" not in change.content.decode()
    log = admin_client.get("/admin/surveys/answertap/?outcome__exact=preserved")
    assert log.status_code == 200 and "GP4" in log.content.decode()
