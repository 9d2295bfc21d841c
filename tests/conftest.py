"""Shared fixtures: the E2108 trial, sites, roles, and a real Celery worker on Redis."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def trial(db):
    from surveys.trial.setup import trial_create_e2108

    return trial_create_e2108()


@pytest.fixture
def site_a(db):
    from tests.factories import SiteFactory

    return SiteFactory(code="A01", name="Site A")


@pytest.fixture
def site_b(db):
    from tests.factories import SiteFactory

    return SiteFactory(code="B01", name="Site B")


@pytest.fixture
def coordinator_a(site_a):
    from tests.factories import coordinator_of

    return coordinator_of(site_a, username="coord_a")


@pytest.fixture
def coordinator_b(site_b):
    from tests.factories import coordinator_of

    return coordinator_of(site_b, username="coord_b")


@pytest.fixture
def stat_user(db):
    from tests.factories import statistician

    return statistician(username="stat")


@pytest.fixture
def utc_now() -> dt.datetime:
    return dt.datetime(2026, 6, 15, 14, 0, tzinfo=dt.UTC)


def _worker_env(db_name: str) -> dict[str, str]:
    from django.conf import settings

    db = settings.DATABASES["default"]
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db_name}",
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        DEBUG="false",
        PYTHONPATH=str(ROOT),
    )
    return env


class CeleryWorker:
    """A real ``celery worker`` process consuming from Redis, against the test database."""

    def __init__(self, db_name: str) -> None:
        self.db_name = db_name
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = ROOT / "var" / "test-celery-worker.log"

    def start(self) -> None:
        from ecogprom.celery import app

        self.log.parent.mkdir(exist_ok=True)
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge("celery")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "ecogprom",
                "worker",
                "--loglevel=INFO",
                "--pool=prefork",
                "--concurrency=1",
                "--without-gossip",
                "--without-mingle",
                "-n",
                f"test-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            env=_worker_env(self.db_name),
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"celery worker exited; see {self.log}")
            if app.control.ping(timeout=0.5, destination=[f"test-{os.getpid()}@{os.uname()[1]}"]):
                return
        raise RuntimeError(f"celery worker did not answer within 60 s; see {self.log}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker) -> Iterator[CeleryWorker]:
    """Session-wide worker; tests using it need ``@pytest.mark.django_db(transaction=True)``."""
    from django.db import connection

    worker = CeleryWorker(connection.settings_dict["NAME"])
    worker.start()
    yield worker
    worker.stop()


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.2):
    """Poll *predicate* until it returns something truthy; fail after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")
