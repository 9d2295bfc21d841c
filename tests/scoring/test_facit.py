"""FACT-B scoring: docs/scoring.md reference vectors, boundaries, keys, properties, cross-check."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.facit import (
    COUNT_COLUMNS,
    MAX_LISTED,
    SCORE_COLUMNS,
    SCORING_VERSION,
    ScoringInputError,
    score_form,
    score_frame,
)

# ---------------------------------------------------- docs/scoring.md, typed in
PWB = [f"GP{i}" for i in range(1, 8)]
SWB = [f"GS{i}" for i in range(1, 8)]
EWB = [f"GE{i}" for i in range(1, 7)]
FWB = [f"GF{i}" for i in range(1, 8)]
BCS = [*(f"B{i}" for i in range(1, 10)), "P2"]
ARM_EXTRA = ["B10", "B11", "B12", "B13"]
ARM = ["B3", *ARM_EXTRA]
LR = [f"LR{i}" for i in range(1, 10)]
FACTB_ITEMS = PWB + SWB + EWB + FWB + BCS
SUBSCALES = {"PWB": PWB, "SWB": SWB, "EWB": EWB, "FWB": FWB, "BCS": BCS}
REVERSED = {
    *PWB,
    "GE1", "GE3", "GE4", "GE5", "GE6",
    "B1", "B2", "B3", "B5", "B6", "B7", "B8", "P2",
    *ARM_EXTRA,
}  # fmt: skip
MAXIMUM = {"PWB": 28, "SWB": 28, "EWB": 24, "FWB": 28, "BCS": 40, "FACTG": 108,
           "FACTB": 148, "TOI": 96, "ARM": 20}  # fmt: skip
OUTPUT = [*SCORE_COLUMNS, *COUNT_COLUMNS]

Answer = Any  # int, None, 8/9, or (for bad-input tests) anything


def form(value: Answer = 2, blank: Sequence[str] = (), /, **items: Answer) -> dict[str, Answer]:
    """A FACT-B form with every item = value, the `blank` items None, then overrides."""
    answers: dict[str, Answer] = dict.fromkeys(FACTB_ITEMS, value)
    answers.update(dict.fromkeys(blank))
    answers.update(items)
    return answers


def frame(*forms: Mapping[str, Answer]) -> pd.DataFrame:
    return pd.DataFrame(list(forms))


def nan_to_none(value: object) -> object:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


# -------------------------------------------------------- the plain reference
def plain_score(answers: Mapping[str, Answer], toi_rule: str = "facit") -> dict[str, object]:
    """Deliberately plain row-by-row FACT-B scoring, straight from docs/scoring.md."""

    def item_score(code: str) -> int | None:
        v = answers.get(code)
        if v is None or (isinstance(v, float) and math.isnan(v)) or v in (8, 9):
            return None
        v = int(v)
        assert 0 <= v <= 4
        return 4 - v if code in REVERSED else v

    out: dict[str, object] = {}
    counts: dict[str, int] = {}
    subscales = dict(SUBSCALES)
    if "B10" in answers:
        subscales["ARM"] = ARM
    for name, items in subscales.items():
        scores = [item_score(c) for c in items]
        answered = [s for s in scores if s is not None]
        counts[name] = len(answered)
        if len(answered) * 2 > len(items):  # more than 50%
            out[name] = sum(answered) * len(items) / len(answered)
        else:
            out[name] = None

    def total(parts: list[str]) -> tuple[float | None, int]:
        n_items = sum(len(SUBSCALES[p]) for p in parts)
        n = sum(counts[p] for p in parts)
        values = [out[p] for p in parts]
        if any(v is None for v in values) or not n * 5 > n_items * 4:  # more than 80%
            return None, n
        result = 0.0
        for v in values:
            result += v  # type: ignore[operator]
        return result, n

    out["FACTG"], counts["FACTG"] = total(["PWB", "SWB", "EWB", "FWB"])
    out["FACTB"], counts["FACTB"] = total(["PWB", "SWB", "EWB", "FWB", "BCS"])
    out["TOI"], counts["TOI"] = total(["PWB", "FWB", "BCS"])
    if toi_rule == "factscorer":
        parts = [out["PWB"], out["FWB"], out["BCS"]]
        out["TOI"] = None if None in parts else (parts[0] + parts[1]) + parts[2]  # type: ignore[operator]
    for name in [*subscales, "FACTG", "FACTB", "TOI"]:
        out[f"{name}_N"] = counts[name]
    for code in LR:
        if code in answers:
            v = answers[code]
            out[code] = None if v is None or v in (8, 9) else int(v)
    return out


def ours(answers: Mapping[str, Answer], toi_rule: str = "facit") -> dict[str, object]:
    return {k: nan_to_none(v) for k, v in score_form(answers, toi_rule=toi_rule).items()}  # type: ignore[arg-type]


def test_the_plain_reference_catches_a_wrong_key() -> None:
    # Guards the cross-check itself: a reference that agreed with anything would be useless.
    assert plain_score(form(4))["PWB"] == 0
    assert plain_score(form(4, GE2=0))["EWB"] == 0


# ----------------------------------------------- docs/scoring.md reference vectors
REFERENCE_VECTORS = [
    # (input, PWB, SWB, EWB, FWB, FACTG, BCS, FACTB, TOI)
    ("every item = 4", form(4), 0, 28, 4, 28, 60, 8, 68, 36),
    ("every item = 0", form(0), 28, 0, 20, 0, 48, 32, 80, 60),
    ("all 2; GE1-GE3 blank", form(2, ["GE1", "GE2", "GE3"]), 14, 14, None, 14, None, 20, None,
     48),
    ("all 2; B1-B5 blank", form(2, ["B1", "B2", "B3", "B4", "B5"]), 14, 14, 12, 14, 54, None,
     None, None),
    ("all 1; GS1-GS4 blank", form(1, ["GS1", "GS2", "GS3", "GS4"]), 21, None, 16, 7, None, 26,
     None, 54),
]  # fmt: skip


@pytest.mark.parametrize(
    ("answers", "pwb", "swb", "ewb", "fwb", "factg", "bcs", "factb", "toi"),
    [v[1:] for v in REFERENCE_VECTORS],
    ids=[v[0] for v in REFERENCE_VECTORS],
)
@pytest.mark.parametrize("toi_rule", ["facit", "factscorer"])
def test_it_reproduces_the_reference_vectors(
    answers: dict[str, Answer],
    pwb: float | None,
    swb: float | None,
    ewb: float | None,
    fwb: float | None,
    factg: float | None,
    bcs: float | None,
    factb: float | None,
    toi: float | None,
    toi_rule: str,
) -> None:
    expected = {"PWB": pwb, "SWB": swb, "EWB": ewb, "FWB": fwb, "FACTG": factg, "BCS": bcs,
                "FACTB": factb, "TOI": toi}  # fmt: skip
    got = ours(answers, toi_rule)
    assert {k: got[k] for k in expected} == expected
    scored = score_frame(frame(answers), toi_rule=toi_rule)  # type: ignore[arg-type]
    assert {k: nan_to_none(scored[k].iloc[0]) for k in expected} == expected


# ------------------------------------------------------------------ boundaries
@pytest.mark.parametrize(
    ("name", "items", "least"),
    [("PWB", PWB, 4), ("SWB", SWB, 4), ("EWB", EWB, 4), ("FWB", FWB, 4), ("BCS", BCS, 6)],
)
def test_it_scores_a_subscale_only_when_more_than_half_is_answered(
    name: str, items: list[str], least: int
) -> None:
    too_few = ours(form(3, items[: len(items) - least + 1]))
    just_enough = ours(form(3, items[: len(items) - least]))
    assert too_few[name] is None
    assert too_few[f"{name}_N"] == least - 1
    assert just_enough[name] is not None
    assert just_enough[f"{name}_N"] == least


@pytest.mark.parametrize(("name", "items"), [("EWB", EWB), ("BCS", BCS)])
def test_it_leaves_a_subscale_blank_at_exactly_half_and_scores_one_more(
    name: str, items: list[str]
) -> None:
    half = len(items) // 2
    assert ours(form(1, items[:half]))[name] is None
    assert ours(form(1, items[: half - 1]))[name] is not None


def test_it_scores_the_arm_subscale_from_three_of_five() -> None:
    two = ours(form(2, B10=1, B11=1, B12=None, B13=None, B3=None))
    three = ours(form(2, B10=1, B11=1, B12=None, B13=None, B3=0))
    assert two["ARM"] is None
    assert two["ARM_N"] == 2
    assert three["ARM"] == (3 + 3 + 4) * 5 / 3
    assert three["ARM_N"] == 3


@pytest.mark.parametrize(
    ("name", "blank_at_80", "blank_above_80"),
    [
        # FACT-G: 21 of 27 (77.8%, the most that is not above 80%) vs 22 of 27.
        ("FACTG", PWB[:3] + FWB[:3], PWB[:3] + FWB[:2]),
        # FACT-B: 29 of 37 vs 30 of 37.
        ("FACTB", PWB[:3] + FWB[:3] + BCS[:2], PWB[:3] + FWB[:3] + BCS[:1]),
        # TOI: 19 of 24 vs 20 of 24.
        ("TOI", PWB[:3] + BCS[:2], PWB[:3] + BCS[:1]),
    ],
)
def test_it_scores_a_total_only_when_more_than_80_percent_is_answered(
    name: str, blank_at_80: list[str], blank_above_80: list[str]
) -> None:
    at = ours(form(2, blank_at_80))
    above = ours(form(2, blank_above_80))
    assert all(at[s] is not None for s in SUBSCALES)  # every component is valid
    assert at[name] is None
    assert above[name] is not None
    assert above[f"{name}_N"] == at[f"{name}_N"] + 1  # type: ignore[operator]


def test_it_scores_factb_when_factg_alone_misses_its_80_percent() -> None:
    # 21 of 27 FACT-G items (FACT-G blank) but 31 of 37 FACT-B items.
    got = ours(form(2, PWB[:3] + FWB[:3]))
    assert got["FACTG"] is None
    assert got["FACTB"] == 14 + 14 + 12 + 14 + 20


def test_it_leaves_totals_blank_when_a_component_subscale_is_blank() -> None:
    got = ours(form(3, BCS[:5]))  # BCS 5 of 10: blank; 32 of 37 answered
    assert got["BCS"] is None
    assert got["FACTB"] is None
    assert got["TOI"] is None
    assert got["FACTG"] is not None
    assert ours(form(3, BCS[:5]), "factscorer")["TOI"] is None


def test_it_offers_factscorer_toi_without_the_item_count_check() -> None:
    sparse = form(2, PWB[:3] + FWB[:3] + BCS[:4])  # 14 of 24 TOI items, components valid
    assert ours(sparse)["TOI"] is None
    assert ours(sparse, "factscorer")["TOI"] == 14 + 14 + 20
    assert ours(sparse, "factscorer")["TOI_N"] == 14
    # The factscorer rule changes nothing but the TOI.
    facit, factscorer = ours(sparse), ours(sparse, "factscorer")
    assert {k: v for k, v in facit.items() if k != "TOI"} == {
        k: v for k, v in factscorer.items() if k != "TOI"
    }


def test_it_rejects_an_unknown_toi_rule() -> None:
    with pytest.raises(ValueError, match="toi_rule"):
        score_frame(frame(form()), toi_rule="sas")  # type: ignore[arg-type]


@pytest.mark.parametrize("skipped", [None, 8, 9, float("nan")])
def test_it_treats_a_skipped_gs7_as_missing_and_keeps_it_in_the_denominators(
    skipped: Answer,
) -> None:
    got = ours(form(3, GS7=skipped))
    assert got["SWB"] == 3 * 6 * 7 / 6
    assert got["SWB_N"] == 6
    assert got["FACTG_N"] == 26
    assert got["FACTB_N"] == 36
    # 21 of 27: GS7 plus five more skipped leaves FACT-G blank (27 stays the denominator).
    assert ours(form(3, PWB[:3] + FWB[:2], GS7=skipped))["FACTG"] is None


@pytest.mark.parametrize("code", [8, 9, 8.0, "8", "9", "", "NA", " ", None, float("nan")])
def test_it_reads_8_9_blank_and_na_as_missing(code: Answer) -> None:
    blank = ["GP1", "GE2", "GF7", "B9", "GS7"]
    with_code = ours(form(1, **dict.fromkeys(blank, code)))
    assert with_code == ours(form(1, blank))
    assert with_code["FACTB_N"] == 32


# -------------------------------------------------------------- reversal keys
@pytest.mark.parametrize("code", FACTB_ITEMS + ARM_EXTRA)
def test_it_applies_each_reversal_key(code: str) -> None:
    subscale = next((s for s, items in SUBSCALES.items() if code in items), "ARM")
    base = form(2, B10=2, B11=2, B12=2, B13=2)
    low = ours({**base, code: 0})[subscale]
    high = ours({**base, code: 4})[subscale]
    assert high - low == (-4 if code in REVERSED else 4)  # type: ignore[operator]


def test_it_reverses_b3_in_both_bcs_and_arm() -> None:
    base = form(2, B10=2, B11=2, B12=2, B13=2)
    got = ours({**base, "B3": 0})
    assert got["BCS"] == 22
    assert got["ARM"] == 12


@pytest.mark.parametrize("code", LR)
def test_it_scores_each_lr_item_as_answered_without_reversal(code: str) -> None:
    for value in range(5):
        assert ours(form(2, **{code: value}))[code] == value
    assert ours(form(2, **{code: 8}))[code] is None
    assert ours(form(2, **{code: None}))[code] is None


# ------------------------------------------------------------ output contract
def test_it_returns_scores_then_counts_on_the_input_index() -> None:
    df = frame(form(1), form(3)).set_axis(["a", "b"])
    df.insert(0, "patient", ["p1", "p2"])
    scored = score_frame(df)
    assert list(scored.columns) == OUTPUT
    assert list(scored.index) == ["a", "b"]
    assert all(scored[c].dtype == np.float64 for c in SCORE_COLUMNS)
    assert all(scored[c].dtype == np.int64 for c in COUNT_COLUMNS)
    assert scored.attrs["scoring_version"] == SCORING_VERSION


def test_it_adds_arm_and_arm_n_when_b10_to_b13_are_present() -> None:
    scored = score_frame(frame(form(1, B10=1, B11=2, B12=3, B13=4)))
    assert list(scored.columns) == [*SCORE_COLUMNS, "ARM", *COUNT_COLUMNS, "ARM_N"]
    assert scored["ARM"].iloc[0] == 3 + 3 + 2 + 1 + 0
    assert scored["ARM_N"].iloc[0] == 5


def test_it_appends_the_lr_items_present_as_nullable_integers() -> None:
    scored = score_frame(frame(form(1, LR2=4, LR7=8), form(1, LR2=None, LR7=0)))
    assert list(scored.columns) == [*OUTPUT, "LR2", "LR7"]
    assert str(scored["LR2"].dtype) == "Int64"
    assert scored["LR2"].tolist() == [4, pd.NA]
    assert scored["LR7"].tolist() == [pd.NA, 0]


@pytest.mark.parametrize("partial", [["B10"], ["B10", "B11", "B12"]])
def test_it_refuses_an_incomplete_set_of_arm_items(partial: list[str]) -> None:
    with pytest.raises(ScoringInputError) as err:
        score_frame(frame(form(1, **dict.fromkeys(partial, 1))))
    assert set(err.value.columns) == set(ARM_EXTRA) - set(partial)


def test_it_keeps_full_precision() -> None:
    got = ours(form(2, ["GP1"], GP2=1))  # PWB: (3 + 2*5) * 7 / 6 = 91/6
    assert got["PWB"] == 91 / 6
    assert got["PWB"] != round(91 / 6, 3)
    assert got["FACTG"] == 91 / 6 + 14 + 12 + 14


def test_it_scores_an_empty_frame_to_an_empty_frame() -> None:
    scored = score_frame(frame(form()).iloc[:0])
    assert list(scored.columns) == OUTPUT
    assert len(scored) == 0


def test_it_ignores_columns_that_are_not_item_codes() -> None:
    df = frame(form(3))
    df["gp1"] = 99
    df["notes"] = "anything"
    assert score_frame(df).equals(score_frame(frame(form(3))))


def test_it_scores_one_form_like_one_row_of_a_frame() -> None:
    answers = form(3, ["GP1", "GS7"], GE2=8, B10=1, B11=2, B12=None, B13=4, LR1=2)
    one = score_form(answers)
    row = score_frame(frame(answers)).iloc[0]
    assert list(one) == list(row.index)
    assert {k: nan_to_none(v) for k, v in one.items()} == {
        k: nan_to_none(v.item() if hasattr(v, "item") else v) for k, v in row.items()
    }
    assert isinstance(one["PWB_N"], int)
    assert isinstance(one["PWB"], float)


# ------------------------------------------------------- input representations
def _typed_frames() -> dict[str, pd.DataFrame]:
    rows = [form(3, ["GP1"], GP2=8, GE2=0), form(1, GS7=9, B9=4), form(4, FWB[:4])]
    base = pd.DataFrame(rows, dtype=object)
    text = pd.DataFrame([{k: "" if v is None else str(v) for k, v in r.items()} for r in rows])
    return {
        "int and None objects": base,
        "float64 with NaN": base.astype("float64"),
        "float32": base.astype("float32"),
        "nullable Int8": base.astype("Int8"),
        "nullable Float64": base.astype("Float64"),
        "arrow int": base.astype("Int64").astype("int64[pyarrow]"),
        "python strings": text.astype(object),
        "arrow strings": text.mask(text == "").astype(pd.StringDtype("pyarrow")),
        "arrow strings, spaced": text.map(lambda s: f" {s} ").astype(pd.StringDtype("pyarrow")),
        "decimal text": text.map(lambda s: f"{s}.0" if s else s).astype(pd.StringDtype("pyarrow")),
        "categorical": base.astype("category"),
    }


@pytest.mark.parametrize("kind", list(_typed_frames()))
def test_it_scores_the_same_whatever_the_column_types(kind: str) -> None:
    frames = _typed_frames()
    expected = score_frame(frames["int and None objects"])
    pd.testing.assert_frame_equal(score_frame(frames[kind]), expected)


def test_it_reads_one_character_arrow_text_with_nulls_in_several_chunks() -> None:
    import pyarrow as pa

    values = ["1", None, "3", "8", " ", "0"] * 3000
    chunked = pa.chunked_array([values[:7000], values[7000:]], type=pa.large_string())
    column = pd.Series(pd.arrays.ArrowExtensionArray(chunked))
    df = frame(*[form(2)] * len(values))
    df["GP1"] = column
    scored = score_frame(df)
    gp1_score = {"1": 3, "3": 1, "0": 4}  # reversed; None, "8" and " " are missing
    pwb = [2 * 6 + gp1_score[v] if v in gp1_score else 2 * 7 for v in values]
    assert scored["PWB"].tolist() == pwb
    assert scored["PWB_N"].tolist() == [7 if v in gp1_score else 6 for v in values]
    df.loc[17_000, "GP1"] = "x"
    with pytest.raises(ScoringInputError) as err:
        score_frame(df)
    assert err.value.cells == ((17_001, "GP1", "x"),)


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "bad", [5, -1, 2.5, "abc", "2.5", "5", "-1", "1e0", "nan", "inf", True, 10, 255, 260, 1e300,
            float("inf"), "३", "4 4"],
)  # fmt: skip
def test_it_refuses_any_value_outside_0_to_4_and_the_missing_codes(bad: Answer) -> None:
    with pytest.raises(ScoringInputError) as err:
        score_frame(frame(form(2), form(2, GE3=bad)))
    assert err.value.rows == (2,)
    assert err.value.columns == ("GE3",)
    assert "row 2, column GE3" in str(err.value)


def test_it_refuses_bad_values_in_optional_arm_and_lr_columns() -> None:
    with pytest.raises(ScoringInputError) as err:
        score_frame(frame(form(2, B10=1, B11=1, B12=7, B13=1, LR4="x")))
    assert err.value.columns == ("B12", "LR4")


def test_it_names_rows_and_columns_and_lists_at_most_20_cells() -> None:
    forms = [form(2) for _ in range(30)]
    for i in range(0, 30, 2):  # rows 1, 3, ..., 29: two bad cells each
        forms[i]["GP1"] = 5
        forms[i]["B2"] = "x"
    with pytest.raises(ScoringInputError) as err:
        score_frame(frame(*forms))
    message = str(err.value)
    assert err.value.rows == tuple(range(1, 31, 2))
    assert err.value.columns == ("GP1", "B2")
    assert message.count(", column ") == MAX_LISTED
    assert "row 1, column GP1: '5'" in message
    assert "row 1, column B2: 'x'" in message
    assert "row 19, column B2" in message  # the 20th cell listed
    assert "row 21," not in message
    assert "and 10 more invalid cells in 5 more rows" in message
    assert len(err.value.cells) == MAX_LISTED


def test_it_reports_bad_rows_beyond_the_first_kernel_block() -> None:
    df = frame(*[form(1)] * 10_000)
    df.loc[9_000, "P2"] = 6
    with pytest.raises(ScoringInputError) as err:
        score_frame(df)
    assert err.value.rows == (9_001,)


def test_it_orders_the_listed_cells_by_row_then_input_column() -> None:
    df = frame(form(2, P2=5, GP1=5), form(2, GS1=-1))
    df = df[["P2", *[c for c in df.columns if c != "P2"]]]
    with pytest.raises(ScoringInputError) as err:
        score_frame(df)
    assert [(r, c) for r, c, _ in err.value.cells] == [(1, "P2"), (1, "GP1"), (2, "GS1")]
    assert err.value.columns == ("P2", "GP1", "GS1")


def test_it_names_every_missing_required_column() -> None:
    df = frame(form(2)).drop(columns=["GS7", "B9", "GP1"])
    with pytest.raises(ScoringInputError) as err:
        score_frame(df)
    assert err.value.columns == ("GP1", "GS7", "B9")
    assert err.value.rows == ()
    assert "missing required item columns: GP1, GS7, B9" in str(err.value)


def test_it_refuses_a_duplicated_item_column() -> None:
    df = pd.concat([frame(form(2)), frame(form(2))[["GP3"]]], axis=1)
    with pytest.raises(ScoringInputError, match="more than once: GP3"):
        score_frame(df)


def test_it_refuses_a_form_missing_an_item_key() -> None:
    answers = form(2)
    del answers["GF3"]
    with pytest.raises(ScoringInputError, match="GF3"):
        score_form(answers)


# ---------------------------------------------------------- property tests
RESPONSE = st.sampled_from([0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, None, 8, 9])
ANSWER_KEYS = FACTB_ITEMS + ARM_EXTRA + LR[:3]
FORMS = st.fixed_dictionaries(dict.fromkeys(ANSWER_KEYS, RESPONSE))
COMPLETE_FORMS = st.fixed_dictionaries({c: st.integers(0, 4) for c in ANSWER_KEYS})
PROPERTY = settings(max_examples=40, deadline=None)


@PROPERTY
@given(st.lists(FORMS, min_size=1, max_size=12), st.sampled_from(["facit", "factscorer"]))
def test_it_keeps_every_score_within_its_range(
    forms: list[dict[str, Answer]], toi_rule: str
) -> None:
    scored = score_frame(frame(*forms), toi_rule=toi_rule)  # type: ignore[arg-type]
    for name, top in MAXIMUM.items():
        values = scored[name].dropna()
        assert ((values >= 0) & (values <= top)).all(), name


@PROPERTY
@given(FORMS)
def test_it_mirrors_every_score_when_every_response_is_mirrored(
    answers: dict[str, Answer],
) -> None:
    mirrored = {k: (4 - v if v in (0, 1, 2, 3, 4) else v) for k, v in answers.items()}
    a, b = ours(answers, "factscorer"), ours(mirrored, "factscorer")
    for name, top in MAXIMUM.items():
        assert (a[name] is None) == (b[name] is None), name
        if a[name] is not None:
            assert b[name] == pytest.approx(top - a[name], abs=1e-9), name  # type: ignore[operator]


@PROPERTY
@given(FORMS, st.sampled_from(sorted(REVERSED)), st.integers(0, 4))
def test_it_scores_a_reversed_item_as_four_minus_the_response(
    answers: dict[str, Answer], code: str, response: int
) -> None:
    subscale = next((s for s, items in SUBSCALES.items() if code in items), "ARM")
    items = SUBSCALES.get(subscale, ARM)
    got = ours({**answers, code: response})
    other = [
        (4 - v if c in REVERSED else v)
        for c in items
        if c != code and (v := answers[c]) in (0, 1, 2, 3, 4)
    ]
    n_answered = len(other) + 1
    if n_answered * 2 > len(items):
        assert got[subscale] == (sum(other) + 4 - response) * len(items) / n_answered
    else:
        assert got[subscale] is None


@PROPERTY
@given(st.lists(FORMS, min_size=1, max_size=8), st.randoms(use_true_random=False))
def test_it_does_not_depend_on_column_order(
    forms: list[dict[str, Answer]], rnd: random.Random
) -> None:
    df = frame(*forms)
    df.insert(0, "patient", [f"p{i}" for i in range(len(df))])
    df["site"] = "A01"
    shuffled = list(df.columns)
    rnd.shuffle(shuffled)
    pd.testing.assert_frame_equal(score_frame(df[shuffled]), score_frame(df))


@PROPERTY
@given(COMPLETE_FORMS)
def test_it_never_prorates_a_complete_form(answers: dict[str, int]) -> None:
    got = ours(answers)
    plain_sums = {
        name: sum(4 - answers[c] if c in REVERSED else answers[c] for c in items)
        for name, items in {**SUBSCALES, "ARM": ARM}.items()
    }
    for name, value in plain_sums.items():
        assert got[name] == value, name
        assert got[f"{name}_N"] == len(SUBSCALES.get(name, ARM))
    s = plain_sums
    assert got["FACTG"] == s["PWB"] + s["SWB"] + s["EWB"] + s["FWB"]
    assert got["FACTB"] == s["PWB"] + s["SWB"] + s["EWB"] + s["FWB"] + s["BCS"]
    assert got["TOI"] == s["PWB"] + s["FWB"] + s["BCS"]
    assert (got["FACTG_N"], got["FACTB_N"], got["TOI_N"]) == (27, 37, 24)


@PROPERTY
@given(st.lists(FORMS, min_size=1, max_size=10), st.sampled_from(["facit", "factscorer"]))
def test_it_scores_each_row_of_a_frame_as_the_one_form_path_does(
    forms: list[dict[str, Answer]], toi_rule: str
) -> None:
    scored = score_frame(frame(*forms), toi_rule=toi_rule)  # type: ignore[arg-type]
    for i, answers in enumerate(forms):
        one = ours(answers, toi_rule)
        row = {k: nan_to_none(v) for k, v in scored.iloc[i].to_dict().items()}
        assert one == row


@PROPERTY
@given(st.lists(FORMS, min_size=1, max_size=10))
def test_it_makes_each_total_the_plain_sum_of_its_subscale_scores(
    forms: list[dict[str, Answer]],
) -> None:
    s = score_frame(frame(*forms))
    g = s.dropna(subset=["FACTG"])
    assert (g["FACTG"] == g["PWB"] + g["SWB"] + g["EWB"] + g["FWB"]).all()
    b = s.dropna(subset=["FACTB"])
    assert (b["FACTB"] == b["PWB"] + b["SWB"] + b["EWB"] + b["FWB"] + b["BCS"]).all()
    t = s.dropna(subset=["TOI"])
    assert (t["TOI"] == t["PWB"] + t["FWB"] + t["BCS"]).all()


# -------------------------------------------------------------- cross-check
def _random_forms(n: int, seed: int) -> list[dict[str, Answer]]:
    rng = random.Random(seed)
    forms = []
    for _ in range(n):
        p_missing = rng.choice([0.0, 0.05, 0.15, 0.3, 0.5, 0.7])
        answers: dict[str, Answer] = {}
        for code in FACTB_ITEMS + ARM_EXTRA + LR:
            if rng.random() < p_missing:
                answers[code] = rng.choice([None, None, 8, 9])
            else:
                answers[code] = rng.randint(0, 4)
        forms.append(answers)
    return forms


@pytest.mark.parametrize("toi_rule", ["facit", "factscorer"])
def test_it_agrees_with_a_plain_row_by_row_implementation_on_random_forms(
    toi_rule: str,
) -> None:
    forms = _random_forms(6000, seed=20240 + len(toi_rule))  # > one 4096-row kernel block
    scored = score_frame(frame(*forms), toi_rule=toi_rule)  # type: ignore[arg-type]
    records = scored.to_dict("records")
    mismatches = []
    for i, (answers, row) in enumerate(zip(forms, records, strict=True)):
        got = {k: nan_to_none(v) for k, v in row.items()}
        expected = plain_score(answers, toi_rule)
        if got != expected:
            mismatches.append((i, expected, got))
    assert not mismatches, mismatches[:3]
    # The random forms reach both sides of every validity rule.
    for name in [*SUBSCALES, "ARM", "FACTG", "FACTB", "TOI"]:
        assert 0 < scored[name].isna().sum() < len(scored), name
