"""The run page's formatting: no "-0.0", single items by medians and proportions,
completion with both denominators, models and time to deterioration in readable units."""

from __future__ import annotations

import math
import re

import pytest

from surveys.statistician.analysis import present


@pytest.mark.parametrize(
    ("value", "digits", "text"),
    [
        (-0.04, 1, "0.0"),
        (-0.0, 1, "0.0"),
        (-1e-12, 2, "0.00"),
        (-0.05, 1, "-0.1"),  # rounds away from zero: a real negative
        (0.04, 1, "0.0"),
        (2.25, 1, "2.2"),
        (None, 1, "—"),
        (math.nan, 1, "—"),
        (math.inf, 1, "—"),
    ],
)
def test_numbers_never_read_minus_zero(value, digits, text):
    assert present.num(value, digits) == text


def test_an_interval_around_zero_has_no_minus_zero():
    assert present.ci(-0.01, -0.04, 0.03) == "0.0 (0.0 to 0.0)"
    assert present.pct(-0.0001) == "0.0%"


def item_row(**extra) -> dict:
    row = {
        "measure": "LR1", "visit": "m6", "analysis": "score", "test": "wilcoxon",
        "arm_a": "A", "arm_b": "B", "n_a": 40, "n_b": 38, "mean_a": 1.2, "sd_a": 0.9,
        "mean_b": 1.3, "sd_b": 1.0, "median_a": 1.0, "median_b": 1.0, "statistic": 700.0,
        "p_value": 0.62, "estimate": -1.2e-5, "ci_low": -0.9999, "ci_high": 4e-5,
        "p_holm": 1.0, "median_diff": 0.0, "prop_high_a": 0.1, "prop_high_b": 0.1315789,
        "prop_high_diff": -0.0315789, "prop_high_ci_low": -0.18, "prop_high_ci_high": 0.12,
        "prop_high_p_value": 0.93,
    }  # fmt: skip
    row.update(extra)
    return row


def test_single_items_show_medians_and_proportions_not_a_shift():
    results = {
        "visits": [{"code": "m6", "label": "6 months"}],
        "measures": [{"code": "LR1", "label": "Arm swollen"}],
        "compare": [item_row()],
    }
    (table,) = present.comparison_tables(results)
    assert table.item and "shift" not in table.scores[0]
    line = table.scores[0]
    assert line["median_diff"] == "0.0"
    assert (line["high_a"], line["high_b"]) == ("10.0%", "13.2%")
    assert line["high_diff"] == "-3.2 (-18.0 to 12.0)"
    assert line["high_p"] == "0.930" and line["p_holm"] == "1.000"
    assert [s.anchor for s in present.sections(results)] == [
        "headline",
        "scores",
        "items",
        "downloads",
    ]


def test_completion_rows_give_numerators_denominators_and_reasons():
    results = {
        "missed_reasons": {"too_ill": "Patient too ill", "unrecorded": "reason not recorded"},
        "compliance": {
            "by_arm": [
                {
                    "visit": "m18", "visit_label": "18 months", "group": "A", "randomized": 131,
                    "not_due": 3, "due": 128, "died": 18, "off_study": 5, "expected": 105,
                    "received": 64, "missed_total": 41, "fixed_rate": 0.5,
                    "variable_rate": 64 / 105,
                    "missed_too_ill": 7, "missed_unrecorded": 34, "missed_other": 0,
                }
            ]
        },
    }  # fmt: skip
    (row,) = present.completion_rows(results)
    assert row["fixed"] == "64/128 (50.0%)"
    assert row["variable"] == "64/105 (61.0%)"
    assert row["reasons"] == "reason not recorded 34; Patient too ill 7"
    assert (row["died"], row["off_study"], row["not_due"]) == (18, 5, 3)
    # A run from before both denominators: nothing to show rather than wrong numbers.
    old = {"compliance": {"by_arm": [{"visit": "6 months", "group": "A", "received": 3}]}}
    assert present.completion_rows(old) == []


def test_time_to_deterioration_in_months_with_not_reached():
    rows = [
        {"definition": "TOI-5", "measure": "TOI", "unit": "days", "kind": "median", "arm": arm,
         "n": 100, "events": 40, "estimate": est, "ci_low": low, "ci_high": None,
         "statistic": None, "p_value": None, "excluded": 3, "note": ""}
        for arm, est, low in (("A", None, 900.0), ("B", 608.75, 300.0))
    ] + [
        {"definition": "TOI-5", "measure": "TOI", "unit": "days", "kind": "hazard_ratio",
         "arm": "A / B", "n": 200, "events": 80, "estimate": 0.7, "ci_low": 0.45,
         "ci_high": 1.09, "statistic": -1.6, "p_value": 0.11, "excluded": 3, "note": ""},
    ]  # fmt: skip
    (row,) = present.ttd_rows({"ttd": rows, "arms": {"A": "a", "B": "b"}})
    assert row["median_a"] == "not reached (29.6 to NR); 40/100 events"
    assert row["median_b"] == "20.0 (9.9 to NR); 40/100 events"
    assert row["hr"] == "0.70 (0.45 to 1.09)" and row["p_cox"] == "0.110"
    assert row["p_logrank"] == "—" and row["excluded"] == "3"


def test_the_paper_table_checks_the_bounds_visit_by_visit():
    reference = {
        "measure": "TOI",
        "visits": {
            "m18": {"reported": True, "mean_a": 74.2, "sd_a": 11.5, "mean_b": 68.0,
                    "sd_b": 13.7, "p_value": 0.01, "scored_text": "about half"},
            "baseline": {"reported": False, "significant": False},
        },
        "bounds": {"mean": 1.5, "sd": 2.0, "p_value": [0.005, 0.02],
                   "scored_fraction": [0.45, 0.55]},
    }  # fmt: skip

    def toi(visit, mean_a, p, n_a=64):
        return {"measure": "TOI", "visit": visit, "analysis": "score", "n_a": n_a,
                "n_b": 60, "mean_a": mean_a, "sd_a": 11.0, "mean_b": 68.3, "sd_b": 14.0,
                "p_value": p}  # fmt: skip

    completion = [
        {"visit": "baseline", "randomized": 131},
        {"visit": "baseline", "randomized": 125},
    ]
    results = {
        "visits": [{"code": "baseline", "label": "Baseline"}, {"code": "m18", "label": "18 mo"}],
        "compare": [toi("baseline", 63.0, 0.4), toi("m18", 74.0, 0.012)],
        "compliance": {"by_arm": completion},
        "reference": reference,
    }
    base, m18 = present.paper_rows(results)  # in the trial's visit order
    assert (base.visit, base.paper_a, base.paper_p, base.agrees) == (
        "Baseline", "not given", "> .05 (not significant)", True
    )  # fmt: skip
    assert (m18.paper_a, m18.run_a, m18.paper_p, m18.run_p) == (
        "74.2 (11.5)", "74.0 (11.0), n=64", "0.01", "0.012"
    )  # fmt: skip
    assert m18.run_scored == "124 of 256 (48.4%)" and m18.agrees is True
    results["compare"][1] = toi("m18", 76.0, 0.012)  # 1.8 points off the paper's mean
    assert present.paper_rows(results)[1].agrees is False
    results["compare"][1] = toi("m18", 74.0, 0.012, n_a=100)  # 62.5% scored
    assert present.paper_rows(results)[1].agrees is False


def test_a_demo_like_page_has_no_minus_zero_anywhere():
    rows = [item_row(visit=v, median_diff=-0.0, prop_high_diff=-1e-9) for v in ("m6", "m18")]
    html = str(present.comparison_tables({"compare": rows}))
    assert not re.search(r"-0\.0(?!\d)", html)


def test_the_sensitivity_rows_say_who_was_not_imputed():
    common = {"measure": "TOI", "visit": "m18", "estimate": 5.0, "se": 2.0, "df": 70.0,
              "p_value": 0.02, "ci_low": 1.0, "ci_high": 9.0, "n": 192,
              "n_not_expected": 41}  # fmt: skip
    rows = [
        {**common, "analysis": "MMRM", "assumption": "MAR", "tipping_delta": None, "note": "m"},
        {
            **common,
            "analysis": "delta-adjusted MI, tipping point",
            "assumption": "MNAR",
            "tipping_delta": -2.271,
            "note": "lost at 2.27",
        },
    ]
    mmrm_row, tipping = present.sensitivity_rows({"sensitivity": rows})
    assert mmrm_row["note"] == "m" and mmrm_row["tipping"] == "—"
    assert tipping["tipping"] == "2.27"
    assert tipping["note"] == (
        "lost at 2.27; 41 not imputed (died or left the study before the window closed)"
    )
    assert tipping["estimate"] == "5.0 (1.0 to 9.0)"
