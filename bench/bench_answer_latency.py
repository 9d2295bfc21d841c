"""Answer-save latency: 150 simulated tablets against gunicorn + PostgreSQL on loopback.

gunicorn runs with the project's own ``deploy/gunicorn.conf.py`` (workers,
threads, keep-alive, no synchronized recycling), as production does.

Each tablet has its own kiosk session (as after a coordinator's hand-off),
loads its first page for the CSRF cookie, then taps through the whole form
(46 items), posting every tap to ``/tablet/answer/`` over a kept-alive
connection, with a short think time. Like real tablets on shaky Wi-Fi, some
taps are resent with the same idempotency key (a retry), some are double
taps with a new key, and some change the answer. Bounded: one pass over the
form per tablet and a wall-clock limit.

Prints p50/p95/p99 latency of every answer POST and the connections the
server dropped (a tablet then reconnects and sends the same tap again, with
the same idempotency key, as the tablet's script does), and checks, in the
database, that every answer was stored exactly once with the last value
sent (and that no save failed). Exit status 1 when the check fails.

Run: ``make bench``, or ``.venv/bin/python bench/bench_answer_latency.py`` with
``DATABASE_URL=postgres://postgres@127.0.0.1:5432/ecogprom`` (it uses a scratch
database ``<that database>_bench_answers`` on that server, dropped at the end).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import runpy
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse, urlunparse

from _django import setup_scratch_database

ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"
TARGET_P95_MS = 150.0
DROPPED = (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine, TimeoutError)


def scratch_name() -> str:
    """Next to DATABASE_URL's database, so two checkouts on one server never collide."""
    base = urlparse(os.environ.get("DATABASE_URL", "")).path.lstrip("/") or "ecogprom"
    return f"{base}_bench_answers"


@dataclass
class Tablet:
    number: int
    assessment_id: int
    session_key: str
    intended: dict[str, int] = field(default_factory=dict)
    changes: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: int = 0
    dropped: int = 0
    timed_out: bool = False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(tablets: int) -> list[Tablet]:
    """A trial, a site, a coordinator, and one open assessment handed over per tablet."""
    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils import timezone

    from surveys.models import Participant, Site
    from surveys.tablet.kiosk import kiosk_start
    from surveys.tablet.middleware import SESSION_KEY
    from surveys.trial.participants import participant_randomize
    from surveys.trial.setup import trial_create_e2108

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # seed fast
    now = timezone.now()
    trial = trial_create_e2108()
    site = Site.objects.create(code="BENCH", name="Bench site", timezone="America/New_York")
    coordinator = User.objects.create(username="bench_coord")
    coordinator.groups.add(Group.objects.get_or_create(name="coordinator")[0])
    site.coordinators.add(coordinator)
    arms = list(trial.arms.all())
    out = []
    for n in range(tablets):
        participant: Participant = participant_randomize(
            trial=trial,
            study_id=f"E2108-{n:04d}",
            site=site,
            arm=arms[n % 2],
            randomized_on=timezone.localdate(),
            language="en" if n % 4 else "es",
            actor="bench",
            now=now,
        )
        assessment = participant.assessments.get(visit__is_baseline=True)
        kiosk = kiosk_start(
            assessment_id=assessment.pk,
            started_by=coordinator,
            pin="2468",
            assistance="none",
            now=now,
        )
        store = SessionStore()
        store[SESSION_KEY] = kiosk.token
        store.create()
        out.append(Tablet(n, assessment.pk, store.session_key))
    return out


def start_gunicorn(port: int, extra: dict[str, str]) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(extra)
    env.update(
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_ACCESSLOG="/dev/null",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        SECURE_COOKIES="false",
        STATIC_MANIFEST="false",
        DEBUG="false",
        LOG_LEVEL="WARNING",
        PYTHONWARNINGS="ignore:No directory at",
        DATABASE_CONN_MAX_AGE="600",
    )
    gunicorn = Path(sys.executable).with_name("gunicorn")
    proc = subprocess.Popen(
        [
            str(gunicorn),
            "ecogprom.wsgi:application",
            "--config",
            str(GUNICORN_CONF),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"gunicorn exited with status {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            conn.close()
            return proc
        except OSError:
            time.sleep(0.2)
    stop(proc)
    sys.exit("gunicorn did not answer within 60 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def run_tablet(
    tablet: Tablet,
    port: int,
    items: list[str],
    think: tuple[float, float],
    deadline: float,
    start_gate: threading.Barrier,
) -> None:
    rng = random.Random(tablet.number)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    cookie = f"sessionid={tablet.session_key}"
    conn.request("GET", "/tablet/page/PWB/", headers={"Cookie": cookie})
    response = conn.getresponse()
    response.read()
    match = re.search(r"csrftoken=([A-Za-z0-9]+)", response.getheader("Set-Cookie") or "")
    if response.status != 200 or not match:
        tablet.errors.append(f"first page: HTTP {response.status}")
        start_gate.wait()
        return
    csrf = match.group(1)
    headers = {
        "Cookie": f"{cookie}; csrftoken={csrf}",
        "X-CSRFToken": csrf,
        "Content-Type": "application/json",
    }

    def post(item: str, value: int, key: str) -> None:
        nonlocal conn
        body = json.dumps(
            {"assessment": tablet.assessment_id, "item": item, "value": value, "key": key}
        )
        started = time.perf_counter()
        for _ in range(5):  # a dropped connection: reconnect, send the same tap again
            try:
                conn.request("POST", "/tablet/answer/", body=body, headers=headers)
                reply = conn.getresponse()
                payload = reply.read()
                break
            except DROPPED:
                tablet.dropped += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        else:
            tablet.errors.append(f"{item}: the connection dropped 5 times")
            return
        tablet.latencies_ms.append((time.perf_counter() - started) * 1000)
        tablet.requests += 1
        if reply.status != 200:
            tablet.errors.append(f"{item}: HTTP {reply.status} {payload[:120]!r}")

    start_gate.wait()
    time.sleep(rng.uniform(0, think[1]))  # tablets do not all tap in the same millisecond
    for n, item in enumerate(items):
        if time.monotonic() > deadline:
            # A throughput figure, not a lost answer: what was sent is still checked.
            tablet.timed_out = True
            break
        value = rng.randrange(5)
        key = f"t{tablet.number}-{n}-a"
        post(item, value, key)
        tablet.intended[item] = value
        roll = rng.random()
        if roll < 0.10:  # a retry after a lost response: same key
            post(item, value, key)
        elif roll < 0.15:  # a double tap: new key, same value
            post(item, value, f"t{tablet.number}-{n}-b")
        elif roll < 0.22:  # she changes her mind
            new = (value + 1 + rng.randrange(4)) % 5
            post(item, new, f"t{tablet.number}-{n}-c")
            tablet.intended[item] = new
            tablet.changes[item] = tablet.changes.get(item, 0) + 1
        time.sleep(rng.uniform(*think))
    conn.close()


def check_database(tablets: list[Tablet]) -> list[str]:
    from django.db.models import Count

    from surveys.models import Assessment, Response

    problems = []
    duplicates = (
        Response.objects.values("assessment_id", "item_code")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    if duplicates:
        problems.append(f"{duplicates} (assessment, item) pairs stored more than once")
    stored = {
        (a, i): (v, r)
        for a, i, v, r in Response.objects.values_list(
            "assessment_id", "item_code", "value", "revision"
        )
    }
    expected = {
        (t.assessment_id, item): (value, 1 + t.changes.get(item, 0))
        for t in tablets
        for item, value in t.intended.items()
    }
    if len(stored) != len(expected):
        problems.append(f"{len(stored)} answers stored, {len(expected)} sent")
    wrong = [key for key, want in expected.items() if stored.get(key) != want]
    if wrong:
        problems.append(f"{len(wrong)} answers differ from the last value sent, e.g. {wrong[:3]}")
    moved = Assessment.objects.filter(
        pk__in=[t.assessment_id for t in tablets if t.intended], status="in_progress"
    ).count()
    if moved != sum(1 for t in tablets if t.intended):
        problems.append(f"only {moved} assessments moved to in progress")
    return problems


def percentile(sorted_values: list[float], p: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def reset_database(db_name: str) -> None:
    """Empty the scratch database for the next round (dropped and migrated again)."""
    import psycopg
    from django.core.management import call_command
    from django.db import connections

    connections.close_all()
    parsed = urlparse(os.environ["DATABASE_URL"])
    with psycopg.connect(urlunparse(parsed._replace(path="/postgres")), autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{db_name}"')
    call_command("migrate", verbosity=0)


def run_round(args: argparse.Namespace, label: str, env: dict[str, str]) -> list[str]:
    """Seed, serve with gunicorn (deploy/gunicorn.conf.py + *env*), tap, report; the problems."""
    from django.db import connections

    from surveys import instrumentation
    from surveys.models import Trial

    tablets = seed(args.tablets)
    items = list(instrumentation.items(Trial.objects.get().instrument_version))
    connections.close_all()

    port = free_port()
    server = start_gunicorn(port, env)
    try:
        gate = threading.Barrier(len(tablets) + 1)
        deadline = time.monotonic() + args.max_seconds
        threads = [
            threading.Thread(
                target=run_tablet,
                args=(t, port, items, (args.think_min, args.think_max), deadline, gate),
                daemon=True,
            )
            for t in tablets
        ]
        for thread in threads:
            thread.start()
        gate.wait()
        started = time.monotonic()
        for thread in threads:
            thread.join(timeout=max(1.0, deadline - time.monotonic() + 30))
        elapsed = time.monotonic() - started
    finally:
        stop(server)

    latencies = sorted(ms for t in tablets for ms in t.latencies_ms)
    errors = [f"tablet {t.number}: {e}" for t in tablets for e in t.errors]
    problems = check_database(tablets) + errors[:10]
    requests = sum(t.requests for t in tablets)
    dropped = sum(t.dropped for t in tablets)
    previous = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    conf = runpy.run_path(str(GUNICORN_CONF))
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    print(f"-- {label}")
    print(
        f"answer saves: {requests} POSTs from {len(tablets)} tablets in {elapsed:.1f} s "
        f"({requests / elapsed:.0f}/s), gunicorn {conf['workers']} workers x "
        f"{conf['threads']} threads, max_requests {conf['max_requests']} "
        f"(jitter {conf['max_requests_jitter']}), think {args.think_min}-{args.think_max} s"
    )
    print(f"dropped connections: {dropped}")
    late = sum(t.timed_out for t in tablets)
    if late:
        print(f"tablets still tapping at the time limit: {late} (what they sent is checked)")
    if latencies:
        p50, p95, p99 = (percentile(latencies, p) for p in (50, 95, 99))
        print(
            f"latency ms: p50 {p50:.1f}  p95 {p95:.1f}  p99 {p99:.1f}  "
            f"max {latencies[-1]:.1f}  mean {statistics.fmean(latencies):.1f}"
        )
        verdict = "met" if p95 < TARGET_P95_MS else "MISSED"
        print(f"target p95 < {TARGET_P95_MS:.0f} ms: {verdict}")
    stored = sum(len(t.intended) for t in tablets)
    if problems:
        print("COUNT CHECK FAILED:")
        for problem in problems:
            print(f"  {problem}")
    else:
        print(
            f"count check: {stored} answers (of {len(tablets)} x {len(items)}) stored once, "
            f"each with the last value sent; retries and double taps stored nothing extra"
        )
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tablets", type=int, default=150)
    parser.add_argument("--think-min", type=float, default=0.5, help="seconds between taps")
    parser.add_argument("--think-max", type=float, default=1.5)
    parser.add_argument("--max-seconds", type=float, default=150.0)
    parser.add_argument(
        "--no-compare",
        action="store_true",
        help="skip the second round with synchronized worker recycling",
    )
    parser.add_argument("--keep-db", action="store_true", help="do not drop the scratch database")
    args = parser.parse_args()

    db_name = scratch_name()
    setup_scratch_database(db_name)
    with open("/proc/loadavg") as fh:
        print(f"machine load average before: {fh.read().split()[0]} ({os.cpu_count()} cores)")
    problems = run_round(args, "deploy/gunicorn.conf.py as shipped (no recycling)", {})
    if not args.no_compare:
        # The old settings recycled every 2,000 +- 200 requests; this run is shorter, so
        # 1,000 +- 100 makes every worker restart within it, at about the same time.
        reset_database(db_name)
        problems += run_round(
            args,
            "for comparison: synchronized recycling (max_requests 1000, jitter 100)",
            {"GUNICORN_MAX_REQUESTS": "1000", "GUNICORN_MAX_REQUESTS_JITTER": "100"},
        )

    if not args.keep_db:
        from django.db import connections

        connections.close_all()
        import psycopg

        parsed = urlparse(os.environ["DATABASE_URL"])
        with psycopg.connect(urlunparse(parsed._replace(path="/postgres")), autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
