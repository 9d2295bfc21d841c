"""Periodic jobs (the sweep, the digest, the recovery): never two runs at once, each recorded.

Periodic tasks hold a non-blocking Redis lock (when the broker is Redis) so
two runs never overlap, record a ``TaskRun`` row, and return a small dict.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator
from typing import Any

from django.utils import timezone

from ecogprom.celery import app
from surveys.models import TaskRun


@contextlib.contextmanager
def single_run(name: str, timeout: int = 3600) -> Iterator[bool]:
    """Yield True when this process holds the run lock for *name*.

    The sweep is correct even without the lock (compare-and-set); the lock
    only saves a second worker the work.
    """
    url = str(app.conf.broker_url)
    if not url.startswith(("redis://", "rediss://")):
        yield True
        return
    import redis

    client = redis.Redis.from_url(url, socket_timeout=3)
    lock = client.lock(f"ecogprom:lock:{name}", timeout=timeout, blocking=False)
    acquired = bool(lock.acquire(blocking=False))
    try:
        yield acquired
    finally:
        if acquired:
            with contextlib.suppress(Exception):
                lock.release()


def run_recorded(name: str, func: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run *func* under the run lock and record a TaskRun row with its result."""
    with single_run(name) as acquired:
        if not acquired:
            return {"skipped": "another run holds the lock"}
        run = TaskRun.objects.create(
            name=name, started_at=timezone.now(), worker=socket.gethostname()
        )
        result = func()
        run.finished_at = timezone.now()
        run.result = result
        run.save(update_fields=["finished_at", "result"])
        return result
