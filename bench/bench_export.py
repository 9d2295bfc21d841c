"""Scored wide export of a 10,000-participant trial (4 visits) against PostgreSQL's COPY.

Creates its own database (``ecogprom_bench_export``, dropped and re-created;
``--reuse`` keeps a populated one), fills it with bulk inserts: 10,000
participants, 40,000 completed assessments, 1.84 million answers and their
scores (computed by ``scoring.facit.score_frame``). Then measures, in the
same process and on the same rows:

* the export: ``build_dataset("scored")`` + the CSV writer, wall time (best
  of N) and peak memory (Python/NumPy allocations by tracemalloc, Arrow's
  pool, and the growth of the process's peak RSS);
* PostgreSQL's own ``COPY (<the export's SELECT>) TO STDOUT (FORMAT csv)``
  into a file (best of N);

and prints the ratio export ÷ COPY (target ≤ 3).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ecogprom \
        .venv/bin/python bench/bench_export.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = "ecogprom_bench_export"
N_PARTICIPANTS = 10_000
VISITS = 4
SEED = 2108


def _bench_url(base: str) -> tuple[str, str]:
    parts = urlsplit(base)
    if not parts.scheme.startswith("postgres"):
        raise SystemExit("bench_export needs DATABASE_URL=postgres://...")
    admin = urlunsplit(parts._replace(path="/postgres"))
    bench = urlunsplit(parts._replace(path=f"/{BENCH_DB}"))
    return admin, bench


def _create_database(admin_url: str, reuse: bool) -> bool:
    """Create the bench database; True when it must be filled."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (BENCH_DB,)
        ).fetchone()
        if exists and reuse:
            return False
        if exists:
            conn.execute(f'DROP DATABASE "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    return True


def _copy_frame(cursor, table: str, frame, not_null: tuple[str, ...] = ()) -> None:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False, na_rep="")
    force = f", FORCE_NOT_NULL ({', '.join(not_null)})" if not_null else ""
    with cursor.copy(
        f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN (FORMAT csv{force})"
    ) as copy:
        copy.write(buffer.getvalue())


def populate() -> None:
    """Bulk-insert the 10,000-participant trial (a few tens of seconds)."""
    import numpy as np
    import pandas as pd
    from django.core.management import call_command
    from django.db import connection, transaction

    from scoring.facit import SCORING_VERSION, score_frame
    from surveys import instrumentation
    from surveys.models import Assessment, Participant, Response, Score, Site
    from surveys.trial.setup import trial_create_e2108

    call_command("migrate", verbosity=0)
    rng = np.random.default_rng(SEED)
    with transaction.atomic():
        trial = trial_create_e2108()
        sites = Site.objects.bulk_create(
            Site(code=f"S{i:02d}", name=f"Site {i}", timezone=tz)
            for i, tz in enumerate(
                ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"]
            )
        )
        arms = list(trial.arms.order_by("code"))
        visits = list(trial.visits.order_by("number"))[:VISITS]
        start = dt.date(2020, 1, 1)
        participants = Participant.objects.bulk_create(
            (
                Participant(
                    trial=trial,
                    study_id=f"E2108-{n:05d}",
                    site=sites[n % len(sites)],
                    arm=arms[int(rng.integers(0, 2))],
                    randomized_on=start + dt.timedelta(days=int(rng.integers(0, 900))),
                )
                for n in range(1, N_PARTICIPANTS + 1)
            ),
            batch_size=2000,
        )
        pinned = trial.instrument_version
        assessments = []
        for p in participants:
            tz = p.site.tzinfo
            for visit in visits:
                target = visit.target_date(p.randomized_on)
                first, last = visit.window(p.randomized_on)
                done = dt.datetime.combine(
                    target + dt.timedelta(days=int(rng.integers(-5, 6))), dt.time(14, 30), tz
                )
                assessments.append(
                    Assessment(
                        participant=p,
                        visit=visit,
                        status=Assessment.Status.COMPLETED,
                        target_date=target,
                        window_start=first,
                        window_end=last,
                        opens_at=dt.datetime.combine(first, dt.time(), tz),
                        closes_at=dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tz),
                        instrument_version=pinned,
                        language="en",
                        started_at=done - dt.timedelta(minutes=14),
                        completed_at=done,
                        mode=Assessment.Mode.TABLET,
                        assistance=Assessment.Assistance.NONE,
                    )
                )
        assessments = Assessment.objects.bulk_create(assessments, batch_size=2000)
        codes = list(instrumentation.items(pinned))
        values = rng.integers(0, 5, size=(len(assessments), len(codes))).astype(float)
        values[rng.random(values.shape) < 0.03] = np.nan
        answers = pd.DataFrame(values, columns=codes)
        scores = score_frame(answers)
        ids = np.array([a.pk for a in assessments])
        saved = pd.Series([a.completed_at for a in assessments])
        long = answers.assign(assessment_id=ids, saved_at=saved.to_numpy()).melt(
            id_vars=["assessment_id", "saved_at"], var_name="item_code", value_name="value"
        )
        long = long[long["value"].notna()].copy()
        long["value"] = long["value"].astype(int)
        long["declined"] = "f"
        long["idempotency_key"] = ""
        long["revision"] = 1
        with connection.cursor() as cursor:
            _copy_frame(
                cursor.cursor,
                Response._meta.db_table,
                long[
                    [
                        "assessment_id",
                        "item_code",
                        "value",
                        "declined",
                        "saved_at",
                        "idempotency_key",
                        "revision",
                    ]
                ],
                not_null=("idempotency_key",),
            )
            score_cols = {
                f: scores[f.upper()]
                for f in ("pwb", "swb", "ewb", "fwb", "bcs", "factg", "factb", "toi")
            }
            counts = {
                f"{f}_n": scores[f"{f.upper()}_N"]
                for f in ("pwb", "swb", "ewb", "fwb", "bcs", "factg", "factb", "toi")
            }
            table = pd.DataFrame(
                {
                    "assessment_id": ids,
                    **{k: v.to_numpy() for k, v in score_cols.items()},
                    "arm": np.nan,
                    **{k: v.to_numpy() for k, v in counts.items()},
                    "arm_n": 0,
                    "items_answered": answers.notna().sum(axis=1).to_numpy(),
                    "items_total": len(codes),
                    "scoring_version": SCORING_VERSION,
                    "toi_rule": "facit",
                    "computed_at": saved.to_numpy(),
                }
            )
            _copy_frame(cursor.cursor, Score._meta.db_table, table)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _peak_rss_mb() -> float:
    """This process's resident-set high-water mark (VmHWM: reset by exec, unlike ru_maxrss)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _probe_memory() -> None:
    """In a fresh process: one export, and how far it raised the peak RSS (JSON on stdout)."""
    import django

    django.setup()
    import json

    from surveys.statistician.exports import build_dataset, write_dataset
    from surveys.statistician.exports.filters import ExportFilters

    with tempfile.TemporaryDirectory() as tmp:
        before = _peak_rss_mb()
        frame = build_dataset("scored", ExportFilters())
        write_dataset(frame, "csv", Path(tmp) / "scored.csv", kind="scored")
        print(json.dumps({"before": before, "after": _peak_rss_mb()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reuse", action="store_true", help="keep an existing bench database")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--probe-memory", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ecogprom")
    admin_url, bench_url = _bench_url(base)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecogprom.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only")
    if args.probe_memory:
        os.environ["DATABASE_URL"] = bench_url
        _probe_memory()
        return
    fill = _create_database(admin_url, args.reuse)
    os.environ["DATABASE_URL"] = bench_url
    import django

    django.setup()
    import pyarrow as pa
    from django.db import connection

    from surveys.statistician.exports import build_dataset, write_dataset
    from surveys.statistician.exports.filters import ExportFilters
    from surveys.statistician.exports.queries import fetch_frame, scored_query

    if fill:
        t0 = time.perf_counter()
        populate()
        print(f"populated {BENCH_DB} in {time.perf_counter() - t0:.1f} s")
    filters = ExportFilters()
    query = scored_query(filters)

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)

        columns: list[str] = []

        def export() -> int:
            frame = build_dataset("scored", filters)
            write_dataset(frame, "csv", out / "scored.csv", kind="scored")
            columns[:] = list(frame.columns)
            return len(frame)

        def copy() -> int:
            with connection.cursor() as cursor, (out / "copy.csv").open("wb") as fh:
                raw = cursor.cursor
                with raw.copy(
                    f"COPY ({query.sql}) TO STDOUT (FORMAT csv, HEADER)", query.params
                ) as cp:
                    for block in cp:
                        fh.write(block)
            return sum(1 for _ in (out / "copy.csv").open("rb")) - 1

        rows = export()  # warm the caches and the connection, both ways
        copy_rows = copy()
        assert rows == copy_rows == N_PARTICIPANTS * VISITS, (rows, copy_rows)
        export_times, copy_times, fetch_times = [], [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            copy()
            copy_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            export()
            export_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            fetch_frame(query)
            fetch_times.append(time.perf_counter() - t0)
        export_size = (out / "scored.csv").stat().st_size
        copy_size = (out / "copy.csv").stat().st_size

        pool = pa.default_memory_pool()
        tracemalloc.start()
        export()
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

    probe = subprocess.run(
        [sys.executable, __file__, "--probe-memory"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DATABASE_URL": base},
    )
    fresh = json.loads(probe.stdout.strip().splitlines()[-1])
    best_export, best_copy = min(export_times), min(copy_times)
    print(f"rows: {rows:,} (participants x visits), {len(columns)} columns")
    print(
        f"export (query + DataFrame + CSV): best {best_export * 1000:.0f} ms, "
        f"median {sorted(export_times)[len(export_times) // 2] * 1000:.0f} ms, "
        f"file {export_size / 1e6:.1f} MB"
    )
    print(
        f"PostgreSQL COPY of the same SELECT to CSV: best {best_copy * 1000:.0f} ms, "
        f"median {sorted(copy_times)[len(copy_times) // 2] * 1000:.0f} ms, "
        f"file {copy_size / 1e6:.1f} MB"
    )
    print(
        f"  of which the query's rows into a DataFrame (COPY -> Arrow -> pandas): "
        f"best {min(fetch_times) * 1000:.0f} ms"
    )
    print(
        f"peak memory of one export: {traced_peak / 1e6:.1f} MB Python/NumPy (tracemalloc), "
        f"{pool.max_memory() / 1e6:.1f} MB Arrow pool; in a fresh process the peak RSS "
        f"rose {fresh['after'] - fresh['before']:.0f} MB (from {fresh['before']:.0f} MB after "
        f"imports to {fresh['after']:.0f} MB)"
    )
    ratio = best_export / best_copy
    print(f"ratio export / COPY: {ratio:.2f}x (target <= 3x) {'OK' if ratio <= 3 else 'OVER'}")


if __name__ == "__main__":
    main()
