"""The "needs a call" list: which open forms are at risk, call outcomes, the tab and the digest."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from surveys.coordinator import selectors
from surveys.coordinator.digest import digest_for, send_coordinator_digests
from surveys.home.calls import CallRejected, call_record, needs_call_q
from surveys.models import Assessment, AuditEvent, CallAttempt, KioskSession
from surveys.tablet.answers import response_save

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2030, 1, 1, 5, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
Out = CallAttempt.Outcome


@pytest.fixture
def form(assessment) -> Assessment:
    """Her open form, its window set to T0 .. T0 + 30 days."""
    Assessment.objects.filter(pk=assessment.pk).update(opens_at=T0, closes_at=T0 + 30 * DAY)
    assessment.refresh_from_db()
    return assessment


def listed(form: Assessment, now: dt.datetime) -> bool:
    return Assessment.objects.filter(needs_call_q(now), pk=form.pk).exists()


@pytest.mark.parametrize(
    ("label", "answered_on_day", "now_day", "expected"),
    [
        ("just opened, not started", None, 1, False),
        ("not started a week after it opened", None, 8, True),
        ("window closes within 7 days", None, 24, True),
        ("started 3 days ago", 2, 5, False),
        ("started, no answer for 8 days (stalled)", 2, 10, True),
        ("started recently, but closing soon", 22, 25, True),
        ("window closed", None, 31, False),
    ],
)
def test_which_open_forms_need_a_call(form, label, answered_on_day, now_day, expected):
    if answered_on_day is not None:
        response_save(
            assessment_id=form.pk, item_code="GP1", value=1, now=T0 + answered_on_day * DAY
        )
    assert listed(form, T0 + now_day * DAY) is expected, label


def test_the_trials_number_of_days_sets_the_list(form, trial):
    assert not listed(form, T0 + 4 * DAY)
    trial.needs_call_days = 3
    trial.save()
    assert listed(form, T0 + 4 * DAY)


def test_a_refusal_or_a_later_call_back_takes_a_form_off_the_list(form, coordinator_a):
    now = T0 + 10 * DAY
    assert listed(form, now)
    call_record(
        assessment=form,
        outcome=Out.CALL_BACK,
        called_by=coordinator_a,
        now=now,
        call_back_on=(now + 2 * DAY).date(),
    )
    assert not listed(form, now)
    assert listed(form, now + 3 * DAY)  # the day to call back has come
    call_record(assessment=form, outcome=Out.UNREACHABLE, called_by=coordinator_a, now=now)
    assert listed(form, now + 3 * DAY)
    call_record(assessment=form, outcome=Out.REFUSED, called_by=coordinator_a, now=now)
    assert not listed(form, now + 3 * DAY)


def test_a_call_is_recorded_and_audited(form, coordinator_a):
    now = T0 + 10 * DAY
    call = call_record(
        assessment=form,
        outcome=Out.WILL_COMPLETE_AT_HOME,
        called_by=coordinator_a,
        now=now,
        note="  prefers\x20evenings ",
    )
    assert call.note == "prefers evenings" and call.call_back_on is None
    event = AuditEvent.objects.get(action=AuditEvent.Action.CALL_RECORDED)
    assert event.actor == coordinator_a and event.details["outcome"] == "will_complete_at_home"
    with pytest.raises(CallRejected):
        call_record(assessment=form, outcome="maybe", called_by=coordinator_a, now=now)
    with pytest.raises(CallRejected):
        call_record(assessment=form, outcome=Out.CALL_BACK, called_by=coordinator_a, now=now)
    with pytest.raises(CallRejected):
        call_record(
            assessment=form, outcome=Out.REFUSED, called_by=coordinator_a, now=now, note="x" * 501
        )
    assert CallAttempt.objects.count() == 1


def test_the_tab_lists_them_with_their_contact_attempts(client, form, coordinator_a):
    # The window is moved to now, so the tab (which reads the real clock) lists it.
    now = timezone.now()
    Assessment.objects.filter(pk=form.pk).update(opens_at=now - 10 * DAY, closes_at=now + 5 * DAY)
    call_record(assessment=form, outcome=Out.UNREACHABLE, called_by=coordinator_a, now=now)
    call_record(assessment=form, outcome=Out.UNREACHABLE, called_by=coordinator_a, now=now)
    client.force_login(coordinator_a)
    page = client.get(reverse("coordinator:worklist"), {"view": "needs_call"})
    html = page.content.decode()
    assert page.status_code == 200
    assert [row.assessment.pk for row in page.context["rows"]] == [form.pk]
    assert page.context["rows"][0].contact_attempts == 2
    assert 'data-contact-attempts="2"' in html and "last call: Unreachable" in html
    assert reverse("athome:call", args=[form.pk]) in html
    counts = selectors.worklist_counts(sites=coordinator_a.coordinated_sites.all(), now=now)
    assert counts["needs_call"] == 1


def test_recording_a_call_in_a_few_taps(client, form, coordinator_a, coordinator_b):
    now = timezone.now()
    Assessment.objects.filter(pk=form.pk).update(opens_at=now - 10 * DAY, closes_at=now + 5 * DAY)
    url = reverse("athome:call", args=[form.pk])
    client.force_login(coordinator_b)
    assert client.post(url, {"outcome": "refused"}).status_code == 404
    client.force_login(coordinator_a)
    assert client.post(url, {"outcome": "nonsense"}).status_code == 400
    assert client.post(url, {"outcome": "call_back", "call_back_on": "soon"}).status_code == 400
    assert client.post(url, {"outcome": "call_back"}).status_code == 400
    assert not CallAttempt.objects.exists()
    back = client.post(url, {"outcome": "unreachable", "next": "/coordinator/?view=needs_call"})
    assert back.status_code == 302 and back["Location"] == "/coordinator/?view=needs_call"
    # "Reached: complete by phone now" records the call and opens the phone session.
    phone = client.post(url, {"outcome": "completed_by_phone"})
    assert phone.status_code == 302 and phone["Location"] == reverse("tablet:form")
    assert KioskSession.objects.get().mode == "phone"
    assert list(CallAttempt.objects.values_list("outcome", flat=True)) == [
        "completed_by_phone",
        "unreachable",
    ]


def test_the_digest_lists_the_forms_that_need_a_call(form, coordinator_a):
    now = T0 + 10 * DAY
    call_record(assessment=form, outcome=Out.UNREACHABLE, called_by=coordinator_a, now=now)
    digest = digest_for(coordinator_a, now=now)
    assert [a.pk for a in digest["needs_call"]] == [form.pk]
    send_coordinator_digests(now=now)
    (message,) = mail.outbox
    assert "1 to call" in message.subject
    assert "need a call (1)" in message.body
    assert (
        f"{form.participant.study_id}" in message.body
        and "1 contact attempt so far" in message.body
    )
