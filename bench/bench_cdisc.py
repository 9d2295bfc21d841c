"""CDISC package build time: the demo trial (256 participants) and a 5,000-participant trial.

Each case runs in its own process on its own scratch database
(``ecogprom_bench_cdisc_demo``: seeded by ``seed_demo``; ``ecogprom_bench_cdisc_5k``:
5,000 participants x 4 completed visits bulk-inserted as in bench_export.py),
then times ``build_package`` (every dataset as XPT, Dataset-JSON and CSV, both
define.xml files validated, the ODM file validated, the manifest and the zip)
and the self-check (``check_package``): best of 2 for the demo, once for the large
trial, which runs only with ``--large`` (about 900,000 answers: tens of minutes).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ecogprom .venv/bin/python bench/bench_cdisc.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _case(name: str) -> None:
    from bench._django import setup_scratch_database

    setup_scratch_database(f"ecogprom_bench_cdisc_{name}")
    if name == "demo":
        from surveys.demo.seed import seed_demo

        seed_demo(as_of=dt.date(2026, 6, 15))
        label = "demo trial (256 participants)"
    else:
        import bench.bench_export as filler

        filler.N_PARTICIPANTS = 5_000
        filler.populate()
        label = "5,000 participants x 4 visits"
    from surveys.models import Response
    from surveys.statistician.exports.cdisc.check import check_package
    from surveys.statistician.exports.cdisc.package import build_package
    from surveys.statistician.exports.filters import ExportFilters

    answers = Response.objects.count()
    builds, checks = [], []
    for _ in range(2 if name == "demo" else 1):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            result = build_package(ExportFilters(trial="E2108"), Path(tmp))
            builds.append(time.perf_counter() - start)
            start = time.perf_counter()
            findings = check_package(result.path)
            checks.append(time.perf_counter() - start)
            size = result.path.stat().st_size
            failed = [f.rule for f in findings if f.failed]
    print(
        f"CDISC package, {label}: {answers:,} answers, {result.rows:,} dataset rows, "
        f"zip {size / 1e6:.1f} MB; build {min(builds):.1f} s; self-check {min(checks):.1f} s; "
        f"failed rules: {failed or 'none'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case", choices=("demo", "5k"))
    parser.add_argument(
        "--large",
        action="store_true",
        help="also the 5,000-participant trial (about 900,000 answers: tens of minutes)",
    )
    args = parser.parse_args()
    if args.case:
        _case(args.case)
        return
    for case in ("demo", "5k") if args.large else ("demo",):
        subprocess.run([sys.executable, __file__, "--case", case], check=True, cwd=ROOT)
    if not args.large:
        print("(the 5,000-participant package: python bench/bench_cdisc.py --large)")


if __name__ == "__main__":
    main()
