"""Shared fixtures: the database roles, the E2108 trial, sites, roles, a real Celery worker.

The suite runs as the application's PostgreSQL role, as production does: the
test database is created and migrated by the owner role (``ecogprom_owner``),
``manage.py grant_app_role`` grants the application role (``ecogprom_app``) its
privileges, and from then on every connection, the Celery worker's included,
is the application role, which owns nothing and may only SELECT and INSERT
the audit trail. Between transactional tests the harness empties the tables
as the owner, with the audit trail's TRUNCATE trigger disabled inside that
one transaction only (production never does this).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OWNER_ROLE = "ecogprom_owner"
APP_ROLE = "ecogprom_app"
AUDIT_TRUNCATE_TRIGGER = "surveys_auditevent_no_truncate"


def _ensure_roles() -> None:
    """Create the two roles if missing (cluster-wide, idempotent, safe when run concurrently)."""
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    admin = psycopg.connect(
        host=db["HOST"],
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    )
    with admin:
        for role, attributes in ((OWNER_ROLE, "LOGIN CREATEDB"), (APP_ROLE, "LOGIN")):
            admin.execute(
                f"DO $$ BEGIN CREATE ROLE {role} {attributes}; "
                "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
            )
        admin.execute(f"ALTER ROLE {OWNER_ROLE} LOGIN CREATEDB NOSUPERUSER")
        admin.execute(f"ALTER ROLE {APP_ROLE} LOGIN NOSUPERUSER NOCREATEDB")


def connect_as(role: str) -> None:
    """Every later query, in this process and in workers started after, runs as *role*."""
    from django.conf import settings
    from django.db import connections

    for alias in connections:
        connections[alias].close()
        connections[alias].settings_dict["USER"] = role
        settings.DATABASES[alias]["USER"] = role


@contextlib.contextmanager
def as_owner() -> Iterator[None]:
    connect_as(OWNER_ROLE)
    try:
        yield
    finally:
        connect_as(APP_ROLE)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix) -> None:
    """The test database is created and migrated by the owner role."""
    _ensure_roles()
    connect_as(OWNER_ROLE)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker) -> Iterator[None]:
    """After pytest-django's set-up (as the owner): grant, then run as the application role."""
    from django.core.management import call_command

    with django_db_blocker.unblock():
        call_command("grant_app_role", role=APP_ROLE, stdout=open(os.devnull, "w"))  # noqa: SIM115
    connect_as(APP_ROLE)
    yield
    connect_as(OWNER_ROLE)  # pytest-django drops the test database as its owner


def _patch_transactional_flush() -> None:
    """Transactional tests end with TRUNCATE of every table: as the owner, audit trigger off."""
    from django.db import connection, transaction
    from django.test.testcases import TransactionTestCase

    original = TransactionTestCase._fixture_teardown
    if getattr(original, "ecogprom_as_owner", False):
        return

    def _fixture_teardown(self: TransactionTestCase) -> None:
        with as_owner(), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    f"ALTER TABLE surveys_auditevent DISABLE TRIGGER {AUDIT_TRUNCATE_TRIGGER}"
                )
            original(self)
            with connection.cursor() as cursor:
                cursor.execute(
                    f"ALTER TABLE surveys_auditevent ENABLE TRIGGER {AUDIT_TRUNCATE_TRIGGER}"
                )

    _fixture_teardown.ecogprom_as_owner = True  # type: ignore[attr-defined]
    TransactionTestCase._fixture_teardown = _fixture_teardown  # type: ignore[method-assign]


def pytest_configure(config: pytest.Config) -> None:
    _patch_transactional_flush()


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


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: The Celery worker of the tests sends email by SMTP to this loopback port, where a test
#: that dispatches the reminder task starts its aiosmtpd server (tests/outreach).
WORKER_SMTP_PORT = _free_port()


def _worker_env(db_name: str) -> dict[str, str]:
    from django.conf import settings

    db = settings.DATABASES["default"]
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db_name}",
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        DEBUG="false",
        PYTHONPATH=str(ROOT),
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(WORKER_SMTP_PORT),
        EMAIL_TIMEOUT="5",
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
