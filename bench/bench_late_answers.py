"""Late answers at scale: replaced tablets delivering their offline queues, in process.

For each of N open assessments: tablet 1 answers the first items live; it
goes offline and queues the rest; the coordinator hands the assessment over
on tablet 2, where she answers some of the same items again (later) and new
ones; tablet 1 comes back and delivers its queue (half of it older than
tablet 2's taps), then delivers it all again (a replay); tablet 2 sends the
form and tablet 1 delivers a few more (kept for the coordinator). Each
delivery goes through ``surveys.tablet.kiosk.kiosk_answer`` on PostgreSQL
(no HTTP: ``bench_answer_latency.py`` measures that).

Prints per-answer time (p50/p95) and SQL statements per answer for each kind
of delivery, and checks in the database that every form holds her last tap
for every item, each key was logged once, and the kept answers and audit
events are all there. Exit status 1 when the check fails.

Run: ``make bench`` (uses a scratch database ``ecogprom_bench_late_answers``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from collections import defaultdict
from typing import Any

from _django import setup_scratch_database

DB_NAME = "ecogprom_bench_late_answers"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assessments", type=int, default=100)
    parser.add_argument("--keep-db", action="store_true", help="do not drop the scratch database")
    args = parser.parse_args()
    try:
        return run(args)
    finally:
        if not args.keep_db:
            drop_scratch_database()


def drop_scratch_database() -> None:
    import os
    from urllib.parse import urlparse, urlunparse

    import psycopg
    from django.db import connections

    connections.close_all()
    parsed = urlparse(os.environ["DATABASE_URL"])
    with psycopg.connect(urlunparse(parsed._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


def run(args: argparse.Namespace) -> int:

    setup_scratch_database(DB_NAME)
    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.db import connection
    from django.db.models import Count
    from django.utils import timezone

    from surveys import instrumentation
    from surveys.models import AnswerTap, AuditEvent, Response, Site
    from surveys.tablet.kiosk import kiosk_answer, kiosk_start, kiosk_submit
    from surveys.trial.participants import participant_randomize
    from surveys.trial.setup import trial_create_e2108

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    start = timezone.now() - dt.timedelta(hours=2)
    trial = trial_create_e2108()
    site = Site.objects.create(code="LATE", name="Bench site", timezone="America/New_York")
    coordinator = User.objects.create(username="bench_coord")
    coordinator.groups.add(Group.objects.get_or_create(name="coordinator")[0])
    site.coordinators.add(coordinator)
    arms = list(trial.arms.all())
    items = list(instrumentation.items(trial.instrument_version))
    live_items, queued_items = items[:16], items[16:42]
    tablet2_items = items[30:46]  # overlaps the end of tablet 1's queue, and answers new ones
    kept_items = items[:5]

    timings: dict[str, list[float]] = defaultdict(list)
    statements: dict[str, list[int]] = defaultdict(list)
    expected: dict[tuple[int, str], int] = {}
    tapped_at: dict[tuple[int, str], dt.datetime] = {}

    def deliver(kind: str, token: str, assessment_id: int, item: str, value: int, **kw: Any):
        count = [0]

        def counted(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            count[0] += 1
            return execute(sql, params, many, context)

        began = time.perf_counter()
        with connection.execute_wrapper(counted):
            result = kiosk_answer(
                token=token, assessment_id=assessment_id, item_code=item, value=value, **kw
            )
        timings[kind].append((time.perf_counter() - began) * 1000)
        statements[kind].append(count[0])
        return result

    forms = []
    for n in range(args.assessments):
        participant = participant_randomize(
            trial=trial,
            study_id=f"E2108-{n:04d}",
            site=site,
            arm=arms[n % 2],
            randomized_on=timezone.localdate(),
            language="en",
            actor="bench",
            now=start,
        )
        forms.append(participant.assessments.get(visit__is_baseline=True))

    began_all = time.perf_counter()
    for number, assessment in enumerate(forms):
        a = assessment.pk
        first = kiosk_start(
            assessment_id=a, started_by=coordinator, pin="2468", assistance="none", now=start
        )
        clock = start
        for i, item in enumerate(live_items):  # tablet 1, online
            clock += dt.timedelta(seconds=10)
            value = (number + i) % 5
            deliver(
                "live tap",
                first.token,
                a,
                item,
                value,
                idempotency_key=f"{a}-1-{item}",
                tapped_at=clock,
                now=clock,
            )
            expected[(a, item)], tapped_at[(a, item)] = value, clock
        queue = []
        for i, item in enumerate(queued_items):  # tablet 1, offline: queued
            clock += dt.timedelta(seconds=10)
            queue.append((item, (number + i + 1) % 5, f"{a}-1q-{item}", clock))
        handover = clock + dt.timedelta(minutes=1)
        second = kiosk_start(
            assessment_id=a, started_by=coordinator, pin="2468", assistance="none", now=handover
        )
        clock = handover
        for i, item in enumerate(tablet2_items):  # tablet 2, later than all of tablet 1's taps
            clock += dt.timedelta(seconds=10)
            value = (number + 2 * i + 3) % 5
            deliver(
                "live tap",
                second.token,
                a,
                item,
                value,
                idempotency_key=f"{a}-2-{item}",
                tapped_at=clock,
                now=clock,
            )
            expected[(a, item)], tapped_at[(a, item)] = value, clock
        back_online = clock + dt.timedelta(minutes=2)
        for item, value, key, tapped in queue:  # tablet 1 back: its queue, late
            deliver(
                "late, replaced tablet",
                first.token,
                a,
                item,
                value,
                idempotency_key=key,
                tapped_at=tapped,
                now=back_online,
            )
            if tapped >= tapped_at.get((a, item), tapped):
                expected[(a, item)], tapped_at[(a, item)] = value, tapped
        for item, value, key, tapped in queue:  # and again: the replies were lost
            deliver(
                "replay",
                first.token,
                a,
                item,
                value,
                idempotency_key=key,
                tapped_at=tapped,
                now=back_online,
            )
        kiosk_submit(token=second.token, now=back_online + dt.timedelta(minutes=1))
        for i, item in enumerate(kept_items):  # tapped on tablet 1 after all: kept
            deliver(
                "kept (form sent)",
                first.token,
                a,
                item,
                (i + 2) % 5,
                idempotency_key=f"{a}-1k-{item}",
                tapped_at=back_online,
                now=back_online + dt.timedelta(minutes=2),
            )
    elapsed = time.perf_counter() - began_all

    problems = []
    stored = {
        (a, i): v for a, i, v in Response.objects.values_list("assessment_id", "item_code", "value")
    }
    if stored != expected:
        wrong = [key for key in expected if stored.get(key) != expected[key]]
        problems.append(f"{len(wrong)} answers differ from her last tap, e.g. {wrong[:3]}")
    keys = sum(len(v) for k, v in timings.items() if k != "replay")
    if AnswerTap.objects.count() != keys:
        problems.append(f"{AnswerTap.objects.count()} taps logged for {keys} distinct keys")
    if (
        AnswerTap.objects.values("assessment", "idempotency_key")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .exists()
    ):
        problems.append("a key was logged twice")
    kept = AnswerTap.objects.preserved().count()
    if kept != len(forms) * len(kept_items):
        problems.append(f"{kept} answers kept, {len(forms) * len(kept_items)} delivered")
    late_events = AuditEvent.objects.filter(action__in=["late_answer", "answer_preserved"]).count()
    if late_events != len(forms) * (len(queued_items) + len(kept_items)):
        problems.append(f"{late_events} audit events for late answers")

    deliveries = sum(len(v) for v in timings.values())
    print(
        f"late answers: {len(forms)} assessments, {deliveries} deliveries in {elapsed:.1f} s "
        f"({deliveries / elapsed:.0f}/s, one process, PostgreSQL)"
    )
    for kind, values in timings.items():
        print(
            f"  {kind:24s} n={len(values):5d}  ms p50 {percentile(values, 50):5.2f}  "
            f"p95 {percentile(values, 95):5.2f}  mean {statistics.fmean(values):5.2f}  "
            f"SQL statements: median {statistics.median(statements[kind]):.0f}, "
            f"{min(statements[kind])}-{max(statements[kind])}"
        )
    older = AnswerTap.objects.filter(outcome="older").count()
    if problems:
        print("CHECK FAILED:")
        for problem in problems:
            print(f"  {problem}")
        return 1
    print(
        f"check: every form holds her last tap for every item ({len(expected)} answers; "
        f"{older} older late taps logged, not applied); each key logged once; "
        f"{kept} kept answers; {late_events} audit events"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
