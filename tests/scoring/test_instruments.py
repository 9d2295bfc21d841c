"""Instrument definitions against docs/scoring.md, typed in here independently."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from scoring import instruments as ins

ROOT = Path(__file__).resolve().parents[2]

PWB = tuple(f"GP{i}" for i in range(1, 8))
SWB = tuple(f"GS{i}" for i in range(1, 8))
EWB = tuple(f"GE{i}" for i in range(1, 7))
FWB = tuple(f"GF{i}" for i in range(1, 8))
BCS = (*(f"B{i}" for i in range(1, 10)), "P2")
ARM_EXTRA = ("B10", "B11", "B12", "B13")
LR = tuple(f"LR{i}" for i in range(1, 10))
# docs/scoring.md "Items and reversal keys" + the FACT-B+4 arm items.
REVERSED = {
    *PWB,
    "GE1", "GE3", "GE4", "GE5", "GE6",
    "B1", "B2", "B3", "B5", "B6", "B7", "B8", "P2",
    *ARM_EXTRA,
}  # fmt: skip


def test_it_lists_the_37_factb_items_in_form_order() -> None:
    assert ins.FACTB_ITEM_CODES == PWB + SWB + EWB + FWB + BCS
    assert ins.FACT_B_V4.item_codes == ins.FACTB_ITEM_CODES


def test_it_orders_the_e2108_form_sections_pwb_swb_ewb_fwb_bcs_then_lr() -> None:
    sections = ins.form_sections(ins.E2108_FORM)
    assert [s.code for s in sections] == ["PWB", "SWB", "EWB", "FWB", "BCS", "LR"]
    assert sections[4].title_en == "Additional concerns"
    assert [c for s in sections for c in s.items] == [*ins.FACTB_ITEM_CODES, *LR]


def test_it_puts_the_arm_items_after_additional_concerns_in_fact_b_plus_4() -> None:
    plus4 = ins.get_instrument("FACT-B+4")
    assert [s.code for s in plus4.sections] == ["PWB", "SWB", "EWB", "FWB", "BCS", "ARM"]
    assert plus4.item_codes == ins.FACTB_ITEM_CODES + ARM_EXTRA


def test_it_knows_every_item_code_once() -> None:
    assert ins.ALL_ITEM_CODES == ins.FACTB_ITEM_CODES + ARM_EXTRA + LR
    assert len(set(ins.ALL_ITEM_CODES)) == 50
    assert set(ins.ITEMS) == set(ins.ALL_ITEM_CODES)


@pytest.mark.parametrize("code", PWB + SWB + EWB + FWB + BCS + ARM_EXTRA + LR)
def test_it_reverses_exactly_the_items_factb_md_keys_as_reversed(code: str) -> None:
    assert ins.get_item(code).reversed is (code in REVERSED)


@pytest.mark.parametrize(
    ("subscale", "items"),
    [("PWB", PWB), ("SWB", SWB), ("EWB", EWB), ("FWB", FWB), ("BCS", BCS), ("ARM", ARM_EXTRA),
     ("LR", LR)],
)  # fmt: skip
def test_it_files_each_item_under_its_subscale(subscale: str, items: tuple[str, ...]) -> None:
    assert {ins.get_item(c).subscale for c in items} == {subscale}


@pytest.mark.parametrize(
    ("code", "items", "min_answered", "top"),
    [
        ("PWB", PWB, 4, 28),
        ("SWB", SWB, 4, 28),
        ("EWB", EWB, 4, 24),
        ("FWB", FWB, 4, 28),
        ("BCS", BCS, 6, 40),
        ("FACTG", PWB + SWB + EWB + FWB, 22, 108),
        ("FACTB", PWB + SWB + EWB + FWB + BCS, 30, 148),
        ("TOI", PWB + FWB + BCS, 20, 96),
        ("ARM", ("B3", *ARM_EXTRA), 3, 20),
    ],
)
def test_it_defines_each_score_with_factb_md_items_rule_and_range(
    code: str, items: tuple[str, ...], min_answered: int, top: int
) -> None:
    score = ins.get_score(code)
    assert score.items == items
    assert score.min_answered == min_answered
    assert score.range == (0, top)
    assert score.higher_is_better


@pytest.mark.parametrize("code", ["PWB", "SWB", "EWB", "FWB", "BCS", "ARM"])
def test_it_scores_a_subscale_only_above_half_its_items(code: str) -> None:
    score = ins.get_score(code)
    assert score.kind == "subscale"
    assert 2 * score.min_answered > score.n_items >= 2 * (score.min_answered - 1)
    assert score.range == (0, 4 * score.n_items)


@pytest.mark.parametrize("code", ["FACTG", "FACTB", "TOI"])
def test_it_scores_a_total_only_above_80_percent_of_its_items(code: str) -> None:
    score = ins.get_score(code)
    assert score.kind == "total"
    assert 5 * score.min_answered > 4 * score.n_items >= 5 * (score.min_answered - 1)
    component_items = [c for comp in score.components for c in ins.get_score(comp).items]
    assert list(score.items) == component_items
    assert score.range[1] == sum(ins.get_score(c).range[1] for c in score.components)


def test_it_builds_the_totals_from_the_factb_md_components() -> None:
    assert ins.get_score("FACTG").components == ("PWB", "SWB", "EWB", "FWB")
    assert ins.get_score("FACTB").components == ("PWB", "SWB", "EWB", "FWB", "BCS")
    assert ins.get_score("TOI").components == ("PWB", "FWB", "BCS")


def test_it_marks_only_gs7_as_optional() -> None:
    assert [c for c in ins.ALL_ITEM_CODES if ins.get_item(c).optional] == ["GS7"]


def test_it_ships_the_lr_items_as_unreversed_symptom_items_scored_one_by_one() -> None:
    lr = ins.get_instrument("E2108-LR")
    assert lr.item_codes == LR
    for score in lr.scores:
        assert score.kind == "item"
        assert score.items == (score.code,)
        assert score.range == (0, 4)
        assert score.higher_is_better is False


def test_it_gives_every_item_a_short_english_and_spanish_label() -> None:
    for lang in ("label_en", "label_es"):
        labels = [getattr(ins.get_item(c), lang) for c in ins.ALL_ITEM_CODES]
        assert all(0 < len(label) <= 70 for label in labels), lang
        assert len(set(labels)) == len(labels), lang
    english = [ins.get_item(c).label_en for c in ins.ALL_ITEM_CODES]
    # The licensed items are first-person sentences ("I have ..."); ours are not.
    assert not [s for s in english if s.startswith(("I ", "My ", "I'm "))]


def test_it_ships_the_0_to_4_response_scale_in_english_and_spanish() -> None:
    assert ins.RESPONSE_VALUES == (0, 1, 2, 3, 4)
    assert [o.label_en for o in ins.RESPONSE_SCALE] == [
        "Not at all", "A little bit", "Somewhat", "Quite a bit", "Very much",
    ]  # fmt: skip
    assert all(o.label_es for o in ins.RESPONSE_SCALE)
    assert {8, 9} == ins.MISSING_CODES


def test_it_looks_up_instruments_by_code_and_version() -> None:
    assert ins.get_instrument("FACT-B") is ins.FACT_B_V4
    assert ins.get_instrument("FACT-B", "4") is ins.FACT_B_V4
    assert ins.get_instrument("E2108-LR").version == "draft-1"
    with pytest.raises(KeyError, match="unknown instrument"):
        ins.get_instrument("FACT-X")
    with pytest.raises(KeyError, match="version '3'"):
        ins.get_instrument("FACT-B", "3")


def test_it_raises_key_error_for_unknown_items_and_scores() -> None:
    with pytest.raises(KeyError, match="GP8"):
        ins.get_item("GP8")
    with pytest.raises(KeyError, match="QOL"):
        ins.get_score("QOL")
    with pytest.raises(KeyError, match="GP8"):
        ins.FACT_B_V4.item("GP8")
    with pytest.raises(KeyError, match="ARM"):
        ins.FACT_B_V4.score("ARM")


def test_it_keeps_definitions_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        ins.get_item("GP1").reversed = False  # type: ignore[misc]
    with pytest.raises(TypeError):
        ins.INSTRUMENTS["X"] = ins.FACT_B_V4  # type: ignore[index]


def test_it_rejects_an_instrument_whose_sections_do_not_match_its_items() -> None:
    gp1 = ins.get_item("GP1")
    with pytest.raises(ValueError, match="sections"):
        ins.Instrument("X", "1", "x", "x", (gp1,), (ins.Section("S", "s", "s", ()),), ())
    with pytest.raises(ValueError, match="duplicate"):
        ins.Instrument("X", "1", "x", "x", (gp1, gp1), (), ())
    with pytest.raises(ValueError, match="unknown items"):
        ins.Instrument(
            "X", "1", "x", "x", (gp1,), (ins.Section("S", "s", "s", ("GP1",)),),
            (ins.get_score("PWB"),),
        )  # fmt: skip


def test_it_imports_the_scoring_package_without_django() -> None:
    code = (
        "import sys; import scoring.instruments, scoring.facit, scoring.cli_score; "
        "assert not [m for m in sys.modules if m.split('.')[0] == 'django'], 'django imported'"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
