"""Randomization, going off study, recording why an assessment was missed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from surveys.models import Assessment, AuditEvent
from surveys.trial.participants import (
    assessment_record_missed_reason,
    participant_go_off_study,
    visit_reschedule,
)
from surveys.trial.sweep import sweep_assessments
from tests.factories import randomize

S = Assessment.Status
D = dt.date


def at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(18), tzinfo=dt.UTC)


@pytest.fixture
def participant(trial, site_a):
    return randomize(trial, site_a, randomized_on=D(2025, 1, 10), now=at(D(2025, 1, 10)))


def statuses(participant) -> dict[str, str]:
    return dict(participant.assessments.values_list("visit__code", "status"))


@pytest.mark.django_db
def test_going_off_study_before_a_window_makes_it_not_expected(participant, coordinator_a):
    counts = participant_go_off_study(
        participant=participant,
        off_study_on=D(2025, 3, 1),
        reason="withdrawal",
        actor=coordinator_a,
        now=at(D(2025, 3, 1)),
    )
    # baseline closed 2025-01-24 but no sweep ran: it was missed while she was on study
    assert statuses(participant) == {
        "baseline": S.MISSED,
        "m6": S.NOT_EXPECTED,
        "m18": S.NOT_EXPECTED,
        "m30": S.NOT_EXPECTED,
    }
    assert counts == {"not_expected": 3, "missed": 1, "partial": 0, "sessions_ended": 0}
    assert AuditEvent.objects.filter(participant=participant, action="off_study").count() == 1


@pytest.mark.django_db
def test_going_off_study_during_a_window_makes_it_not_expected(participant, coordinator_a):
    sweep_assessments(now=at(D(2025, 6, 20)))  # m6 open
    participant_go_off_study(
        participant=participant,
        off_study_on=D(2025, 6, 25),
        reason="death",
        actor=coordinator_a,
        now=at(D(2025, 6, 26)),
    )
    assert statuses(participant)["m6"] == S.NOT_EXPECTED


@pytest.mark.django_db
def test_going_off_study_after_a_window_leaves_it_missed(participant, coordinator_a):
    sweep_assessments(now=at(D(2025, 8, 20)))  # m6 closed 2025-08-09
    participant_go_off_study(
        participant=participant,
        off_study_on=D(2025, 8, 20),
        reason="lost_to_follow_up",
        actor=coordinator_a,
        now=at(D(2025, 8, 20)),
    )
    assert statuses(participant) == {
        "baseline": S.MISSED,
        "m6": S.MISSED,
        "m18": S.NOT_EXPECTED,
        "m30": S.NOT_EXPECTED,
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reason": "bored"}, "unknown off-study reason"),
        ({"reason": "other", "note": " "}, "describe the reason"),
        ({"reason": "death", "off_study_on": D(2024, 12, 31)}, "before randomization"),
        ({"reason": "death", "off_study_on": D(2030, 1, 1)}, "in the future"),
    ],
)
def test_bad_off_study_input_is_refused_and_changes_nothing(
    participant, coordinator_a, kwargs, message
):
    before = statuses(participant)
    args = {"off_study_on": D(2025, 3, 1), "note": "", **kwargs}
    with pytest.raises(ValidationError, match=message):
        participant_go_off_study(
            participant=participant, actor=coordinator_a, now=at(D(2025, 3, 1)), **args
        )
    participant.refresh_from_db()
    assert participant.on_study
    assert statuses(participant) == before


@pytest.mark.django_db
def test_a_missed_reason_is_recorded_and_audited(participant, coordinator_a):
    sweep_assessments(now=at(D(2025, 2, 1)))
    baseline = participant.assessments.get(visit__code="baseline")
    assessment_record_missed_reason(
        assessment=baseline,
        reason="other",
        text="flooded roads",
        actor=coordinator_a,
        now=at(D(2025, 2, 2)),
    )
    baseline.refresh_from_db()
    assert (baseline.missed_reason, baseline.missed_reason_text) == ("other", "flooded roads")
    event = AuditEvent.objects.get(action="missed_reason")
    assert (event.actor, event.reason, event.details["text"]) == (
        coordinator_a,
        "other",
        "flooded roads",
    )


@pytest.mark.django_db
def test_a_reason_needs_a_missed_assessment_and_other_needs_text(participant, coordinator_a):
    baseline = participant.assessments.get(visit__code="baseline")
    with pytest.raises(ValidationError, match="only be recorded for a missed"):
        assessment_record_missed_reason(
            assessment=baseline, reason="too_ill", actor=coordinator_a, now=at(D(2025, 1, 12))
        )
    sweep_assessments(now=at(D(2025, 2, 1)))
    with pytest.raises(ValidationError, match="describe the reason"):
        assessment_record_missed_reason(
            assessment=baseline, reason="other", text="", actor=coordinator_a, now=at(D(2025, 2, 2))
        )
    baseline.refresh_from_db()
    assert baseline.missed_reason == ""


@pytest.mark.django_db
def test_editing_the_schedule_moves_windows_of_scheduled_assessments_only(participant, trial):
    visit = trial.visits.get(code="m6")
    visit.window_before_days = 10
    visit.save()
    assert visit_reschedule(visit=visit) == 1
    m6 = participant.assessments.get(visit=visit)
    assert m6.window_start == D(2025, 6, 30)
    baseline = participant.assessments.get(visit__code="baseline")
    assert baseline.window_start == D(2024, 12, 13)
