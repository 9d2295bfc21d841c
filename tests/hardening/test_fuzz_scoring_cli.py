"""Hypothesis fuzzing of ``python -m scoring score``'s input parsing.

Random CSV files (valid 0-4, blanks, 8/9, NA, junk, floats, negative and very
long numbers, unicode, quotes/commas/newlines in quoted cells, pass-through
columns, missing/duplicated/partial item columns, score-name clashes, ragged
rows, empty files, header-only files) go through ``scoring.cli.main``. The
property, checked against an oracle written from the documented rules:

* every item cell valid → exit 0, one output row per input row, the pass-through
  cells unchanged, counts right, every score within its range and equal to
  :func:`scoring.facit.score_form` on the same answers;
* otherwise → exit 2, a message naming the offending rows/columns on stderr,
  no output file (nor a partial one);
* never an uncaught exception.

The oracle's rules: surrounding ASCII whitespace is ignored; blank, ``NA``, 8
and 9 are missing; a plain decimal numeral (sign, digits, optional point; no
exponent) whose exact value is a whole number 0-4 is an answer; anything else
is invalid. Three departures this fuzzer found (a control character read
differently by the two parsing paths, long decimals rounded before the
whole-number check, an unquoted carriage return in the fallback CSV writer)
were fixed and are pinned by the regression tests at the end.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from scoring.cli import main
from scoring.csvsafe import escape_text
from scoring.facit import COUNT_COLUMNS, SCORE_COLUMNS, score_form
from scoring.instruments import (
    ARM_ITEM_CODES,
    ARM_SUBSCALE,
    FACT_B_V4,
    FACTB_ITEM_CODES,
    LR_ITEM_CODES,
)

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=False,
)

REQUIRED = tuple(FACTB_ITEM_CODES)
ITEM_CODES = frozenset((*REQUIRED, *ARM_ITEM_CODES, *LR_ITEM_CODES))
ASCII_SPACE = " \t\r\n\v\f"
NUMERAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)", re.ASCII)
MISSING, INVALID = "missing", "invalid"
SCORE_DEFS = {c: FACT_B_V4.score(c) for c in SCORE_COLUMNS} | {"ARM": ARM_SUBSCALE}


def oracle(cell: str) -> int | str:
    """What a CSV item cell means: 0-4, MISSING or INVALID (from the documented rules)."""
    text = cell.strip(ASCII_SPACE)
    if text in ("", "NA"):
        return MISSING
    if not NUMERAL.fullmatch(text):
        return INVALID
    value = Decimal(text)
    if value != value.to_integral_value():
        return INVALID
    whole = int(value)
    if 0 <= whole <= 4:
        return whole
    return MISSING if whole in (8, 9) else INVALID


# ---------------------------------------------------------------------- strategies
# Text without the characters Python's str.strip() treats as whitespace beyond ASCII
# (those are one of the two known departures), plus the CSV-hostile characters.
_CHARS = st.one_of(
    st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
    st.sampled_from([",", '"', "'", ";", "\n", "\r", " ", "\t", "\\"]),
)
TEXT = st.text(_CHARS, max_size=12)
PAD = st.text(st.sampled_from(list(ASCII_SPACE)), max_size=2)
LONG = st.integers(300, 3000).flatmap(
    lambda n: st.sampled_from(["0" * n + "3", "9" * n, "x" * n, "3." + "0" * n, "ñ" * n])
)
JUNK = st.sampled_from(
    ["1e0", "3e0", "3E0", "nan", "NaN", "inf", "-inf", "Infinity", "na", "N/A", "null", "None",
     "abc", "٣", "３", "½", "²", "3,0", "3 4", "--3", "+-3", "3..0", "0x3", "1_0", "True",
     "'3'", '"3"', "3-", ".", "+", "-", "NA NA", "NAN", "\\N", "#N/A"]
)  # fmt: skip


@st.composite
def numeral(draw: st.DrawFn) -> str:
    value = draw(st.one_of(st.sampled_from([0, 1, 2, 3, 4, 8, 9]), st.integers(-50, 300)))
    sign = "-" if value < 0 else draw(st.sampled_from(["", "", "+", "-"]))
    body = "0" * draw(st.integers(0, 2)) + str(abs(value))
    frac = draw(st.sampled_from(["", "", ".", ".0", ".00", ".5", ".25", ".000001"]))
    return draw(PAD) + sign + body + frac + draw(PAD)


RICH_CELL = st.one_of(
    st.sampled_from(["", "NA", " NA ", "8", "9", " ", "\t", "\n", "8.0", "09", "3.0", " 3 "]),
    numeral(),
    st.floats().map(str),  # "2.5", "-0.0", "1e-05", "nan", "inf", "3.0" ...
    st.integers(-(10**6), -1).map(str),
    JUNK,
    LONG,
    TEXT,
)
PLAIN_CELL = st.sampled_from(["0", "1", "2", "3", "4"])
PASS_NAME = st.one_of(
    st.sampled_from(["id", "note", "", "visit date", "x,y", 'q"t', "ñandú", "a\nb"]),
    TEXT.map(lambda s: "x" + s),
)


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    empty: bool = False
    bom: bool = False
    ragged_row: int | None = None  # index of a row with a cell too many or too few
    notes: list[str] = field(default_factory=list)


#: How a table goes wrong, if it does (Hypothesis favours small integers, so the mix
#: is set by repetition here rather than by ``integers() == 0`` tests).
SHAPES = ["ok"] * 12 + ["missing", "duplicate item", "partial arm", "clash", "ragged", "empty"]
#: Valid-only interesting cells for half the "ok" tables, so about half the examples score.
VALID_CELL = st.one_of(
    st.sampled_from(["", "NA", " NA ", "8", "9", " ", "\t", "\n", "8.0", "09", "3.0", " 3 ", "4."]),
    st.sampled_from([0, 1, 2, 3, 4, 8, 9]).flatmap(
        lambda v: st.tuples(PAD, st.sampled_from(["", "+", "0", "00"]), PAD).map(
            lambda t: f"{t[0]}{t[1]}{v}{t[2]}"
        )
    ),
    st.integers(300, 3000).map(lambda n: "0" * n + "2"),
)


@st.composite
def tables(draw: st.DrawFn) -> Table:
    shape = draw(st.sampled_from(SHAPES))
    if shape == "empty":
        return Table([], [], empty=True, bom=draw(st.booleans()))
    notes: list[str] = []
    items = list(REQUIRED)
    if shape == "missing":
        for code in draw(st.lists(st.sampled_from(REQUIRED), min_size=1, max_size=25, unique=True)):
            items.remove(code)
    arm = "partial" if shape == "partial arm" else draw(st.sampled_from(["none", "all"]))
    if arm == "all":
        items += ARM_ITEM_CODES
    elif arm == "partial":
        items += draw(
            st.lists(st.sampled_from(ARM_ITEM_CODES), min_size=1, max_size=3, unique=True)
        )
    items += draw(st.lists(st.sampled_from(LR_ITEM_CODES), max_size=3, unique=True))
    passthrough = draw(st.lists(PASS_NAME, max_size=3))
    if shape == "duplicate item":
        items.append(draw(st.sampled_from(items)))
    elif shape == "clash":  # a pass-through column named like an output column
        passthrough.append(draw(st.sampled_from([*SCORE_COLUMNS, *COUNT_COLUMNS, "ARM", "ARM_N"])))
    elif passthrough and draw(st.sampled_from([False] * 7 + [True])):
        passthrough.append(draw(st.sampled_from(passthrough)))  # duplicated pass-through name
    duplicated = len(set(passthrough)) < len(passthrough)
    if duplicated:
        notes.append("duplicated pass-through")
    header = draw(st.permutations(items + passthrough))

    n_rows = draw(st.integers(0, 6))
    rows = []
    for _ in range(n_rows):
        rows.append([draw(PLAIN_CELL) if h in ITEM_CODES else draw(TEXT) for h in header])
    if rows and header:
        item_positions = [i for i, h in enumerate(header) if h in ITEM_CODES]
        cells = VALID_CELL if shape == "ok" and draw(st.booleans()) else RICH_CELL
        for _ in range(draw(st.integers(0 if cells is VALID_CELL else 1, 4))):  # interesting cells
            r = draw(st.integers(0, n_rows - 1))
            if item_positions and draw(st.sampled_from([True] * 4 + [False])):
                c = draw(st.sampled_from(item_positions))
            else:
                c = draw(st.integers(0, len(header) - 1))
            rows[r][c] = draw(cells if header[c] in ITEM_CODES else RICH_CELL)
        if item_positions and draw(st.sampled_from([False] * 5 + [True])):  # a mostly blank column
            c = draw(st.sampled_from(item_positions))
            for row in rows:
                row[c] = draw(st.sampled_from(["", "", "NA", "9", "3"]))
    ragged = None
    if shape == "ragged" and rows:
        ragged = draw(st.integers(0, n_rows - 1))
        if draw(st.booleans()):
            rows[ragged] = rows[ragged][:-1]
        else:
            rows[ragged] = [*rows[ragged], "extra"]
    bom = draw(st.sampled_from([False] * 9 + [True]))
    return Table(list(header), rows, bom=bom, ragged_row=ragged, notes=notes)


def write(table: Table, path: Path) -> None:
    buffer = io.StringIO(newline="")
    if not table.empty:
        writer = csv.writer(buffer)
        writer.writerow(table.header)
        writer.writerows(table.rows)
    path.write_text(
        ("\ufeff" if table.bom else "") + buffer.getvalue(), encoding="utf-8", newline=""
    )


# ------------------------------------------------------------------------ the oracle
@dataclass
class Expected:
    ok: bool
    names: list[str] = field(default_factory=list)  # substrings stderr must contain


def _first(values: Sequence[str], n: int = 20) -> list[str]:
    return list(values[:n])


def expected_outcome(table: Table) -> Expected:
    if table.empty:
        return Expected(False, ["empty file"])
    if table.ragged_row is not None:
        return Expected(False, ["cannot be read as csv"])
    header = table.header
    seen: set[str] = set()
    dup = []
    for h in header:
        if h in ITEM_CODES and h in seen and h not in dup:
            dup.append(h)
        seen.add(h)
    if dup:
        return Expected(False, ["item columns appear more than once", *_first(dup)])
    missing = [c for c in REQUIRED if c not in seen]
    if missing:
        return Expected(False, ["missing required item columns", *_first(missing)])
    arm_present = [c for c in ARM_ITEM_CODES if c in seen]
    if arm_present and len(arm_present) < len(ARM_ITEM_CODES):
        absent = [c for c in ARM_ITEM_CODES if c not in seen]
        return Expected(False, ["incomplete FACT-B+4 arm items", *absent])
    bad = [
        (r, c, h)
        for r, row in enumerate(table.rows)
        for c, h in enumerate(header)
        if h in ITEM_CODES and oracle(row[c]) == INVALID
    ]
    if bad:
        first_row, _, first_code = bad[0]
        columns = sorted({h for _, _, h in bad}, key=header.index)
        return Expected(
            False,
            [
                f"in {len({r for r, _, _ in bad})} data row",
                f"row {first_row + 1}, column {first_code}: ",
                f"columns with invalid responses: {', '.join(columns)}",
            ],
        )
    outputs = set(SCORE_COLUMNS) | set(COUNT_COLUMNS)
    if arm_present:
        outputs |= {"ARM", "ARM_N"}
    clash = sorted({h for h in header if h not in ITEM_CODES and h in outputs})
    if clash:
        return Expected(False, ["have the names of score columns", *clash])
    return Expected(True)


def check_scored(table: Table, out: Path) -> None:
    header = table.header
    with out.open(newline="", encoding="utf-8") as fh:
        records = list(csv.reader(fh))
    passthrough = [i for i, h in enumerate(header) if h not in ITEM_CODES]
    arm = all(c in header for c in ARM_ITEM_CODES)
    score_names = [*SCORE_COLUMNS, *(["ARM"] if arm else [])]
    count_names = [*COUNT_COLUMNS, *(["ARM_N"] if arm else [])]
    lr = [c for c in LR_ITEM_CODES if c in header]
    assert records[0] == [header[i] for i in passthrough] + score_names + count_names + lr
    assert len(records) - 1 == len(table.rows)  # one output row per input row

    for row, record in zip(table.rows, records[1:], strict=True):
        # Pass-through text comes back as it was, formula-like text with a leading "'"
        # (scoring.csvsafe: spreadsheets must not run it).
        assert record[: len(passthrough)] == [escape_text(row[i]) for i in passthrough]
        got = dict(zip(records[0][len(passthrough) :], record[len(passthrough) :], strict=True))
        values = {h: oracle(row[i]) for i, h in enumerate(header) if h in ITEM_CODES}
        answers = {h: (None if v == MISSING else v) for h, v in values.items()}
        want = score_form(answers)
        for name in score_names:
            definition = SCORE_DEFS[name]
            answered = sum(answers[c] is not None for c in definition.items)
            assert int(got[f"{name}_N"]) == answered == want[f"{name}_N"], name
            if want[name] is None:
                assert got[name] == "", name
            else:
                score = float(got[name])
                assert score == want[name], name
                assert 0 <= score <= 4 * definition.n_items, name
        for code in lr:
            assert got[code] == ("" if answers[code] is None else str(answers[code])), code


# ------------------------------------------------------------------------- property
def run_cli(table: Table) -> tuple[int, str, str, Path, Path]:
    workdir = Path(tempfile.mkdtemp(prefix="fuzz-score-"))
    src, out = workdir / "in.csv", workdir / "out.csv"
    write(table, src)
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = main(["score", str(src), "-o", str(out)])  # an exception fails the test
    return status, stdout.getvalue(), stderr.getvalue(), src, out


@FUZZ
@given(tables())
def test_the_scoring_command_line_accepts_exactly_the_valid_tables(table: Table) -> None:
    expected = expected_outcome(table)
    event("scored" if expected.ok else f"exit 2: {expected.names[0].split(',')[0]}")
    status, stdout, stderr, src, out = run_cli(table)
    try:
        if expected.ok:
            assert (status, stderr) == (0, ""), stderr
            assert f"scored {len(table.rows)} form" in stdout
            check_scored(table, out)
        else:
            assert status == 2, (status, stdout)
            assert stderr.startswith("python -m scoring score: error: "), stderr
            for name in expected.names:
                assert name in stderr, (name, stderr)
            assert not out.exists()
            assert sorted(p.name for p in src.parent.iterdir()) == ["in.csv"]  # no partial file
    finally:
        for path in src.parent.iterdir():
            path.unlink()
        src.parent.rmdir()


@pytest.mark.parametrize(
    ("cell", "meaning"),
    [("3.0", 3), (" 3 ", 3), ("+2", 2), ("03", 3), ("4.", 4), (".0", 0), ("-0", 0), ("8", MISSING),
     ("9.0", MISSING), ("NA", MISSING), (" ", MISSING), ("", MISSING), ("1e0", INVALID),
     ("nan", INVALID), ("inf", INVALID), ("2.5", INVALID), ("-1", INVALID), ("5", INVALID),
     ("na", INVALID), ("٣", INVALID), ("3,0", INVALID)],
)  # fmt: skip
def test_the_oracle_agrees_with_the_documented_examples(cell: str, meaning: int | str) -> None:
    assert oracle(cell) == meaning


# ----------------------------------------------------------- regressions found by fuzzing
def _one_form(path: Path, gp1: Sequence[str]) -> tuple[int, str]:
    rows = [[cell, *["2"] * (len(REQUIRED) - 1)] for cell in gp1]
    write(Table(list(REQUIRED), rows), path / "in.csv")
    stderr = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(stderr):
        status = main(["score", str(path / "in.csv"), "-o", str(path / "out.csv")])
    return status, stderr.getvalue()


def test_a_control_character_cell_means_the_same_whatever_the_rest_of_its_column(tmp_path):
    alone = _one_form(tmp_path, ["\x1c"])[0]
    with_longer_cell = _one_form(tmp_path, ["\x1c", " 2"])[0]
    assert alone == with_longer_cell


def test_a_decimal_that_is_not_a_whole_number_is_refused_even_when_it_rounds_to_one(tmp_path):
    status, stderr = _one_form(tmp_path, ["2.9999999999999999"])
    assert status == 2
    assert "row 1, column GP1" in stderr


def test_a_carriage_return_in_a_duplicated_pass_through_column_keeps_one_row(tmp_path):
    header = ["id", "id", *REQUIRED]
    write(Table(header, [["a\rb", "c", *["2"] * len(REQUIRED)]]), tmp_path / "in.csv")
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["score", str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.csv")]) == 0
    with (tmp_path / "out.csv").open(newline="", encoding="utf-8") as fh:
        records = list(csv.reader(fh))
    assert len(records) == 2
    assert records[1][:2] == ["a\rb", "c"]
