"""Seeding the E2108 demo, and running its "E2108 paper" analysis.

1. ``manage.py seed_demo`` as ``make demo`` runs it: SQLite in a scratch
   directory, in a subprocess (migrate first, not timed);
2. the plan alone (pure Python, no database);
3. on a scratch PostgreSQL database: seeding, then the preset's analysis run
   executed in this process (the function the worker calls), with the run's
   own timings (snapshot, each statistic, plot).

Target: seeding well under a minute for ``make demo``. Run: ``make bench``.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
import time

from _django import ROOT, setup_scratch_database

AS_OF = dt.date(2026, 11, 29)


def seed_on_sqlite() -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    with tempfile.TemporaryDirectory() as var:
        env.update(DEBUG="true", ECOGPROM_VAR_DIR=var)
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        started = time.perf_counter()
        subprocess.run(
            [*manage, "seed_demo", "--as-of", AS_OF.isoformat(), "--no-run"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return time.perf_counter() - started


def main() -> None:
    sqlite_s = seed_on_sqlite()
    print(f"seed_demo on SQLite (make demo), 268 participants: {sqlite_s:.1f} s (target < 60 s)")

    setup_scratch_database("ecogprom_bench_demo")
    from django.contrib.auth import get_user_model

    from surveys.demo.plan import build_plan
    from surveys.demo.seed import seed_demo
    from surveys.models import Assessment, Response
    from surveys.statistician.analysis.runs import execute_run, run_start

    started = time.perf_counter()
    plan = build_plan()
    plan_s = time.perf_counter() - started
    forms = sum(len(p.forms) for p in plan.participants)
    print(
        f"plan in trial time: {len(plan.participants)} participants, {forms} forms, {plan_s:.2f} s"
    )

    started = time.perf_counter()
    _, preset = seed_demo(as_of=AS_OF)
    seed_s = time.perf_counter() - started
    print(
        f"seed_demo on PostgreSQL: {seed_s:.1f} s; {Assessment.objects.count()} assessments, "
        f"{Response.objects.count()} answers"
    )

    run = run_start(user=get_user_model().objects.get(username="stat"), preset=preset)
    started = time.perf_counter()
    execute_run(run.pk)
    run_s = time.perf_counter() - started
    run.refresh_from_db()
    timings = run.results["timings"]
    parts = ", ".join(
        f"{k.removesuffix('_s')} {v:.2f}" for k, v in timings.items() if k != "total_s"
    )
    print(f"E2108 paper run: {run_s:.2f} s end to end ({run.status}); {parts} s")


if __name__ == "__main__":
    main()
