"""scoring.completion: fixed and variable denominators, by hand."""

from __future__ import annotations

import math

import pytest

from scoring.completion import COMPLETION_COLUMNS, VisitCounts, completion, completion_table


def test_both_denominators_by_hand() -> None:
    # 120 randomised: 80 forms, 6 died, 4 off study, 10 windows still open, 20 missed
    counts = VisitCounts(
        visit="month6",
        arm="A",
        randomized=120,
        received=80,
        died=6,
        off_study=4,
        window_open=10,
        missed={"too ill": 12, "clinic error": 5, "refused": 3},
    )
    c = completion(counts)
    assert c.expected == 100  # 120 - 6 - 4 - 10: deaths and off study are not missing
    assert c.missed_total == 20
    assert c.fixed == (80, 120) and c.fixed_rate == 80 / 120
    assert c.variable == (80, 100) and c.variable_rate == 0.8
    assert dict(c.missed) == {"too ill": 12, "clinic error": 5, "refused": 3}


def test_counts_must_account_for_everyone_once() -> None:
    with pytest.raises(ValueError, match="= 119, not the 120 randomised"):
        completion(VisitCounts("m6", "A", randomized=120, received=80, died=6, missed={"x": 33}))
    with pytest.raises(ValueError, match="whole numbers >= 0: died"):
        completion(VisitCounts("m6", "A", randomized=1, received=2, died=-1))
    with pytest.raises(ValueError, match="missed\\[x\\]"):
        completion(VisitCounts("m6", "A", randomized=1, received=1, missed={"x": 0.5}))  # type: ignore[dict-item]


def test_nobody_expected_yet_and_nobody_randomised() -> None:
    open_window = completion(VisitCounts("m18", "B", randomized=50, received=0, window_open=50))
    assert open_window.fixed_rate == 0 and math.isnan(open_window.variable_rate)
    empty = completion(VisitCounts("m18", "B", randomized=0, received=0))
    assert math.isnan(empty.fixed_rate) and math.isnan(empty.variable_rate)


def test_table_with_a_column_per_missed_reason() -> None:
    table = completion_table(
        [
            VisitCounts("baseline", "A", 10, 10),
            VisitCounts("month6", "A", 10, 6, died=1, missed={"too ill": 2, "refused": 1}),
            VisitCounts("month6", "B", 9, 8, missed={"refused": 1}),
        ]
    )
    assert list(table.columns) == [*COMPLETION_COLUMNS, "missed_too ill", "missed_refused"]
    assert table["missed_too ill"].tolist() == [0, 2, 0]
    assert table["missed_refused"].tolist() == [0, 1, 1]
    assert table["variable_rate"].tolist() == [1.0, 6 / 9, 8 / 9]
    assert table["fixed_rate"].tolist() == [1.0, 0.6, 8 / 9]
