"""A task sent through real Redis runs in a real worker process and writes to PostgreSQL."""

from __future__ import annotations

import pytest

from surveys.models import TaskRun
from surveys.tasks import sweep_assessments_task
from tests.conftest import wait_for


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_task_sent_through_redis_is_executed_by_the_worker(celery_worker):
    from ecogprom.celery import app

    assert str(app.conf.broker_url).startswith("redis://")
    assert not TaskRun.objects.exists()
    sweep_assessments_task.delay()
    run = wait_for(
        lambda: TaskRun.objects.filter(
            name="surveys.sweep_assessments", finished_at__isnull=False
        ).first()
    )
    assert run.result == {"opened": 0, "missed": 0, "partial": 0}
    # The worker process, not this one, ran it.
    assert celery_worker.proc is not None and celery_worker.proc.poll() is None
