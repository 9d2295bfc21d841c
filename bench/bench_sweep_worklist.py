"""Sweep over 100,000 assessments; worklist and compliance for a 5,000-participant site.

Also: a sweep that closes 2,000 started forms, each kept as partial and scored
through scoring/ in the sweep's transaction.

Prints wall times and SQL query counts. Run: `make bench` (or directly with
DATABASE_URL pointing at PostgreSQL); uses a scratch database.
"""

from __future__ import annotations

import datetime as dt
import random
import time

from _django import setup_scratch_database

N_PARTICIPANTS = 25_000  # × 4 visits = 100,000 assessments
BIG_SITE = 5_000
N_STARTED = 2_000  # forms started (20 answers each) whose window then closes


def build(now: dt.datetime) -> None:
    from django.contrib.auth.models import Group, User

    from surveys.models import Assessment, Participant, Site
    from surveys.trial.participants import assessment_build
    from surveys.trial.setup import trial_create_e2108

    rng = random.Random(1)
    trial = trial_create_e2108()
    visits = list(trial.visits.all())
    arms = list(trial.arms.all())
    big = Site.objects.create(code="BIG", name="Big site", timezone="America/Chicago")
    others = [Site.objects.create(code=f"S{i:02d}", name=f"Site {i}") for i in range(20)]
    user = User.objects.create(username="coord")
    user.groups.add(Group.objects.create(name="coordinator"))
    big.coordinators.add(user)
    participants = []
    for n in range(N_PARTICIPANTS):
        site = big if n < BIG_SITE else others[n % len(others)]
        participants.append(
            Participant(
                trial=trial,
                study_id=f"P{n:06d}",
                site=site,
                arm=arms[n % 2],
                randomized_on=now.date() - dt.timedelta(days=rng.randint(0, 40 * 30)),
            )
        )
    Participant.objects.bulk_create(participants, batch_size=5000)
    by_site = {s.pk: s for s in [big, *others]}
    assessments = []
    for p in Participant.objects.all().iterator(chunk_size=5000):
        p.site = by_site[p.site_id]
        p.trial = trial
        assessments.extend(assessment_build(participant=p, visit=v) for v in visits)
    Assessment.objects.bulk_create(assessments, batch_size=5000)


def start_forms(now: dt.datetime) -> list[int]:
    """N_STARTED open forms get 20 answers and a window that closed one second after *now*."""
    from surveys.models import Assessment, Response

    ids = list(
        Assessment.objects.filter(status=Assessment.Status.OPEN)
        .order_by("pk")
        .values_list("pk", flat=True)[:N_STARTED]
    )
    codes = ["GP1", "GP2", "GP3", "GP4", "GP5", "GP6", "GP7", "GS1", "GS2", "GS3"]
    codes += ["GE1", "GE2", "GE3", "GE4", "GE5", "GE6", "GF1", "GF2", "GF3", "LR1"]
    Response.objects.bulk_create(
        (
            Response(assessment_id=pk, item_code=code, value=(pk + i) % 5, saved_at=now)
            for pk in ids
            for i, code in enumerate(codes)
        ),
        batch_size=10_000,
    )
    Assessment.objects.filter(pk__in=ids).update(
        status=Assessment.Status.IN_PROGRESS,
        started_at=now,
        closes_at=now + dt.timedelta(seconds=1),
    )
    return ids


def timed(label: str, func):
    from django.db import connection, reset_queries

    reset_queries()
    start = time.perf_counter()
    result = func()
    elapsed = time.perf_counter() - start
    print(f"  {label:<46} {elapsed * 1000:9.1f} ms  {len(connection.queries):4d} queries")
    return result


def main() -> None:
    setup_scratch_database("ecogprom_bench_trial")
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from surveys.models import Assessment
    from surveys.trial.sweep import sweep_assessments

    now = dt.datetime(2026, 11, 21, 12, tzinfo=dt.UTC)
    start = time.perf_counter()
    build(now)
    print(
        f"built {Assessment.objects.count():,} assessments in {time.perf_counter() - start:.1f} s"
    )

    settings.DEBUG = True  # record queries
    connection.force_debug_cursor = True
    counts = timed("sweep (first run, all due transitions)", lambda: sweep_assessments(now=now))
    print(f"    -> {counts}")
    timed("sweep again (nothing due)", lambda: sweep_assessments(now=now))
    started = start_forms(now)
    later = now + dt.timedelta(seconds=2)
    counts = timed(
        f"sweep closing {len(started):,} started forms (scored)",
        lambda: sweep_assessments(now=later),
    )
    print(f"    -> {counts}")
    from surveys.models import Score

    assert counts["partial"] == len(started) == Score.objects.filter(assessment__in=started).count()

    settings.ALLOWED_HOSTS = ["testserver"]
    from django.contrib.auth.models import User

    client = Client()
    client.force_login(User.objects.get(username="coord"))
    client.get("/coordinator/?view=upcoming")  # warm up: template loading, first connection
    for label, url in [
        ("worklist: open now (5,000-participant site)", "/coordinator/?view=open"),
        ("worklist: all, sorted by study id", "/coordinator/?view=all&sort=study_id"),
        ("worklist: missed without reason", "/coordinator/?view=missed"),
        ("compliance per visit × arm", "/coordinator/compliance/"),
        ("compliance per visit × site", "/coordinator/compliance/?by=site"),
        ("compliance CSV", "/coordinator/compliance/?format=csv"),
    ]:
        response = timed(label, lambda url=url: client.get(url))
        assert response.status_code == 200, (url, response.status_code)


if __name__ == "__main__":
    main()
