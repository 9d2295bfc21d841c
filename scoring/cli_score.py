"""``python -m scoring score INPUT -o OUTPUT [--toi-rule facit|factscorer]``.

Reads a wide table of completed FACT-B forms (CSV or Parquet, by extension),
writes the pass-through columns first, in their original order, then
``PWB SWB EWB FWB BCS FACTG FACTB TOI`` (+ ``ARM``), then the items-answered
counts ``PWB_N … TOI_N`` (+ ``ARM_N``), then any E2108 items ``LR1 … LR9``.
Exit status 2, a message on stderr and no output file for bad input.

Start-up matters here (a 200,000-row file is scored in well under a second),
so this command never imports scipy or statsmodels, and a CSV-to-CSV run
never imports pandas: it reads, scores and writes Arrow tables
(:func:`scoring.io.read_csv_arrow`, :func:`scoring.facit.score_arrow`,
:func:`scoring.io.write_csv_arrow`), which give the same output bytes and the
same error messages as the DataFrame path used for Parquet and for the
rare CSV the Arrow reader cannot take.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scoring.facit import SCORING_VERSION, ScoringInputError, score_arrow, score_frame
from scoring.instruments import ALL_ITEM_CODES
from scoring.io import (
    TableReadError,
    frame_from_arrow,
    read_csv_arrow,
    read_table,
    table_format,
    write_csv_arrow,
    write_table,
)

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

EXIT_OK = 0
EXIT_BAD_INPUT = 2


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``score`` command on the ``python -m scoring`` dispatcher."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "score",
        help="score FACT-B forms (PWB ... TOI) from a CSV or Parquet table",
        description=(
            "Score FACT-B v4 forms: one row per form, item codes (GP1 ... P2; optionally "
            "B10-B13 and LR1-LR9) as columns. Other columns pass through first, unchanged "
            "(in a CSV, text that begins with = + - @ gets a leading ' so that spreadsheets "
            "do not run it as a formula). "
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


def _write_atomically(write: Callable[[Path], None], output: Path) -> None:
    """Write next to OUTPUT, then rename: never leave a half-written file."""
    tmp = output.with_name(f".{output.stem}.{os.getpid()}.partial{output.suffix}")
    try:
        write(tmp)
        os.replace(tmp, output)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _clash(input_name: str, passthrough: list[str], scores: list[str]) -> str | None:
    names = set(scores)
    clash = sorted({str(c) for c in passthrough if c in names})
    if not clash:
        return None
    return (
        f"{input_name}: input columns {', '.join(clash)} have the names of score "
        "columns this command writes; rename or drop them"
    )


def _done(n: int, toi_rule: str, output: Path) -> int:
    print(
        f"scored {n} form{'s' if n != 1 else ''} ({SCORING_VERSION}, TOI rule "
        f"{toi_rule}) -> {output}"
    )
    return EXIT_OK


def _run_arrow(args: argparse.Namespace, table: pa.Table, output: Path) -> int | None:
    """CSV to CSV without pandas; None when the DataFrame path must decide instead.

    That is the case for duplicate column names, which the DataFrame path
    writes with pandas' own CSV writer.
    """
    import pyarrow as pa

    names = list(table.column_names)
    if len(set(names)) != len(names):
        return None
    try:
        scores = score_arrow(table, toi_rule=args.toi_rule)
    except ScoringInputError as exc:
        return _fail(f"{args.input}: {exc}")
    items = set(ALL_ITEM_CODES)
    passthrough = [n for n in names if n not in items]
    score_names = [name for name, _ in scores]
    problem = _clash(args.input, passthrough, score_names)
    if problem:
        return _fail(problem)
    if len(set(passthrough) | set(score_names)) != len(passthrough) + len(score_names):
        return None
    result = pa.table(
        [*(table.column(n) for n in passthrough), *(array for _, array in scores)],
        names=[*passthrough, *score_names],
    )
    try:
        _write_atomically(lambda tmp: write_csv_arrow(result, tmp), output)
    except (OSError, ValueError, TypeError, NotImplementedError) as exc:
        return _fail(f"{output}: cannot write: {exc}")
    return _done(result.num_rows, args.toi_rule, output)


def run(args: argparse.Namespace) -> int:
    """Score ``args.input`` into ``args.output``; return the exit status."""
    output = Path(args.output)
    df: pd.DataFrame | None = None
    try:
        out_format = table_format(output)
        table = read_csv_arrow(args.input) if table_format(args.input) == "csv" else None
        if table is None:  # Parquet, or a CSV header only pandas' parser reads right
            df = read_table(args.input)
    except TableReadError as exc:
        return _fail(str(exc))
    if not output.parent.is_dir():
        return _fail(f"{output}: cannot write, no such directory {str(output.parent)!r}")
    if table is not None and out_format == "csv":
        status = _run_arrow(args, table, output)
        if status is not None:
            return status

    import pandas as pd

    if df is None:
        assert table is not None
        df = frame_from_arrow(table)
    try:
        scores = score_frame(df, toi_rule=args.toi_rule)
    except ScoringInputError as exc:
        return _fail(f"{args.input}: {exc}")

    items = set(ALL_ITEM_CODES)
    keep = [c not in items for c in df.columns]
    passthrough = df.loc[:, keep]
    problem = _clash(args.input, list(passthrough.columns), list(scores.columns))
    if problem:
        return _fail(problem)
    result: pd.DataFrame = pd.concat([passthrough, scores], axis=1)
    try:
        _write_atomically(lambda tmp: write_table(result, tmp), output)
    except (OSError, ValueError, TypeError, NotImplementedError) as exc:
        return _fail(f"{output}: cannot write: {exc}")
    return _done(len(result), args.toi_rule, output)
