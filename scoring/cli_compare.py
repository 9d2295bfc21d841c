"""``python -m scoring compare SCORES -o RESULTS``: arm comparisons (see scoring/README.md).

Besides RESULTS (the paper's tests, with Holm-adjusted p-values), the command
writes by default, next to RESULTS:

* ``RESULTS.mmrm.csv`` (same extension as RESULTS): the MMRM of change from
  baseline for each scale score analysed (``--no-mmrm`` to skip,
  ``--mmrm-output`` to name the file);
* ``RESULTS.ttd.csv``: time to deterioration by the lower Eton MID for TOI,
  FACT-B, FACT-G and BCS when the visit labels give times (``month6``,
  ``week12``), in months, death not known so censored at the last assessment
  (``--no-ttd`` to skip, ``--ttd-output``, ``--ttd-confirmed``,
  ``--ttd-mid upper``);
* ``RESULTS.sensitivity.csv``: the missing-data sensitivity analyses of one
  measure (TOI by default) at every follow-up visit: the MMRM under MAR and
  delta-adjusted multiple imputation with its tipping point
  (``--no-sensitivity`` to skip, ``--sensitivity-output``,
  ``--sensitivity-measure``, ``--sensitivity-visits``). Deaths are not in a
  score table, so every participant with a baseline is imputed (the note
  says so; the app leaves out those who had died or left the study).

A model that cannot be fitted for one measure is reported on stderr and
left out; the exit status stays 0. Every file is written to a temporary
name first and renamed only when all of them are written.
"""

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
    models = parser.add_argument_group("longitudinal analyses (written next to RESULTS)")
    models.add_argument(
        "--mmrm",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="MMRM of change from baseline for the scale scores analysed (default: on)",
    )
    models.add_argument(
        "--mmrm-output",
        metavar="PATH",
        default=None,
        help="where to write the MMRM table (default: RESULTS with .mmrm before the extension)",
    )
    models.add_argument(
        "--ttd",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="time to deterioration (MID decline from baseline) for TOI, FACTB, FACTG and BCS "
        "when the visit labels give times, e.g. month6 (default: on)",
    )
    models.add_argument(
        "--ttd-output",
        metavar="PATH",
        default=None,
        help="where to write the time-to-deterioration table (default: RESULTS with .ttd "
        "before the extension)",
    )
    models.add_argument(
        "--ttd-confirmed",
        action="store_true",
        help="a deterioration counts only when the next assessment confirms it",
    )
    models.add_argument(
        "--ttd-mid",
        choices=("lower", "upper"),
        default="lower",
        help="which end of Eton et al.'s MID range is the threshold (default: lower)",
    )
    models.add_argument(
        "--sensitivity",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="missing-data sensitivity analyses (MMRM under MAR, delta-adjusted multiple "
        "imputation and its tipping point) of one measure at each follow-up visit "
        "(default: on)",
    )
    models.add_argument(
        "--sensitivity-output",
        metavar="PATH",
        default=None,
        help="where to write the sensitivity table (default: RESULTS with .sensitivity "
        "before the extension)",
    )
    models.add_argument(
        "--sensitivity-measure",
        default="TOI",
        metavar="MEASURE",
        help="the measure of the sensitivity analyses (default: TOI)",
    )
    models.add_argument(
        "--sensitivity-visits",
        default=None,
        metavar="LIST",
        help="comma-separated follow-up visits (default: every follow-up visit)",
    )
    parser.set_defaults(run=run)
    return parser


def _fail(message: str) -> int:
    print(f"compare: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _write_all(tables: list[tuple[Any, Path]]) -> None:
    """Write every table next to its target, then rename them all: a failed write
    leaves no partial or temporary file, and no new file at all."""
    temporary: list[tuple[str, Path]] = []
    try:
        for table, output in tables:
            fd, tmp_name = tempfile.mkstemp(
                prefix=f".{output.name}.", suffix=output.suffix, dir=output.parent
            )
            os.close(fd)
            temporary.append((tmp_name, output))
            write_table(table, tmp_name)
        for tmp_name, output in temporary:
            os.replace(tmp_name, output)
    except BaseException:
        for tmp_name, _ in temporary:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
        raise


def _sibling(output: Path, tag: str) -> Path:
    """results.csv -> results.<tag>.csv"""
    return output.with_name(f"{output.stem}.{tag}{output.suffix}")


#: Scale scores the MMRM is fitted to (single 0-4 items are not).
MMRM_MEASURES = ("PWB", "SWB", "EWB", "FWB", "BCS", "FACTG", "FACTB", "TOI", "ARM")


def _note(message: str) -> None:
    print(f"compare: note: {message}", file=sys.stderr)


def _mmrm_table(scores: Any, measures: list[str], args: argparse.Namespace) -> Any:
    import pandas as pd

    from scoring.compare import CompareInputError
    from scoring.mmrm import mmrm
    from scoring.reml import ModelError

    tables = []
    for measure in measures:
        try:
            fit = mmrm(
                scores,
                measure=measure,
                id_col=args.id_col,
                arm_col=args.arm_col,
                visit_col=args.visit_col,
                baseline=args.baseline,
            )
        except (CompareInputError, ModelError) as exc:
            _note(f"MMRM for {measure} not fitted: {exc}")
            continue
        if not fit.converged:
            _note(f"MMRM for {measure}: {fit.message}")
        tables.append(fit.table())
    return pd.concat(tables, ignore_index=True) if tables else None


def _ttd_table(scores: Any, measures: list[str], args: argparse.Namespace) -> Any:
    from scoring.compare import CompareInputError
    from scoring.deterioration import definition, time_to_deterioration, ttd_table

    results = []
    for measure in measures:
        chosen = definition(measure, bound=args.ttd_mid, confirmed=args.ttd_confirmed)
        try:
            result = time_to_deterioration(
                scores,
                chosen,
                id_col=args.id_col,
                arm_col=args.arm_col,
                visit_col=args.visit_col,
                baseline=args.baseline,
            )
        except CompareInputError as exc:
            _note(f"time to deterioration not computed: {exc}")
            return None
        results.append(result)
    return ttd_table(results) if results else None


#: Said in the sensitivity table's note: a score table knows nothing of deaths.
SENSITIVITY_NOTE = (
    "no death or off-study information: every participant with a baseline score is "
    "imputed at each visit"
)


def _sensitivity_table(scores: Any, args: argparse.Namespace) -> Any:
    import pandas as pd

    from scoring.compare import CompareInputError
    from scoring.mmrm import mmrm
    from scoring.reml import ModelError
    from scoring.sensitivity import Sensitivity, tipping_point

    common = {
        "id_col": args.id_col,
        "arm_col": args.arm_col,
        "visit_col": args.visit_col,
        "baseline": args.baseline,
    }
    measure = args.sensitivity_measure
    try:
        fit = mmrm(scores, measure=measure, **common)
    except (CompareInputError, ModelError) as exc:
        _note(f"sensitivity analyses for {measure} not run: {exc}")
        return None
    visits = list(fit.visits)
    if args.sensitivity_visits:
        visits = [v.strip() for v in args.sensitivity_visits.split(",") if v.strip()]
    tables = []
    for visit in visits:
        if visit not in fit.visits:
            _note(f"sensitivity analyses for {measure} at {visit!r}: no MMRM estimate there")
            continue
        try:
            tip = tipping_point(scores, measure=measure, visit=visit, **common)
        except (CompareInputError, ModelError, ValueError) as exc:
            _note(f"multiple imputation for {measure} at {visit!r} not run: {exc}")
            continue
        table = Sensitivity(mmrm=fit, tipping=tip).table()
        table.loc[table["analysis"] != "MMRM", "note"] += f"; {SENSITIVITY_NOTE}"
        tables.append(table)
    return pd.concat(tables, ignore_index=True) if tables else None


def run(args: argparse.Namespace) -> int:
    # Imported here so that `python -m scoring score` never loads scipy.
    from scoring.compare import CompareInputError, compare
    from scoring.deterioration import MID_RANGES

    output = Path(args.output)
    extra_outputs: dict[str, Path] = {}
    if args.mmrm:
        extra_outputs["mmrm"] = Path(args.mmrm_output or _sibling(output, "mmrm"))
    if args.ttd:
        extra_outputs["ttd"] = Path(args.ttd_output or _sibling(output, "ttd"))
    if args.sensitivity:
        extra_outputs["sensitivity"] = Path(
            args.sensitivity_output or _sibling(output, "sensitivity")
        )
    try:
        for path in (output, *extra_outputs.values()):
            table_format(path)
    except TableReadError as exc:
        return _fail(f"output {exc}")
    for path in (output, *extra_outputs.values()):
        if not path.parent.is_dir():
            return _fail(f"output directory {str(path.parent)!r} does not exist")
    if len({p.resolve() for p in (output, *extra_outputs.values())}) != 1 + len(extra_outputs):
        return _fail(
            "RESULTS, --mmrm-output, --ttd-output and --sensitivity-output must be different files"
        )
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
            measures=measures,
            id_col=args.id_col,
            arm_col=args.arm_col,
            visit_col=args.visit_col,
            baseline=args.baseline,
        )
    except CompareInputError as exc:
        return _fail(f"{args.scores}: {exc}")
    analysed = list(dict.fromkeys(results["measure"]))
    tables: list[tuple[Any, Path]] = [(results, output)]
    written: list[str] = []
    if "mmrm" in extra_outputs:
        mmrm = _mmrm_table(scores, [m for m in analysed if m in MMRM_MEASURES], args)
        if mmrm is not None:
            tables.append((mmrm, extra_outputs["mmrm"]))
            fitted = ", ".join(dict.fromkeys(mmrm["measure"]))
            written.append(f"wrote {len(mmrm)} MMRM rows ({fitted}) to {extra_outputs['mmrm']}")
    if "ttd" in extra_outputs:
        ttd = _ttd_table(scores, [m for m in analysed if m in MID_RANGES], args)
        if ttd is not None:
            tables.append((ttd, extra_outputs["ttd"]))
            written.append(f"wrote {len(ttd)} time-to-deterioration rows to {extra_outputs['ttd']}")
    if "sensitivity" in extra_outputs and args.sensitivity_measure in analysed:
        sensitivity = _sensitivity_table(scores, args)
        if sensitivity is not None:
            tables.append((sensitivity, extra_outputs["sensitivity"]))
            written.append(
                f"wrote {len(sensitivity)} sensitivity-analysis rows "
                f"({args.sensitivity_measure}) to {extra_outputs['sensitivity']}"
            )
    elif "sensitivity" in extra_outputs:
        _note(f"sensitivity analyses skipped: {args.sensitivity_measure} is not analysed")
    try:
        _write_all(tables)
    except OSError as exc:
        return _fail(f"cannot write {exc.filename or output}: {exc.strerror or exc}")
    print(f"compare: wrote {len(results)} rows to {output}")
    for line in written:
        print(f"compare: {line}")
    return EXIT_OK
