"""The demo trial as planned in trial time: deterministic, faithful to E2108, calendar-proof."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scoring.compare import compare
from scoring.facit import score_frame
from scoring.survival import kaplan_meier
from surveys.demo import plan as demo
from surveys.trial.setup import E2108_VISITS
from tests.demo.paper import BOUNDS, PAPER


@pytest.fixture(scope="module")
def plan() -> demo.DemoPlan:
    return demo.build_plan()


def test_the_same_seed_gives_the_same_trial(plan):
    assert demo.build_plan() == plan
    assert demo.build_plan(demo.SEED + 1) != plan


def test_calendar_months_are_measured_over_every_calendar():
    days = {v.code: v for v in demo.VISITS}
    assert days["baseline"].target == (0, 0)
    assert days["m6"].target == (181, 184)  # 6 months from 31 Aug is 29 Feb at the least
    assert days["m18"].target == (546, 550)
    assert days["m30"].target == (911, 915)
    m6 = next(s for s in E2108_VISITS if s.code == "m6")
    assert days["m6"].safe == (184 - m6.before, 181 + m6.after)
    assert days["m6"].end == (181 + m6.after, 184 + m6.after)


def test_every_event_is_on_the_same_side_of_every_window_boundary_on_any_calendar(plan):
    """What makes statuses independent of the as-of date: nothing happens on a day that
    is inside a window for one calendar and outside it for another."""
    visits = {v.code: v for v in demo.VISITS}
    for p in plan.participants:
        for form in p.forms:
            low, high = visits[form.visit].safe
            assert low <= form.day <= high, (p.study_id, form.visit, form.day)
        if p.off_day is not None:
            for v in demo.VISITS:
                assert not v.end[0] - demo.END_MARGIN <= p.off_day <= v.end[1] + demo.END_MARGIN
            assert all(f.day < p.off_day for f in p.forms), p.study_id
        for miss in p.misses:
            assert miss.visit not in {f.visit for f in p.forms}
    # At the seeding clock (the as-of date's first instant, UTC: the evening before in the
    # sites' zones) no window of a recent participant opens or closes within a day.
    specs = {s.code: s for s in E2108_VISITS}
    for p in plan.participants:
        if p.recent:
            evening = plan.as_of_day - p.randomized - 1
            for v in demo.VISITS:
                before = specs[v.code].before
                for low, high in ((v.target[0] - before, v.target[1] - before), v.end):
                    assert not low - 1 <= evening <= high + 1, (p.study_id, v.code)


def test_the_randomized_women_and_the_recent_ones(plan):
    cohort = plan.cohort
    assert len(cohort) == 256
    assert sum(p.arm == "A" for p in cohort) == 131
    assert [p.study_id for p in plan.participants[:2]] == ["E2108-0001", "E2108-0002"]
    days = [p.randomized for p in cohort]
    assert days == sorted(days) and min(days) > 0  # after the trial opened (day 0)
    assert 4.3 <= (max(days) - min(days)) / 365.25 <= 4.7  # about four and a half years
    spanish = [p for p in cohort if p.language == "es"]
    assert {p.site for p in spanish} >= {"PRC", "NEC"} and 40 <= len(spanish) <= 80
    assistance = pd.Series([f.assistance for p in cohort for f in p.forms]).value_counts()
    assert set(assistance.index) == {"none", "read_aloud", "staff_recorded"}
    reasons = {m.reason for p in cohort for m in p.misses}
    assert {"too_ill", "patient_refused", "missed_appointment", ""} <= reasons
    # Every window of the paper cohort closed by the cut-off; the recent ones come after it.
    assert all(p.randomized + demo.VISITS[-1].end[1] < plan.cutoff_day for p in cohort)
    recent = [p for p in plan.participants if p.recent]
    assert 8 <= len(recent) <= 15
    assert all(p.randomized > plan.cutoff_day for p in recent)
    assert plan.last_data_day == plan.as_of_day - 1  # the last data: the day before the as-of
    # Something to show on the tablet: an open baseline, a form started and not submitted.
    assert any(not f.submitted for p in recent for f in p.forms)


def test_survival_is_the_papers(plan):
    """3-year overall survival about 68% and a median about 54 months (JCO 2022)."""
    months, died = [], []
    for p in plan.cohort:
        end = plan.cutoff_day - p.randomized
        gone = p.off_day is not None and p.off_day <= end
        months.append((p.off_day if gone else end) / demo.DAYS_PER_MONTH)
        died.append(gone and p.off_reason == "death")
    km = kaplan_meier(np.array(months), np.array(died, dtype=float))
    at_36 = km.surv[np.searchsorted(km.time, 36.0, side="right") - 1]
    assert 0.64 <= at_36 <= 0.72
    assert 48 <= km.median <= 62
    reasons = pd.Series([p.off_reason for p in plan.cohort if p.off_day is not None])
    assert {"death", "withdrawal", "lost_to_follow_up"} == set(reasons)


def test_the_plan_alone_reproduces_the_paper(plan):
    """The scores of the planned forms, compared as the paper did (no database)."""
    rows = [
        {"participant_id": p.study_id, "arm": p.arm, "visit": f.visit, **f.answers}
        for p in plan.cohort
        for f in p.forms
        if f.submitted
    ]
    forms = pd.DataFrame(rows)
    scores = pd.concat([forms[["participant_id", "arm", "visit"]], score_frame(forms)], axis=1)
    table = compare(scores, measures=["TOI", *(f"LR{i}" for i in range(1, 10))])
    toi = table.loc[(table["measure"] == "TOI") & (table["analysis"] == "score")]
    m18 = toi.set_index("visit").loc["m18"]
    paper = PAPER["visits"]["m18"]
    assert abs(m18["mean_a"] - paper["mean_a"]) <= BOUNDS["mean"]
    assert abs(m18["mean_b"] - paper["mean_b"]) <= BOUNDS["mean"]
    assert BOUNDS["p_value"][0] <= m18["p_value"] <= BOUNDS["p_value"][1]
    assert (toi.set_index("visit").drop(index="m18")["p_value"] > 0.05).all()
