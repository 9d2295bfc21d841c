"""Taking a participant off study: a confirmation page first, an audited undo, her tablet ended.

The defect (issue 12, defect 4): one click on "Take off study" turned an
in-progress assessment (about 20 answers) and two future visits into "not
expected", with no confirmation and no undo, and her live tablet session
kept running. Now the first post shows what will change; the started form
keeps her answers (partial); the tablet session is ended with an audit
event; and a wrong record can be undone, with a reason.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from scoring.instruments import FACTB_ITEM_CODES
from surveys.models import Assessment, AuditEvent, KioskSession, Response, Score
from surveys.tablet.answers import response_save
from surveys.tablet.kiosk import kiosk_start
from surveys.trial.participants import (
    PlanChanged,
    off_study_plan,
    participant_go_off_study,
    participant_undo_off_study,
    undo_off_study_plan,
)
from surveys.trial.sweep import sweep_assessments
from tests.factories import randomize

S = Assessment.Status
D = dt.date
NOW = dt.datetime(2025, 3, 1, 17, 0, tzinfo=dt.UTC)
RANDOMIZED = D(2025, 2, 20)  # baseline window 2025-01-23 to 2025-03-06: open at NOW


def at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(18), tzinfo=dt.UTC)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def started(trial, site_a, coordinator_a, clock):
    """Her baseline in progress with 20 answers on a live tablet; 6, 18, 30 months ahead."""
    participant = randomize(trial, site_a, randomized_on=RANDOMIZED, now=at(RANDOMIZED))
    baseline = participant.assessments.get(visit__code="baseline")
    kiosk_start(
        assessment_id=baseline.pk,
        started_by=coordinator_a,
        pin="1357",
        assistance="none",
        now=NOW - dt.timedelta(hours=1),
    )
    for i, code in enumerate(FACTB_ITEM_CODES[:20]):
        response_save(
            assessment_id=baseline.pk,
            item_code=code,
            value=2,
            now=NOW - dt.timedelta(minutes=50 - i),
        )
    baseline.refresh_from_db()
    assert baseline.status == S.IN_PROGRESS
    return participant


def statuses(participant) -> dict[str, str]:
    return dict(participant.assessments.values_list("visit__code", "status"))


FORM = {"off_study_on": "2025-03-01", "reason": "withdrawal", "note": ""}


@pytest.mark.django_db
def test_the_first_click_only_shows_what_will_change(client, coordinator_a, started):
    client.force_login(coordinator_a)
    url = reverse("coordinator:off_study", args=[started.pk])
    page = client.post(url, FORM)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Take E2108-0001 off study?" in html
    plan = page.context["plan"]
    assert {c.assessment.visit.code: c.to_status for c in plan.changes} == {
        "baseline": S.PARTIAL,
        "m6": S.NOT_EXPECTED,
        "m18": S.NOT_EXPECTED,
        "m30": S.NOT_EXPECTED,
    }
    assert "The tablet session now in progress for Baseline will be ended" in html
    # Nothing changed yet.
    started.refresh_from_db()
    assert started.on_study
    assert statuses(started)["baseline"] == S.IN_PROGRESS
    assert KioskSession.objects.get().is_live
    assert not AuditEvent.objects.filter(action="off_study").exists()

    done = client.post(url, {**FORM, "confirm": page.context["fingerprint"]})
    assert done.status_code == 302
    started.refresh_from_db()
    assert not started.on_study
    assert statuses(started) == {
        "baseline": S.PARTIAL,
        "m6": S.NOT_EXPECTED,
        "m18": S.NOT_EXPECTED,
        "m30": S.NOT_EXPECTED,
    }
    baseline = started.assessments.get(visit__code="baseline")
    assert Response.objects.filter(assessment=baseline).count() == 20  # her answers are kept
    assert Score.objects.get(assessment=baseline).items_answered == 20
    session = KioskSession.objects.get()
    assert session.end_reason == KioskSession.EndReason.OFF_STUDY and not session.is_live
    ended = AuditEvent.objects.get(action="kiosk_end")
    assert ended.actor == coordinator_a and ended.reason == "participant taken off study"
    # Her page says so and offers the undo.
    page = client.get(reverse("coordinator:participant", args=[started.pk]))
    assert reverse("coordinator:off_study_undo", args=[started.pk]) in page.content.decode()


@pytest.mark.django_db
def test_a_plan_that_changed_since_the_page_was_shown_is_shown_again(
    client, coordinator_a, started
):
    client.force_login(coordinator_a)
    url = reverse("coordinator:off_study", args=[started.pk])
    shown = client.post(url, FORM).context["fingerprint"]
    # Meanwhile her tablet session was ended (the coordinator took the tablet back).
    KioskSession.objects.update(ended_at=NOW, end_reason=KioskSession.EndReason.COORDINATOR)
    again = client.post(url, {**FORM, "confirm": shown})
    assert again.status_code == 409
    assert "changed since this page was shown" in again.content.decode()
    assert again.context["fingerprint"] != shown
    started.refresh_from_db()
    assert started.on_study
    assert client.post(url, {**FORM, "confirm": again.context["fingerprint"]}).status_code == 302


@pytest.mark.django_db
def test_a_forged_confirmation_changes_nothing(started, coordinator_a):
    with pytest.raises(PlanChanged):
        participant_go_off_study(
            participant=started,
            off_study_on=NOW.date(),
            reason="death",
            actor=coordinator_a,
            now=NOW,
            expected_plan="0" * 32,
        )
    started.refresh_from_db()
    assert started.on_study and statuses(started)["baseline"] == S.IN_PROGRESS


@pytest.mark.django_db
def test_undo_restores_the_forms_whose_window_is_still_open(client, coordinator_a, started):
    plan = off_study_plan(participant=started, off_study_on=NOW.date())
    participant_go_off_study(
        participant=started,
        off_study_on=NOW.date(),
        reason="death",
        actor=coordinator_a,
        now=NOW,
        expected_plan=plan.fingerprint(),
    )
    client.force_login(coordinator_a)
    url = reverse("coordinator:off_study_undo", args=[started.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert {c.assessment.visit.code: c.to_status for c in page.context["plan"].changes} == {
        "baseline": S.IN_PROGRESS,
        "m6": S.SCHEDULED,
        "m18": S.SCHEDULED,
        "m30": S.SCHEDULED,
    }
    refused = client.post(url, {"reason": " ", "confirm": page.context["fingerprint"]})
    assert refused.status_code == 400
    started.refresh_from_db()
    assert not started.on_study
    done = client.post(
        url,
        {"reason": "recorded for the wrong participant", "confirm": page.context["fingerprint"]},
    )
    assert done.status_code == 302
    started.refresh_from_db()
    assert started.on_study
    assert (started.off_study_on, started.off_study_reason) == (None, "")
    assert statuses(started) == {
        "baseline": S.IN_PROGRESS,
        "m6": S.SCHEDULED,
        "m18": S.SCHEDULED,
        "m30": S.SCHEDULED,
    }
    baseline = started.assessments.get(visit__code="baseline")
    assert not Score.objects.filter(assessment=baseline).exists()  # received again later
    undone = AuditEvent.objects.get(action="off_study_undone")
    assert undone.actor == coordinator_a
    assert undone.reason == "recorded for the wrong participant"
    assert undone.details["off_study_reason"] == "death"
    back = AuditEvent.objects.filter(action="status_change", assessment=baseline).latest("id")
    assert (back.from_status, back.to_status, back.details) == (
        S.PARTIAL,
        S.IN_PROGRESS,
        {"reversal": True},
    )
    # The tablet session that was ended stays ended: she gets a new hand-off.
    assert not KioskSession.objects.filter(ended_at__isnull=True).exists()


@pytest.mark.django_db
def test_a_window_that_closed_while_she_was_recorded_off_study_becomes_missed(
    trial, site_a, coordinator_a
):
    participant = randomize(trial, site_a, randomized_on=D(2025, 2, 1), now=at(D(2025, 2, 1)))
    participant_go_off_study(
        participant=participant,
        off_study_on=D(2025, 2, 5),
        reason="lost_to_follow_up",
        actor=coordinator_a,
        now=at(D(2025, 2, 5)),
    )
    assert statuses(participant)["baseline"] == S.NOT_EXPECTED
    sweep_assessments(now=NOW)  # the baseline window closed on 2025-02-15
    plan = undo_off_study_plan(participant=participant, now=NOW)
    assert {c.assessment.visit.code: c.to_status for c in plan.changes}["baseline"] == S.MISSED
    counts = participant_undo_off_study(
        participant=participant, reason="she came back", actor=coordinator_a, now=NOW
    )
    assert counts[S.MISSED] == 1 and counts[S.SCHEDULED] == 3
    baseline = participant.assessments.get(visit__code="baseline")
    assert baseline.status == S.MISSED and baseline.needs_missed_reason


@pytest.mark.django_db
def test_undo_needs_a_reason_and_an_off_study_record(trial, site_a, coordinator_a):
    participant = randomize(trial, site_a, randomized_on=D(2025, 2, 1), now=at(D(2025, 2, 1)))
    with pytest.raises(ValidationError, match="nothing to undo"):
        participant_undo_off_study(
            participant=participant, reason="typo", actor=coordinator_a, now=NOW
        )
    participant_go_off_study(
        participant=participant,
        off_study_on=D(2025, 2, 5),
        reason="death",
        actor=coordinator_a,
        now=at(D(2025, 2, 5)),
    )
    with pytest.raises(ValidationError, match="give the reason"):
        participant_undo_off_study(participant=participant, reason="", actor=coordinator_a, now=NOW)
    participant.refresh_from_db()
    assert not participant.on_study
    assert not AuditEvent.objects.filter(action="off_study_undone").exists()
