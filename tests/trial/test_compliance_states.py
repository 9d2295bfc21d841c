"""Every form in exactly one column; the SQL counts against the pure status rules; totals;
completion over closed windows only (issue 17: "15% at 30 months looks alarming")."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from surveys.models import Assessment, Site
from surveys.trial.compliance import (
    COLUMNS,
    MISSED_REASON_KEYS,
    MODES,
    STATES,
    SUMS,
    bucket_q,
    compliance_table,
)
from surveys.trial.participants import assessment_record_missed_reason
from surveys.trial.sweep import sweep_assessments
from tests.clinic import build_clinic, complete
from tests.factories import randomize

S = Assessment.Status
NOW = dt.datetime(2025, 3, 1, 17, 0, tzinfo=dt.UTC)


def state_by_the_pure_rules(form: Assessment, now: dt.datetime) -> str:
    """The column a form belongs in, from the model's pure methods (no SQL)."""
    due = form.due_transition(now)
    status = due if due in (S.MISSED, S.PARTIAL) else form.status
    if status == S.COMPLETED:
        return "completed"
    if status == S.PARTIAL:
        return "partial"
    if status == S.MISSED:
        return f"missed_{form.missed_reason or 'unrecorded'}"
    if status == S.NOT_EXPECTED:
        death = form.participant.off_study_reason == "death"
        return "not_expected_death" if death else "not_expected_other"
    if form.is_answerable(now) or due == S.OPEN:
        return "still_open"
    assert form.status == S.SCHEDULED and now < form.opens_at, form
    return "not_yet_due"


@pytest.fixture
def clinic(trial, site_a, coordinator_a):
    clinic = build_clinic(trial, site_a, now=NOW)
    assessment_record_missed_reason(
        assessment=clinic.form("missed", "baseline"),
        reason="too_ill",
        actor=coordinator_a,
        now=NOW,
    )
    return clinic


@pytest.mark.django_db
@pytest.mark.parametrize("later_days", [0, 1, 15, 40, 200])
@pytest.mark.parametrize("by", ["arm", "site", "arm_site"])
def test_sql_counts_agree_with_the_pure_rules_swept_or_not(clinic, by, later_days):
    """Days after the last sweep, windows have opened and closed unswept: same answer."""
    now = NOW + dt.timedelta(days=later_days)
    rows = compliance_table(sites=Site.objects.all(), now=now, by=by)
    expected: dict[tuple[str, ...], Counter[str]] = {}
    for form in Assessment.objects.select_related("participant__site", "participant__arm", "visit"):
        group = {
            "arm": (form.participant.arm.code,),
            "site": (form.participant.site.code,),
            "arm_site": (form.participant.arm.code, form.participant.site.code),
        }[by]
        key = (form.visit.label, *group)
        expected.setdefault(key, Counter())[state_by_the_pure_rules(form, now)] += 1
    got = {}
    for row in rows:
        group = {"arm": (row.arm,), "site": (row.site,), "arm_site": (row.arm, row.site)}[by]
        states = {k: n for k, n in row.counts.items() if k in STATES}
        got[(row.visit, *group)] = Counter({k: n for k, n in states.items() if n})
        # exactly one state per form: the states add up (scoring.completion checks it too)
        assert row.randomized == sum(states.values())
        # the extra counts split one of them: received forms by mode
        assert sum(row.count(f"received_{mode}") for mode in MODES) == row.received
        row.rates()
    assert got == expected


@pytest.mark.django_db
def test_each_count_is_a_sum_of_states_and_the_rates_follow_the_definitions(clinic):
    rows = compliance_table(sites=Site.objects.all(), now=NOW, by="arm", totals=True)
    total = rows[-1]
    assert total.level == "total" and total.visit == "All visits"
    assert total.randomized == Assessment.objects.count() == 6 * 4
    assert total.received == total.count("completed") + total.partial
    assert total.expected == total.received + total.missed_total
    assert total.missed_total == sum(total.missed.values())
    assert total.missed["too_ill"] == 1
    for row in rows:
        value = row.as_dict()
        closed = row.randomized - row.not_yet_due - row.still_open
        assert value["completion_pct"] == (
            round(100 * row.received / closed, 1) if closed else None
        )
        assert value["compliance_pct"] == (
            round(100 * row.received / row.expected, 1) if row.expected else None
        )
    by_visit = {r.visit: r for r in rows if r.level == "visit_total"}
    for label, visit_total in by_visit.items():
        groups = [r for r in rows if r.level == "group" and r.visit == label]
        for column in COLUMNS:
            if column.kind == "count":
                assert visit_total.count(column.key) == sum(g.count(column.key) for g in groups)


@pytest.mark.django_db
def test_completion_leaves_out_windows_that_have_not_closed(trial, site_a):
    """One of four has reached 30 months and answered: completion 100%, not 25%."""
    first = dt.date(2022, 1, 3)

    def noon(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)

    reached = randomize(trial, site_a, randomized_on=first, now=noon(first))
    for i in range(3):
        day = dt.date(2024, 6, 1 + i)
        randomize(trial, site_a, randomized_on=day, now=noon(day))
    m30 = reached.assessments.get(visit__code="m30")
    when = dt.datetime.combine(m30.target_date, dt.time(15), tzinfo=dt.UTC)
    sweep_assessments(now=when)
    complete(m30, when)
    later = dt.datetime.combine(m30.window_end, dt.time(12), tzinfo=dt.UTC) + dt.timedelta(days=2)
    m30_row = next(
        r for r in compliance_table(sites=Site.objects.all(), now=later) if r.visit == "30 months"
    )
    assert (m30_row.randomized, m30_row.received, m30_row.not_yet_due) == (4, 1, 3)
    assert m30_row.completion == 1.0  # the old table said 1 / 4 = 25%
    assert m30_row.compliance == 1.0


@pytest.mark.django_db
def test_every_state_is_a_bucket_and_the_sums_are_built_from_states(clinic):
    keys = {c.key for c in COLUMNS if c.kind == "count"}
    assert set(STATES) <= keys | {"completed"}
    assert {f"missed_{r}" for r in MISSED_REASON_KEYS} <= keys
    for key in keys:
        assert bucket_q(key, NOW) is not None
    assert bucket_q("compliance_pct", NOW) is None
    for name, states in SUMS.items():
        assert set(states) <= set(STATES), name
    # a sum's rule selects exactly the forms of its states
    for name in SUMS:
        rule = bucket_q(name, NOW)
        assert rule is not None
        union = sum(Assessment.objects.filter(STATES[s](NOW)).count() for s in SUMS[name])
        assert Assessment.objects.filter(rule).count() == union
