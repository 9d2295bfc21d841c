"""scoring.compare: the RESULTS table, its rules, and every kind of bad input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from scoring.compare import (
    DEFAULT_MEASURES,
    RESULT_COLUMNS,
    CompareInputError,
    compare,
    visit_sort_key,
)
from scoring.io import read_table
from scoring.proportions import newcombe_difference, prop_test
from scoring.rstats import t_test, wilcox_test
from tests.scoring.rreference import FIXTURES, T_REL, ULPS, close, reference


def long_table(
    rows: list[tuple[str, str, str, float | None]], measure: str = "TOI"
) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["participant_id", "arm", "visit", measure])


def two_arm_scores(seed: int = 1, n: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(2 * n):
        arm = "B" if i % 2 else "A"
        level = rng.normal(60, 10)
        for visit in ("baseline", "month6", "month18"):
            rows.append(
                {
                    "participant_id": f"P{i:03d}",
                    "arm": arm,
                    "visit": visit,
                    "TOI": round(level + rng.normal(0, 5), 1),
                    "BCS": float(rng.integers(10, 36)),
                }
            )
    return pd.DataFrame(rows)


# ------------------------------------------------------------ the table ----


def test_results_match_r_end_to_end() -> None:
    """compare() on the fixture table equals R's wilcox.test / t.test row by row."""
    scores = read_table(FIXTURES / "compare_scores.csv")  # text cells, as the CLI reads them
    expected = reference()["compare"]["rows"]
    result = compare(scores, measures=["TOI", "BCS", "FACTG"])
    assert list(result.columns) == list(RESULT_COLUMNS)
    assert len(result) == len(expected)
    for got, want in zip(result.to_dict("records"), expected, strict=True):
        where = f"{want['measure']} {want['visit']} {want['analysis']} {want['test']}"
        for key in ("measure", "visit", "analysis", "test", "arm_a", "arm_b", "n_a", "n_b"):
            assert got[key] == want[key], where
        for key in ("mean_a", "sd_a", "mean_b", "sd_b", "median_a", "median_b", "statistic"):
            assert close(got[key], want[key], ULPS), (where, key)
        rel = ULPS if want["test"] == "wilcoxon" else T_REL
        assert close(got["p_value"], want["p_value"], rel), where
        assert close(got["estimate"], want["estimate"], 1e-12 if rel == ULPS else ULPS), where
        for key in ("ci_low", "ci_high"):
            assert close(got[key], want[key], 1e-12, 1e-12), (where, key)


def test_fixture_covers_blank_rows_for_an_arm_with_one_value() -> None:
    scores = read_table(FIXTURES / "compare_scores.csv")
    result = compare(scores, measures=["TOI"])
    month12 = result[result["visit"] == "month12"]
    assert (month12["n_b"] == 1).all()
    assert month12[["statistic", "p_value", "estimate", "ci_low", "ci_high"]].isna().all().all()
    assert month12["mean_a"].notna().all()


def test_rows_are_ordered_measure_then_score_then_change() -> None:
    result = compare(two_arm_scores(), measures=["TOI", "BCS"])
    assert list(result[["measure", "visit", "analysis", "test"]].itertuples(index=False)) == [
        (m, v, a, t)
        for m in ("TOI", "BCS")
        for (v, a, t) in [
            ("baseline", "score", "wilcoxon"),
            ("month6", "score", "wilcoxon"),
            ("month18", "score", "wilcoxon"),
            ("month6", "change", "student"),
            ("month6", "change", "welch"),
            ("month18", "change", "student"),
            ("month18", "change", "welch"),
        ]
    ]
    assert result["n_a"].dtype == np.int64


def test_score_rows_are_rs_wilcoxon_on_each_arm() -> None:
    scores = two_arm_scores()
    row = compare(scores, measures=["TOI"]).iloc[1]  # month6 score row
    at = scores[scores["visit"] == "month6"]
    w = wilcox_test(at.loc[at["arm"] == "A", "TOI"], at.loc[at["arm"] == "B", "TOI"])
    assert (row["statistic"], row["p_value"], row["estimate"]) == (
        w.statistic,
        w.p_value,
        w.estimate,
    )
    assert (row["ci_low"], row["ci_high"]) == (w.ci_low, w.ci_high)


def test_arms_are_sorted_and_differences_are_a_minus_b() -> None:
    scores = two_arm_scores()
    result = compare(scores, measures=["TOI"])
    renamed = scores.assign(arm=scores["arm"].map({"A": "zeta", "B": "alpha"}))
    swapped = compare(renamed, measures=["TOI"])
    assert (result["arm_a"] == "A").all() and (swapped["arm_a"] == "alpha").all()
    assert (swapped["n_a"] == result["n_b"]).all()
    assert np.allclose(swapped["p_value"], result["p_value"], rtol=1e-12)
    change = result["analysis"] == "change"
    assert (swapped.loc[change, "estimate"] == -result.loc[change, "estimate"]).all()
    assert np.allclose(swapped.loc[change, "ci_low"], -result.loc[change, "ci_high"], rtol=1e-12)
    # W is the U of arm a, so swapping the arms turns W into n_a n_b - W. (The
    # Hodges-Lehmann shift from uniroot is only determined to R's tol.root, or
    # anywhere on a flat zero of W(d) with ties, so it is not exactly antisymmetric.)
    score = ~change
    assert (
        swapped.loc[score, "statistic"]
        == result.loc[score, "n_a"] * result.loc[score, "n_b"] - result.loc[score, "statistic"]
    ).all()
    assert (
        np.sign(swapped.loc[score, "estimate"]) == -np.sign(result.loc[score, "estimate"])
    ).all()


def test_change_uses_only_participants_with_both_visits() -> None:
    scores = long_table(
        [
            ("a1", "A", "baseline", 50.0),
            ("a1", "A", "month6", 56.0),  # change +6
            ("a2", "A", "baseline", 40.0),
            ("a2", "A", "month6", 42.0),  # change +2
            ("a3", "A", "baseline", 30.0),  # no follow-up
            ("a4", "A", "month6", 90.0),  # no baseline row
            ("a5", "A", "baseline", None),  # baseline missing
            ("a5", "A", "month6", 10.0),
            ("a6", "A", "baseline", 70.0),
            ("a6", "A", "month6", 69.0),  # change -1
            ("b1", "B", "baseline", 50.0),
            ("b1", "B", "month6", 45.0),  # change -5
            ("b2", "B", "baseline", 60.0),
            ("b2", "B", "month6", 61.0),  # change +1
            ("b3", "B", "baseline", 20.0),
            ("b3", "B", "month6", None),  # follow-up missing
        ]
    )
    result = compare(scores)
    student = result[(result["analysis"] == "change") & (result["test"] == "student")].iloc[0]
    assert (student["n_a"], student["n_b"]) == (3, 2)
    assert student["mean_a"] == pytest.approx((6 + 2 - 1) / 3)
    assert student["mean_b"] == pytest.approx(-2.0)
    assert student["median_a"] == 2.0 and student["median_b"] == -2.0
    reference_t = t_test([6.0, 2.0, -1.0], [-5.0, 1.0], var_equal=True)
    assert student["statistic"] == reference_t.statistic
    assert student["estimate"] == reference_t.estimate
    score_m6 = result[(result["analysis"] == "score") & (result["visit"] == "month6")].iloc[0]
    assert (score_m6["n_a"], score_m6["n_b"]) == (5, 2)  # a4 and a5 count for the score row


def test_welch_and_pooled_rows_differ_when_variances_differ() -> None:
    rng = np.random.default_rng(3)
    rows = []
    for i in range(40):
        arm, spread = ("A", 1.0) if i < 25 else ("B", 12.0)
        base = rng.normal(60, 5)
        rows += [
            (f"p{i}", arm, "baseline", base),
            (f"p{i}", arm, "month6", base + rng.normal(2, spread)),
        ]
    result = compare(long_table(rows)).set_index("test")
    student, welch = result.loc["student"], result.loc["welch"]
    assert student["estimate"] == welch["estimate"]
    assert student["statistic"] != welch["statistic"]
    assert student["p_value"] != welch["p_value"]
    assert (welch["ci_high"] - welch["ci_low"]) > (student["ci_high"] - student["ci_low"])
    assert t_test(
        *(
            np.array([r[3] for r in rows[1::2] if r[1] == arm])
            - np.array([r[3] for r in rows[0::2] if r[1] == arm])
            for arm in ("A", "B")
        ),
        var_equal=False,
    ).p_value == pytest.approx(welch["p_value"], rel=1e-15)


def test_an_arm_with_fewer_than_two_values_gives_a_blank_row() -> None:
    scores = long_table(
        [
            ("a1", "A", "baseline", 50.0),
            ("a2", "A", "baseline", 55.0),
            ("a3", "A", "baseline", 58.0),
            ("b1", "B", "baseline", 52.0),
            ("a1", "A", "month6", 51.0),
            ("a2", "A", "month6", 57.0),
            ("b1", "B", "month6", None),
        ]
    )
    result = compare(scores)
    assert len(result) == 4
    stats_cols = ["statistic", "p_value", "estimate", "ci_low", "ci_high"]
    assert result[stats_cols].isna().all().all()
    assert result["n_b"].tolist() == [1, 0, 0, 0]
    assert result.loc[0, "mean_b"] == 52.0 and math.isnan(result.loc[0, "sd_b"])


def test_all_tied_scores_give_a_p_value_but_no_interval() -> None:
    rows = [(f"p{i}", "AB"[i % 2], "baseline", 20.0) for i in range(6)]
    rows += [(f"p{i}", "AB"[i % 2], "month6", 20.0 + i % 2) for i in range(6)]
    result = compare(long_table(rows))
    score = result.iloc[0]
    assert score["statistic"] == 4.5 and math.isnan(score["p_value"])
    assert math.isnan(score["ci_low"])
    followup = result.iloc[1]
    assert followup["p_value"] < 0.05 and math.isnan(followup["estimate"])
    change = result[result["analysis"] == "change"]
    assert change["statistic"].isna().all()  # R: "data are essentially constant"


def test_default_measures_are_the_fact_scores_present_in_canonical_order() -> None:
    scores = two_arm_scores().rename(columns={"BCS": "LR3"})
    scores["FACTG"] = scores["TOI"] + 10
    scores["notes"] = "x"
    result = compare(scores)
    assert list(dict.fromkeys(result["measure"])) == ["FACTG", "TOI", "LR3"]
    assert DEFAULT_MEASURES.index("FACTG") < DEFAULT_MEASURES.index("TOI")


def test_visits_run_baseline_first_then_chronologically() -> None:
    rows = []
    for i, arm in enumerate("ABAB"):
        for visit in ("month 18", "Week 12", "baseline", "month6", "30 months"):
            rows.append((f"p{i}", arm, visit, float(i + len(visit))))
    shuffled = long_table(rows).sample(frac=1.0, random_state=5)
    result = compare(shuffled)
    visits = list(dict.fromkeys(result.loc[result["analysis"] == "score", "visit"]))
    assert visits == ["baseline", "Week 12", "month6", "month 18", "30 months"]
    assert sorted(["visit10", "visit2", "6", "18"], key=visit_sort_key) == [
        "6",
        "18",
        "visit2",
        "visit10",
    ]


def test_an_ordered_categorical_visit_column_sets_the_order() -> None:
    rows = [(f"p{i}", "AB"[i % 2], v, float(i)) for i in range(4) for v in ("pre", "post", "end")]
    scores = long_table(rows)
    scores["visit"] = pd.Categorical(scores["visit"], ["pre", "post", "end"], ordered=True)
    result = compare(scores, baseline="pre")
    assert list(dict.fromkeys(result["visit"])) == ["pre", "post", "end"]


def test_numeric_columns_and_custom_column_names_work() -> None:
    scores = two_arm_scores().rename(
        columns={"participant_id": "subject", "arm": "trt", "visit": "avisit"}
    )
    scores["avisit"] = scores["avisit"].map({"baseline": 0, "month6": 6, "month18": 18})
    result = compare(
        scores, id_col="subject", arm_col="trt", visit_col="avisit", baseline="0", measures=["TOI"]
    )
    assert list(dict.fromkeys(result["visit"])) == ["0", "6", "18"]
    text = compare(two_arm_scores().astype(str), measures=["TOI"])
    numeric = compare(two_arm_scores(), measures=["TOI"])
    pd.testing.assert_frame_equal(text, numeric)


# ------------------------------------------------------------ bad input ----


def bad(scores: pd.DataFrame, match: str, **kwargs: object) -> None:
    with pytest.raises(CompareInputError, match=match):
        compare(scores, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("column", ["participant_id", "arm", "visit"])
def test_missing_key_columns_are_named(column: str) -> None:
    bad(two_arm_scores().drop(columns=[column]), f"missing .*column '{column}'")


def test_a_requested_measure_that_is_absent_is_named() -> None:
    bad(two_arm_scores(), r"measure column\(s\) not found: 'FACTB'", measures=["TOI", "FACTB"])


def test_no_score_columns_at_all() -> None:
    bad(two_arm_scores().drop(columns=["TOI", "BCS"]), "no score columns found")


def test_a_measure_cannot_be_a_key_column() -> None:
    bad(two_arm_scores(), "is the id, arm or visit column", measures=["visit"])


@pytest.mark.parametrize("arms", [["A"], ["A", "B", "C"]])
def test_exactly_two_arms_are_required(arms: list[str]) -> None:
    scores = two_arm_scores()
    scores["arm"] = [arms[i % len(arms)] for i in range(len(scores))]
    scores = scores.drop_duplicates(["participant_id", "visit"])
    # participants may now straddle arms; keep the arm message the first one raised
    bad(scores, f"expected exactly two arms in column 'arm', found {len(arms)}")


def test_duplicate_participant_visit_rows_are_listed() -> None:
    scores = two_arm_scores()
    scores = pd.concat([scores, scores.iloc[[4]]], ignore_index=True)
    bad(
        scores,
        r"1 participant x visit pair\(s\) appear more than once: participant P001, "
        r"visit month6 \(rows 5, 181\)",
    )


def test_no_baseline_rows() -> None:
    scores = two_arm_scores()
    bad(scores, "no baseline rows.*'base'", baseline="base")
    bad(scores[scores["visit"] != "baseline"], "no baseline rows")


def test_non_numeric_scores_name_row_participant_visit_and_value() -> None:
    scores = two_arm_scores().astype({"TOI": object})
    scores.loc[7, "TOI"] = "abc"
    scores.loc[9, "TOI"] = "NA"
    with pytest.raises(CompareInputError) as err:
        compare(scores)
    message = str(err.value)
    assert "column 'TOI' has 2 value(s) that are not finite numbers" in message
    assert "row 8 (participant P002, visit month6): 'abc'" in message
    assert "row 10 (participant P003, visit baseline): 'NA'" in message


@pytest.mark.parametrize("cell", ["inf", "nan", "-Infinity", " "])
def test_non_finite_text_is_rejected(cell: str) -> None:
    scores = two_arm_scores().astype({"BCS": object})
    scores.loc[0, "BCS"] = cell
    bad(scores, "column 'BCS' has 1 value")


def test_infinite_numbers_are_rejected() -> None:
    scores = two_arm_scores()
    scores.loc[3, "TOI"] = np.inf
    bad(scores, "column 'TOI' has 1 value.*row 4")


def test_boolean_scores_are_rejected() -> None:
    scores = two_arm_scores()
    scores["BCS"] = scores["BCS"] > 20
    bad(scores, "true/false")


@pytest.mark.parametrize("column", ["participant_id", "arm", "visit"])
def test_blank_keys_are_rejected(column: str) -> None:
    scores = two_arm_scores()
    scores.loc[2, column] = None
    bad(scores, f"column '{column}' is blank in 1 row")


def test_a_participant_in_both_arms_is_rejected() -> None:
    scores = two_arm_scores()
    scores.loc[1, "arm"] = "B"  # P000 is arm A at baseline
    bad(scores, r"1 participant\(s\) appear in both arms: P000")


def test_an_empty_table_is_rejected() -> None:
    bad(two_arm_scores().iloc[0:0], "no rows")


# ------------------------------------------- columns added after release ----


def test_new_columns_follow_the_original_ones_unchanged() -> None:
    first_release = (
        *("measure", "visit", "analysis", "test", "arm_a", "arm_b", "n_a", "n_b"),
        *("mean_a", "sd_a", "mean_b", "sd_b", "median_a", "median_b"),
        *("statistic", "p_value", "estimate", "ci_low", "ci_high"),
    )
    assert RESULT_COLUMNS[: len(first_release)] == first_release
    assert RESULT_COLUMNS[len(first_release) :] == (
        *("p_holm", "holm_family", "median_diff", "prop_high_a", "prop_high_b"),
        *("prop_high_diff", "prop_high_ci_low", "prop_high_ci_high", "prop_high_p_value"),
    )


def test_holm_adjusts_within_measure_group_and_test_kind() -> None:
    scores = two_arm_scores()
    scores["FACTG"] = scores["TOI"] + scores["BCS"]
    scores["PWB"] = scores["BCS"] / 2
    result = compare(scores, measures=["TOI", "BCS", "FACTG", "PWB"])
    summary = "FACT-B summary scores"
    assert set(result["holm_family"]) == {
        f"{summary}: baseline scores, wilcoxon",
        f"{summary}: follow-up scores, wilcoxon",
        f"{summary}: change, student",
        f"{summary}: change, welch",
        "FACT-G subscales: baseline scores, wilcoxon",
        "FACT-G subscales: follow-up scores, wilcoxon",
        "FACT-G subscales: change, student",
        "FACT-G subscales: change, welch",
    }
    # follow-up Wilcoxon tests of TOI, BCS and FACTG at month6 and month18: m = 6
    family = result[result["holm_family"] == f"{summary}: follow-up scores, wilcoxon"]
    assert len(family) == 6 and set(family["visit"]) == {"month6", "month18"}
    np.testing.assert_allclose(family["p_holm"], holm_by_hand(family["p_value"]), rtol=1e-15)
    # the FACT-G subscales' Student family holds PWB's two change tests only
    pwb = result[(result["measure"] == "PWB") & (result["test"] == "student")]
    assert (pwb["holm_family"] == "FACT-G subscales: change, student").all()
    np.testing.assert_allclose(pwb["p_holm"], holm_by_hand(pwb["p_value"]), rtol=1e-15)
    assert (result["p_holm"] >= result["p_value"]).all()


def holm_by_hand(p: pd.Series) -> np.ndarray:
    """Holm written out: sort, multiply by m, m - 1, ..., 1, running maximum, cap at 1."""
    values = p.to_numpy()
    m = len(values)
    order = sorted(range(m), key=lambda i: values[i])
    out = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, (m - rank) * values[i])
        out[i] = min(1.0, running)
    return out


def test_blank_p_values_stay_blank_and_are_not_counted() -> None:
    scores = compare(read_table(FIXTURES / "compare_scores.csv"), measures=["TOI"])
    month12 = scores[scores["visit"] == "month12"]
    assert month12["p_holm"].isna().all()
    followup = scores[scores["holm_family"] == "FACT-B summary scores: follow-up scores, wilcoxon"]
    present = followup["p_value"].dropna()
    assert len(present) == 2  # week12, month6: m = 2, the blank month12 not counted
    np.testing.assert_allclose(followup["p_holm"].dropna(), holm_by_hand(present), rtol=1e-15)


def test_item_rows_get_proportions_of_quite_a_bit_or_very_much() -> None:
    rows = []
    a = [0, 1, 3, 4, 4, 2, 3, 0, 1, 1]  # 4 of 10 answer 3 or 4; median 1.5
    b = [0, 0, 1, 2, 3, 1, 0, 1, 2, 1, 0, 4]  # 2 of 12; median 1
    for arm, answers in (("A", a), ("B", b)):
        for i, x in enumerate(answers):
            rows.append((f"{arm}{i}", arm, "baseline", float(x), 50.0))
            rows.append((f"{arm}{i}", arm, "month6", float(4 - x), 52.0 + i))
    scores = pd.DataFrame(rows, columns=["participant_id", "arm", "visit", "LR5", "TOI"])
    result = compare(scores, measures=["LR5", "TOI"])
    base = result[(result["measure"] == "LR5") & (result["visit"] == "baseline")].iloc[0]
    assert base["prop_high_a"] == 0.4 and base["prop_high_b"] == 2 / 12
    assert base["prop_high_diff"] == 0.4 - 2 / 12
    diff = newcombe_difference(4, 10, 2, 12)
    assert (base["prop_high_ci_low"], base["prop_high_ci_high"]) == (diff.ci_low, diff.ci_high)
    assert base["prop_high_p_value"] == prop_test(4, 10, 2, 12).p_value
    assert base["median_diff"] == 0.5
    month6 = result[(result["measure"] == "LR5") & (result["visit"] == "month6")].iloc[0]
    assert month6["prop_high_a"] == 0.5 and month6["prop_high_b"] == 8 / 12
    others = result[(result["measure"] == "TOI") | (result["analysis"] == "change")]
    prop_columns = [c for c in RESULT_COLUMNS if c.startswith("prop_high")]
    assert others[prop_columns].isna().all().all()
    np.testing.assert_array_equal(result["median_diff"], result["median_a"] - result["median_b"])
    # any measure can be declared an item
    as_item = compare(scores, measures=["TOI"], item_measures=["TOI"])
    assert as_item["prop_high_a"].iloc[0] == 1.0
