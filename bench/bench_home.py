"""Home links and the "needs a call" list at 10,000 open forms.

Builds one site with 10,000 participants whose baseline form is open (a third
not started for weeks, a third started and stalled, a third recently
answered), 3,000 recorded calls and 10,000 home links, then times what runs
on every request or every morning: opening a link (resolve + the access code
checked with the production password hasher), the worklist's "Needs a call"
tab and the tab counts, and the daily digest's list.

Prints wall time and SQL query count. Run: `make bench` (or directly with
DATABASE_URL pointing at PostgreSQL); uses a scratch database.
"""

from __future__ import annotations

import datetime as dt
import re
import time

from _django import setup_scratch_database

N = 10_000
CALLS = 3_000


def build(now: dt.datetime) -> list[str]:
    import secrets

    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group, User

    from surveys.home.links import TOKEN_BYTES, token_hash
    from surveys.models import (
        Assessment,
        CallAttempt,
        HomeAccess,
        HomeLink,
        Participant,
        Response,
        Site,
    )
    from surveys.trial.participants import assessment_build
    from surveys.trial.setup import trial_create_e2108

    trial = trial_create_e2108(start_date=(now - dt.timedelta(days=400)).date())
    baseline = trial.visits.get(is_baseline=True)
    arms = list(trial.arms.all())
    site = Site.objects.create(code="HOME", name="Home site", timezone="America/Chicago")
    user = User.objects.create(username="coord", email="coord@example.org")
    user.groups.add(Group.objects.create(name="coordinator"))
    site.coordinators.add(user)
    Participant.objects.bulk_create(
        (
            Participant(
                trial=trial,
                study_id=f"E2108-{n:05d}",
                site=site,
                arm=arms[n % 2],
                randomized_on=(now - dt.timedelta(days=10)).date(),
            )
            for n in range(N)
        ),
        batch_size=5000,
    )
    forms = []
    for p in Participant.objects.all().iterator(chunk_size=5000):
        p.site, p.trial = site, trial
        form = assessment_build(participant=p, visit=baseline)
        form.status = Assessment.Status.OPEN
        form.opens_at = now - dt.timedelta(days=(p.pk % 30) + 1)
        form.closes_at = now + dt.timedelta(days=(p.pk % 40) + 1)
        forms.append(form)
    Assessment.objects.bulk_create(forms, batch_size=5000)
    ids = list(Assessment.objects.order_by("pk").values_list("pk", flat=True))
    started = ids[N // 3 :]
    Response.objects.bulk_create(
        (
            Response(
                assessment_id=pk,
                item_code="GP1",
                value=1,
                saved_at=now - dt.timedelta(days=10 if i % 2 else 1),
            )
            for i, pk in enumerate(started)
        ),
        batch_size=10_000,
    )
    Assessment.objects.filter(pk__in=started).update(status=Assessment.Status.IN_PROGRESS)
    outcomes = CallAttempt.Outcome.values
    CallAttempt.objects.bulk_create(
        (
            CallAttempt(
                assessment_id=ids[i * 3],
                called_at=now - dt.timedelta(hours=i),
                called_by=user,
                outcome=(o := outcomes[i % len(outcomes)]),
                call_back_on=(now + dt.timedelta(days=2)).date() if o == "call_back" else None,
            )
            for i in range(CALLS)
        ),
        batch_size=10_000,
    )
    code_hash = make_password("135790")  # the production hasher, once
    HomeAccess.objects.bulk_create(
        (
            HomeAccess(participant_id=pid, code_hash=code_hash, issued_at=now)
            for pid in Participant.objects.values_list("pk", flat=True)
        ),
        batch_size=10_000,
    )
    tokens = [secrets.token_urlsafe(TOKEN_BYTES) for _ in ids]
    HomeLink.objects.bulk_create(
        (
            HomeLink(assessment_id=pk, token_hash=token_hash(token), issued_at=now)
            for pk, token in zip(ids, tokens, strict=True)
        ),
        batch_size=10_000,
    )
    return tokens


def timed(label: str, action) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection, reset_queries

    reset_queries()
    start = time.perf_counter()
    result = action()
    elapsed = time.perf_counter() - start
    print(f"  {label:<58} {elapsed * 1000:8.1f} ms  {len(connection.queries):3d} queries  {result}")


def main() -> None:
    setup_scratch_database("ecogprom_bench_home")
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from surveys.coordinator.digest import digest_for
    from surveys.coordinator.selectors import worklist_counts
    from surveys.home.links import check_access_code, resolve_link
    from surveys.models import Site

    now = timezone.now()
    start = time.perf_counter()
    tokens = build(now)
    took = time.perf_counter() - start
    print(f"built {N:,} open forms, {CALLS:,} calls, {N:,} links in {took:.1f} s")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    settings.DEBUG = True
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.OTP_REQUIRED_FOR_STAFF = False  # the pages are timed, not the sign-in
    connection.force_debug_cursor = True
    user = User.objects.get(username="coord")
    client = Client()
    client.force_login(user)
    client.get("/coordinator/?view=needs_call")  # warm up

    def page(url: str):  # type: ignore[no-untyped-def]
        def get() -> str:
            response = client.get(url)
            assert response.status_code == 200
            caption = re.search(r'<caption id="worklist-caption">([^<,]+)', response.text)
            return caption.group(1) if caption else "?"

        return get

    link = resolve_link(tokens[4321], now=now)
    timed("resolve a link (one indexed lookup)", lambda: resolve_link(tokens[1234], now=now).pk)
    timed("check her access code (PBKDF2, the production hasher)",
          lambda: check_access_code(link, "135790", now=now))  # fmt: skip
    timed("worklist: Needs a call (first page)", page("/coordinator/?view=needs_call"))
    timed("worklist: Needs a call, by site", page("/coordinator/?view=needs_call&sort=study_id"))
    timed(
        "worklist tab counts (every tab)",
        lambda: worklist_counts(sites=Site.objects.all(), now=now)["needs_call"],
    )
    timed("digest: the forms to call", lambda: len(digest_for(user, now=now)["needs_call"]))


if __name__ == "__main__":
    main()
