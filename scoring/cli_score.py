"""``python -m scoring score INPUT -o OUTPUT [--toi-rule facit|factscorer]``.

Reads a wide table of completed FACT-B forms (CSV or Parquet, by extension),
writes the pass-through columns first, in their original order, then
``PWB SWB EWB FWB BCS FACTG FACTB TOI`` (+ ``ARM``), then the items-answered
counts ``PWB_N … TOI_N`` (+ ``ARM_N``), then any E2108 items ``LR1 … LR9``.
Exit status 2, a message on stderr and no output file for bad input.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from scoring.facit import SCORING_VERSION, ScoringInputError, score_frame
from scoring.instruments import ALL_ITEM_CODES
from scoring.io import TableReadError, read_table, table_format, write_table

EXIT_OK = 0
EXIT_BAD_INPUT = 2


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``score`` command on the ``python -m scoring`` dispatcher."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "score",
        help="score FACT-B forms (PWB ... TOI) from a CSV or Parquet table",
        description=(
            "Score FACT-B v4 forms: one row per form, item codes (GP1 ... P2; optionally "
            "B10-B13 and LR1-LR9) as columns. Other columns pass through first, unchanged. "
            "Missing: blank/NA, 8 or 9; any other value outside 0-4 is an error (exit 2)."
        ),
    )
    parser.add_argument("input", metavar="INPUT", help="input table, .csv or .parquet")
    parser.add_argument(
        "-o", "--output", required=True, metavar="OUTPUT", help="output table, .csv or .parquet"
    )
    parser.add_argument(
        "--toi-rule",
        choices=("facit", "factscorer"),
        default="facit",
        help=(
            "facit (default): the TOI also needs more than 80%% of its 24 items answered; "
            "factscorer: only PWB, FWB and BCS must be scored, as in FACTscorer"
        ),
    )
    parser.set_defaults(run=run)
    return parser


def _fail(message: str) -> int:
    print(f"python -m scoring score: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _write_atomically(df: pd.DataFrame, output: Path) -> None:
    """Write next to OUTPUT, then rename: never leave a half-written file."""
    tmp = output.with_name(f".{output.stem}.{os.getpid()}.partial{output.suffix}")
    try:
        write_table(df, tmp)
        os.replace(tmp, output)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def run(args: argparse.Namespace) -> int:
    """Score ``args.input`` into ``args.output``; return the exit status."""
    output = Path(args.output)
    try:
        table_format(output)
        df = read_table(args.input)
    except TableReadError as exc:
        return _fail(str(exc))
    if not output.parent.is_dir():
        return _fail(f"{output}: cannot write, no such directory {str(output.parent)!r}")

    try:
        scores = score_frame(df, toi_rule=args.toi_rule)
    except ScoringInputError as exc:
        return _fail(f"{args.input}: {exc}")

    items = set(ALL_ITEM_CODES)
    keep = [c not in items for c in df.columns]
    passthrough = df.loc[:, keep]
    clash = sorted({str(c) for c in passthrough.columns if c in scores.columns})
    if clash:
        return _fail(
            f"{args.input}: input columns {', '.join(clash)} have the names of score "
            "columns this command writes; rename or drop them"
        )
    result = pd.concat([passthrough, scores], axis=1)
    try:
        _write_atomically(result, output)
    except (OSError, ValueError, TypeError, NotImplementedError) as exc:
        return _fail(f"{output}: cannot write: {exc}")
    n = len(result)
    print(
        f"scored {n} form{'s' if n != 1 else ''} ({SCORING_VERSION}, TOI rule "
        f"{args.toi_rule}) -> {output}"
    )
    return EXIT_OK
