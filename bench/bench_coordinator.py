"""The coordinator's status grid and audit log at a 5,000-participant site.

Builds one 5,000-participant site (and 15 smaller ones the coordinator does
not see) with three years of visits swept to their statuses, 1,000 forms in
progress and an audit trail of about 150,000 events, then times the pages a
coordinator opens (grid, audit log, its CSV export, worklist, compliance).

Prints wall time and SQL query count per page. Run: `make bench` (or directly
with DATABASE_URL pointing at PostgreSQL); uses a scratch database.
"""

from __future__ import annotations

import datetime as dt
import random
import time

from _django import setup_scratch_database

BIG_SITE = 5_000
OTHERS = 15 * 400
IN_PROGRESS = 1_000
EXTRA_EVENTS = 100_000  # hand-offs, scoring, reasons: what months of clinic work leave


def build(now: dt.datetime) -> None:
    from django.contrib.auth.models import Group, User

    from surveys.models import Assessment, AuditEvent, Participant, Response, Site
    from surveys.trial.participants import assessment_build
    from surveys.trial.setup import trial_create_e2108
    from surveys.trial.sweep import sweep_assessments

    rng = random.Random(17)
    trial = trial_create_e2108()
    arms = list(trial.arms.all())
    visits = list(trial.visits.all())
    big = Site.objects.create(code="BIG", name="Big site", timezone="America/Chicago")
    others = [Site.objects.create(code=f"S{i:02d}", name=f"Site {i}") for i in range(15)]
    user = User.objects.create(username="coord")
    user.groups.add(Group.objects.create(name="coordinator"))
    big.coordinators.add(user)
    people = [
        Participant(
            trial=trial,
            study_id=f"E2108-{n:05d}"[:32],
            site=big if n < BIG_SITE else others[n % len(others)],
            arm=arms[n % 2],
            randomized_on=now.date() - dt.timedelta(days=rng.randint(0, 36 * 30)),
        )
        for n in range(BIG_SITE + OTHERS)
    ]
    Participant.objects.bulk_create(people, batch_size=5000)
    by_site = {s.pk: s for s in [big, *others]}
    forms = []
    for p in Participant.objects.all().iterator(chunk_size=5000):
        p.site, p.trial = by_site[p.site_id], trial
        forms.extend(assessment_build(participant=p, visit=v) for v in visits)
    Assessment.objects.bulk_create(forms, batch_size=5000)
    sweep_assessments(now=now - dt.timedelta(days=1))
    started = list(
        Assessment.objects.filter(participant__site=big, status=Assessment.Status.OPEN)
        .order_by("pk")
        .values_list("pk", "participant_id")[:IN_PROGRESS]
    )
    codes = ["GP1", "GP2", "GP3", "GP4", "GP5", "GP6", "GP7", "GS1", "GS2", "GS3"]
    Response.objects.bulk_create(
        (
            Response(assessment_id=pk, item_code=code, value=(pk + i) % 5, saved_at=now)
            for pk, _ in started
            for i, code in enumerate(codes)
        ),
        batch_size=10_000,
    )
    Assessment.objects.filter(pk__in=[pk for pk, _ in started]).update(
        status=Assessment.Status.IN_PROGRESS, started_at=now
    )
    big_forms = list(
        Assessment.objects.filter(participant__site=big).values_list("pk", "participant_id")
    )
    actions = [AuditEvent.Action.KIOSK_START, AuditEvent.Action.KIOSK_END, AuditEvent.Action.SCORED]
    AuditEvent.objects.bulk_create(
        (
            AuditEvent(
                at=now - dt.timedelta(minutes=rng.randint(1, 3 * 365 * 24 * 60)),
                action=actions[i % 3],
                participant_id=participant,
                assessment_id=form,
                actor_label="coord" if i % 3 == 0 else "kiosk",
                details={"assistance": "none", "language": "en"} if i % 3 == 0 else {},
            )
            for i, (form, participant) in enumerate(rng.choices(big_forms, k=EXTRA_EVENTS))
        ),
        batch_size=10_000,
    )


def timed(client, label: str, url: str) -> None:
    from django.db import connection, reset_queries

    reset_queries()
    start = time.perf_counter()
    response = client.get(url)
    if response.streaming:
        size = sum(len(chunk) for chunk in response.streaming_content)
    else:
        size = len(response.content)
    elapsed = time.perf_counter() - start
    assert response.status_code == 200, (url, response.status_code)
    print(
        f"  {label:<52} {elapsed * 1000:8.1f} ms  {len(connection.queries):3d} queries"
        f"  {size / 1024:9.0f} KiB"
    )


def main() -> None:
    setup_scratch_database("ecogprom_bench_coordinator")
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from surveys.models import Assessment, AuditEvent

    now = timezone.now()
    start = time.perf_counter()
    build(now)
    big = Assessment.objects.filter(participant__site__code="BIG")
    print(
        f"built {Assessment.objects.count():,} assessments ({big.count():,} at the 5,000-"
        f"participant site), {AuditEvent.objects.count():,} audit events "
        f"({AuditEvent.objects.filter(participant__site__code='BIG').count():,} of that site) "
        f"in {time.perf_counter() - start:.1f} s"
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    settings.DEBUG = True  # record queries
    settings.ALLOWED_HOSTS = ["testserver"]
    connection.force_debug_cursor = True
    client = Client()
    client.force_login(User.objects.get(username="coord"))
    client.get("/coordinator/grid/")  # warm up: templates, first connection
    day = (now - dt.timedelta(days=30)).date().isoformat()
    for label, url in [
        ("grid: first page (50 of 5,000 participants)", "/coordinator/grid/"),
        ("grid: soonest window closing first", "/coordinator/grid/?sort=urgent"),
        ("grid: has an overdue form, arm B", "/coordinator/grid/?status=overdue&arm=B"),
        ("grid: search a study id", "/coordinator/grid/?q=E2108-0421"),
        ("grid: last page", "/coordinator/grid/?page=100"),
        ("audit log: first page", "/coordinator/audit/"),
        ("audit log: one participant", "/coordinator/audit/?participant=E2108-00421"),
        ("audit log: user + action", "/coordinator/audit/?user=coord&action=kiosk_start"),
        ("audit log: one day", f"/coordinator/audit/?date_from={day}&date_to={day}"),
        ("audit log: page 500", "/coordinator/audit/?page=500"),
        (
            "audit log: CSV of one action (about 33,000 rows)",
            "/coordinator/audit/?format=csv&action=kiosk_end",
        ),
        ("worklist: open now", "/coordinator/?view=open"),
        ("worklist: all, by study id", "/coordinator/?view=all&sort=study_id"),
        ("compliance: visit x arm x site", "/coordinator/compliance/?by=arm_site"),
    ]:
        timed(client, label, url)


if __name__ == "__main__":
    main()
