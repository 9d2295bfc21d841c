"""scoring.deterioration: deriving time to deterioration by hand, and its analysis."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from scoring.compare import CompareInputError
from scoring.deterioration import (
    DEFINITIONS,
    MID_RANGES,
    TTD_COLUMNS,
    Deterioration,
    analyse,
    definition,
    derive_times,
    time_to_deterioration,
    ttd_table,
)
from scoring.survival import cox_ph, kaplan_meier, logrank

VISITS = ["baseline", "month3", "month6", "month9", "month12"]


def table(rows: dict[str, tuple[str, list[float | None]]]) -> pd.DataFrame:
    """{id: (arm, [score at each of VISITS, None = missed])} -> long score table."""
    out = []
    for pid, (arm, scores) in rows.items():
        for visit, score in zip(VISITS, scores, strict=False):
            if score is not None:
                out.append((pid, arm, visit, score))
    return pd.DataFrame(out, columns=["participant_id", "arm", "visit", "TOI"])


def times_of(result: pd.DataFrame) -> dict[str, tuple[float, int, str]]:
    return {r.participant_id: (r.time, r.event, r.reason) for r in result.itertuples(index=False)}


SCORES = table(
    {
        # declines of 3 then 6 (event at month 6), recovers later
        "p1": ("A", [60, 57, 54, 60, 61]),
        # 6 down at month 6 not confirmed (month 9 only 2 down), confirmed at 12 ... last
        "p2": ("A", [60, 59, 54, 58, 52]),
        # month 3 missed; 5 down at month 6 and 7 down at month 9: confirmed at 6
        "p3": ("B", [70, None, 65, 63, 71]),
        # never 5 down
        "p4": ("B", [50, 49, 46, 47, 48]),
        # no baseline score
        "p5": ("B", [None, 40, 30, 30, 30]),
        # only a baseline
        "p6": ("A", [55]),
        # deteriorates at the last assessment only (month 9; month 12 missed)
        "p7": ("B", [80, 79, 78, 74, None]),
    }
)


def test_unconfirmed_first_deteriorated_assessment_is_the_event() -> None:
    t = derive_times(SCORES, definition("TOI"))
    assert t.unit == "months" and t.arms == ("A", "B")
    assert times_of(t.frame) == {
        "p1": (6.0, 1, "deterioration"),
        "p2": (6.0, 1, "deterioration"),
        "p3": (6.0, 1, "deterioration"),
        "p4": (12.0, 0, "censored"),
        "p6": (0.0, 0, "censored"),
        "p7": (9.0, 1, "deterioration"),
    }
    assert t.excluded.to_dict("records") == [
        {"participant_id": "p5", "arm": "B", "reason": "no baseline score"}
    ]
    assert t.frame.set_index("participant_id").loc["p6", "n_followup"] == 0


def test_confirmation_needs_the_next_available_assessment_deteriorated() -> None:
    t = derive_times(SCORES, definition("TOI", confirmed=True))
    assert times_of(t.frame) == {
        "p1": (12.0, 0, "censored"),  # 6 down at month 6, back up at month 9
        "p2": (12.0, 0, "censored"),  # 8 down at month 12, the last assessment
        "p3": (6.0, 1, "deterioration"),  # month 9 confirms month 6
        "p4": (12.0, 0, "censored"),
        "p6": (0.0, 0, "censored"),
        "p7": (9.0, 0, "censored"),  # last assessment: cannot be confirmed
    }


def test_the_threshold_follows_the_bound_and_can_be_given() -> None:
    assert definition("TOI").threshold == 5 and definition("TOI", bound="upper").threshold == 6
    assert {m: definition(m).threshold for m in MID_RANGES} == {
        "BCS": 2,
        "TOI": 5,
        "FACTG": 5,
        "FACTB": 7,
    }
    upper = derive_times(SCORES, definition("TOI", bound="upper"))
    assert times_of(upper.frame)["p1"] == (6.0, 1, "deterioration")  # 6 down
    assert times_of(upper.frame)["p7"] == (9.0, 1, "deterioration")  # exactly 6 down counts
    assert times_of(upper.frame)["p3"] == (9.0, 1, "deterioration")  # 5 down is not enough
    seven = derive_times(SCORES, definition("TOI", threshold=7))
    assert times_of(seven.frame)["p3"] == (9.0, 1, "deterioration")
    with pytest.raises(ValueError, match="no published MID"):
        definition("PWB")
    with pytest.raises(ValueError, match="positive"):
        Deterioration("TOI", threshold=0)


def test_a_five_point_decline_counts_despite_floating_point() -> None:
    # prorated TOIs 43.1666... and 38.1666...: their float difference is 4.999999999999993
    base = (15.166666666666666 + 18.0) + 10.0
    later = (1.1666666666666667 + 21.0) + 16.0
    assert base - later < 5
    scores = table({"q": ("A", [base, later]), "r": ("B", [50.0, 50.0])})
    t = derive_times(scores, definition("TOI"))
    assert times_of(t.frame)["q"] == (3.0, 1, "deterioration")


def test_death_as_event_or_censored_and_off_study() -> None:
    participants = pd.DataFrame(
        {
            "participant_id": ["p4", "p6", "p1", "p2"],
            "death_day": [400.0, 100.0, 400.0, None],
            "off_study_day": [None, None, None, 200.0],
        }
    )
    died = derive_times(SCORES, definition("TOI", death="event"), participants=participants)
    got = times_of(died.frame)
    # p4 dies after the last assessment: event at the death day, in months
    assert got["p4"] == pytest.approx((400 / 30.4375, 1, "death"))
    assert got["p6"] == pytest.approx((100 / 30.4375, 1, "death"))
    assert got["p1"] == (6.0, 1, "deterioration")  # deterioration came first
    # p2 off study at day 200 (6.57 months): months 9 and 12 are not used
    assert got["p2"] == (6.0, 1, "deterioration")
    confirmed_p2 = derive_times(
        SCORES, definition("TOI", confirmed=True), participants=participants
    )
    assert times_of(confirmed_p2.frame)["p2"] == (6.0, 0, "censored")
    censored = derive_times(SCORES, definition("TOI"), participants=participants)
    assert times_of(censored.frame)["p4"] == (12.0, 0, "censored")
    window = derive_times(
        SCORES, definition("TOI", death="event", death_window=1.0), participants=participants
    )
    assert times_of(window.frame)["p4"] == (12.0, 0, "censored")  # died 1.14 months later
    assert times_of(window.frame)["p6"] == (0.0, 0, "censored")  # 3.3 months after baseline
    assert not died.notes and censored.notes == ()
    assert derive_times(SCORES, definition("TOI")).notes  # no death data: said so


def test_days_when_assessment_days_are_given() -> None:
    scores = SCORES.copy()
    scores["day"] = scores["visit"].map(
        {"baseline": -3, "month3": 95, "month6": 180, "month9": 290, "month12": 370}
    )
    participants = pd.DataFrame({"participant_id": ["p4"], "death_day": [500]})
    t = derive_times(
        scores, definition("TOI", death="event"), participants=participants, day_col="day"
    )
    assert t.unit == "days"
    got = times_of(t.frame)
    assert got["p1"] == (180.0, 1, "deterioration")
    assert got["p4"] == (500.0, 1, "death")
    assert got["p6"] == (0.0, 0, "censored")  # no follow-up: censored at time 0
    with pytest.raises(CompareInputError, match="after their death"):
        derive_times(
            scores,
            definition("TOI"),
            participants=pd.DataFrame({"participant_id": ["p1"], "death_day": [100]}),
            day_col="day",
        )
    with pytest.raises(CompareInputError, match="day column 'days' not found"):
        derive_times(scores, definition("TOI"), day_col="days")


def test_visits_without_a_time_need_days() -> None:
    scores = SCORES.replace({"visit": {"month3": "visit2"}})
    with pytest.raises(CompareInputError, match="'visit2' has no time in its label"):
        derive_times(scores, definition("TOI"))


def test_named_definitions() -> None:
    assert set(DEFINITIONS) >= {"TOI-5", "TOI-5-confirmed", "TOI-5-or-death", "BCS-2", "FACTB-7"}
    d = DEFINITIONS["FACTG-5-confirmed"]
    assert (d.measure, d.threshold, d.confirmed, d.death) == ("FACTG", 5.0, True, "censor")
    assert DEFINITIONS["TOI-5-or-death"].death == "event"
    assert definition("BCS").name == "BCS decline >= 2, unconfirmed, death censored"
    with pytest.raises(ValueError, match="unknown definition"):
        time_to_deterioration(SCORES, "TOI-4")


def test_the_analysis_is_km_logrank_and_cox_on_the_derived_times() -> None:
    rng = np.random.default_rng(3)
    rows = {}
    for i in range(80):
        arm = "A" if i % 2 else "B"
        level = rng.normal(60, 8)
        drift = -1.5 if arm == "B" else -0.5
        rows[f"p{i}"] = (arm, [level + k * drift + rng.normal(0, 3) for k in range(5)])
    scores = table(rows)
    result = time_to_deterioration(scores, "TOI-5")
    frame = result.times.frame
    in_a = (frame["arm"] == "A").to_numpy()
    km_a = kaplan_meier(frame["time"][in_a], frame["event"][in_a])
    np.testing.assert_array_equal(result.km["A"].surv, km_a.surv)
    assert result.km["A"].median_low == km_a.median_low
    assert result.logrank is not None and result.cox is not None
    assert result.logrank.chisq == logrank(frame["time"], frame["event"], in_a).chisq
    assert result.cox.hr == cox_ph(frame["time"], frame["event"], in_a).hr
    out = result.table()
    assert list(out.columns) == list(TTD_COLUMNS)
    assert list(out["kind"]) == ["median", "median", "hazard_ratio", "logrank"]
    assert out["definition"].eq("TOI-5").all() and out["unit"].eq("months").all()
    hr = out.iloc[2]
    assert (hr["estimate"], hr["ci_low"], hr["ci_high"]) == (
        result.cox.hr,
        result.cox.hr_low,
        result.cox.hr_high,
    )
    assert hr["n"] == 80 and hr["events"] == int(frame["event"].sum())
    both = ttd_table([result, analyse(derive_times(scores, definition("TOI", confirmed=True)))])
    assert len(both) == 8


def test_no_events_leaves_the_comparison_blank() -> None:
    scores = table({"a": ("A", [50, 50, 51]), "b": ("B", [40, 41, 40])})
    result = time_to_deterioration(scores, "TOI-5")
    assert result.logrank is None
    assert result.cox is not None and math.isnan(result.cox.hr)
    assert math.isnan(result.table().iloc[0]["estimate"])  # median not reached
