"""``python -m scoring compare SCORES -o RESULTS``: arm comparisons (see scoring/README.md)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from scoring.io import TableReadError, read_table, table_format, write_table

EXIT_OK = 0
EXIT_BAD_INPUT = 2


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``compare`` subcommand on the dispatcher's subparsers."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "compare",
        help="compare the two arms: Wilcoxon on scores, t tests on change from baseline",
        description=(
            "Compare the two arms at each visit (Wilcoxon rank-sum, as R's wilcox.test) "
            "and on change from baseline (pooled and Welch t tests, as R's t.test). "
            "SCORES is long format: one row per participant per visit."
        ),
    )
    parser.add_argument("scores", metavar="SCORES", help="score table (.csv or .parquet)")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="RESULTS",
        help="where to write the results (.csv or .parquet)",
    )
    parser.add_argument(
        "--id",
        dest="id_col",
        default="participant_id",
        help="participant id column (default: participant_id)",
    )
    parser.add_argument(
        "--arm", dest="arm_col", default="arm", help="arm column; exactly two arms (default: arm)"
    )
    parser.add_argument(
        "--visit", dest="visit_col", default="visit", help="visit column (default: visit)"
    )
    parser.add_argument(
        "--baseline",
        default="baseline",
        help="visit label of the baseline visit (default: baseline)",
    )
    parser.add_argument(
        "--measures",
        default=None,
        metavar="LIST",
        help="comma-separated score columns, e.g. TOI,FACTB,FACTG,BCS (default: whichever "
        "of PWB SWB EWB FWB BCS FACTG FACTB TOI ARM LR1..LR9 are present)",
    )
    parser.set_defaults(run=run)
    return parser


def _fail(message: str) -> int:
    print(f"compare: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _write_atomically(results: Any, output: Path) -> None:
    """Write next to the target, then rename: a failed write leaves no partial file."""
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{output.name}.", suffix=output.suffix, dir=output.parent
    )
    os.close(fd)
    try:
        write_table(results, tmp_name)
        os.replace(tmp_name, output)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def run(args: argparse.Namespace) -> int:
    # Imported here so that `python -m scoring score` never loads scipy.
    from scoring.compare import CompareInputError, compare

    output = Path(args.output)
    try:
        table_format(output)
    except TableReadError as exc:
        return _fail(f"output {exc}")
    if not output.parent.is_dir():
        return _fail(f"output directory {str(output.parent)!r} does not exist")
    measures = None
    if args.measures is not None:
        measures = [m.strip() for m in args.measures.split(",") if m.strip()]
        if not measures:
            return _fail("--measures is empty")
    try:
        scores = read_table(args.scores)
    except TableReadError as exc:
        return _fail(str(exc))
    try:
        results = compare(
            scores,
            id_col=args.id_col,
            arm_col=args.arm_col,
            visit_col=args.visit_col,
            baseline=args.baseline,
            measures=measures,
        )
    except CompareInputError as exc:
        return _fail(f"{args.scores}: {exc}")
    try:
        _write_atomically(results, output)
    except OSError as exc:
        return _fail(f"cannot write {output}: {exc.strerror or exc}")
    print(f"compare: wrote {len(results)} rows to {output}")
    return EXIT_OK
