"""Command line entry point dispatching to the ``score`` and ``compare`` commands."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from scoring import cli_compare, cli_score


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scoring",
        description="FACT-B scoring and E2108 arm comparisons.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    cli_score.add_parser(sub)
    cli_compare.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.run(args))
