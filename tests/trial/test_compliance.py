"""Compliance denominators: expected, received, still open, not expected, missed by reason."""

from __future__ import annotations

import datetime as dt

import pytest

from surveys.models import Site
from surveys.tablet.answers import assessment_submit, response_save
from surveys.trial.compliance import compliance_table
from surveys.trial.participants import assessment_record_missed_reason, participant_go_off_study
from surveys.trial.sweep import sweep_assessments
from tests.factories import randomize

D = dt.date


def at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(18), tzinfo=dt.UTC)


def complete(participant, visit_code: str, day: dt.date) -> None:
    assessment = participant.assessments.get(visit__code=visit_code)
    sweep_assessments(now=at(day))
    response_save(assessment_id=assessment.pk, item_code="GP1", value=2, now=at(day))
    assessment_submit(assessment_id=assessment.pk, now=at(day))


@pytest.mark.django_db
def test_dead_or_withdrawn_participants_leave_expected_only_for_windows_closing_after(
    trial, site_a, coordinator_a
):
    randomized = D(2024, 1, 10)
    alive = randomize(trial, site_a, arm="A", randomized_on=randomized, now=at(randomized))
    died = randomize(trial, site_a, arm="A", randomized_on=randomized, now=at(randomized))
    withdrew = randomize(trial, site_a, arm="B", randomized_on=randomized, now=at(randomized))
    complete(alive, "baseline", D(2024, 1, 12))
    complete(died, "baseline", D(2024, 1, 12))
    complete(alive, "m6", D(2024, 7, 10))
    # She died after the 6-month window closed (2024-08-09) and before 18 months.
    participant_go_off_study(
        participant=died,
        off_study_on=D(2024, 9, 1),
        reason="death",
        actor=coordinator_a,
        now=at(D(2024, 9, 2)),
    )
    # She withdrew during the baseline window.
    participant_go_off_study(
        participant=withdrew,
        off_study_on=D(2024, 1, 15),
        reason="withdrawal",
        actor=coordinator_a,
        now=at(D(2024, 1, 15)),
    )
    now = at(D(2025, 9, 1))  # 18-month window closed 2025-08-24
    sweep_assessments(now=now)
    m6_missed = died.assessments.get(visit__code="m6")
    assessment_record_missed_reason(
        assessment=m6_missed, reason="too_ill", actor=coordinator_a, now=now
    )

    rows = {(r.visit, r.group): r for r in compliance_table(sites=Site.objects.all(), now=now)}
    base_a, base_b = rows["Baseline", "A"], rows["Baseline", "B"]
    assert (base_a.randomized, base_a.expected, base_a.received) == (2, 2, 2)
    assert (base_b.randomized, base_b.expected, base_b.received, base_b.not_expected) == (
        1,
        0,
        0,
        1,
    )
    assert base_b.compliance is None and base_b.completion == 0
    m6_a = rows["6 months", "A"]
    # She died after the window closed: still expected, missed (too ill).
    assert (m6_a.expected, m6_a.received, m6_a.missed["too_ill"]) == (2, 1, 1)
    assert m6_a.compliance == 0.5 and m6_a.completion == 0.5
    m18_a = rows["18 months", "A"]
    # Window closed after her death: not expected; the living one missed it.
    assert (m18_a.randomized, m18_a.expected, m18_a.received, m18_a.not_expected) == (2, 1, 0, 1)
    assert m18_a.missed["unrecorded"] == 1
    m30_a = rows["30 months", "A"]
    assert (m30_a.expected, m30_a.still_open) == (0, 0)


@pytest.mark.django_db
def test_open_windows_are_still_open_not_expected(trial, site_a):
    randomize(trial, site_a, randomized_on=D(2026, 1, 1), now=at(D(2026, 1, 1)))
    rows = compliance_table(sites=Site.objects.all(), now=at(D(2026, 1, 5)))
    baseline = next(r for r in rows if r.visit == "Baseline")
    assert (baseline.expected, baseline.still_open, baseline.received) == (0, 1, 0)


@pytest.mark.django_db
def test_compliance_per_site_splits_by_site(trial, site_a, site_b):
    randomize(trial, site_a, randomized_on=D(2024, 1, 1), now=at(D(2024, 1, 1)))
    randomize(trial, site_b, randomized_on=D(2024, 1, 1), now=at(D(2024, 1, 1)))
    randomize(trial, site_b, randomized_on=D(2024, 1, 1), now=at(D(2024, 1, 1)))
    rows = compliance_table(sites=Site.objects.all(), now=at(D(2024, 3, 1)), by="site")
    baseline = {r.group: r.randomized for r in rows if r.visit == "Baseline"}
    assert baseline == {"A01": 1, "B01": 2}
