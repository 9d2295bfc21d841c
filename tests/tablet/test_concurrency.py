"""Two requests at the same moment (a double tap, a replayed queue): one answer, one completion."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from surveys.models import AuditEvent, Response, Score
from surveys.tablet.answers import response_save
from surveys.tablet.kiosk import kiosk_answer, kiosk_submit

pytestmark = pytest.mark.django_db(transaction=True)


def at_once(call: Callable[[], Any], times: int = 2) -> list[Any]:
    """Run *call* in *times* threads released together; return results or exceptions."""
    barrier = threading.Barrier(times)
    results: list[Any] = []

    def run() -> None:
        barrier.wait()
        try:
            results.append(call())
        except Exception as exc:  # collected and checked by the test
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_the_same_tap_sent_twice_at_once_is_stored_once(kiosk, assessment):
    results = at_once(
        lambda: kiosk_answer(
            token=kiosk.token,
            assessment_id=assessment.pk,
            item_code="GP1",
            value=3,
            idempotency_key="same-key",
            now=timezone.now(),
        ),
        times=4,
    )
    assert not [r for r in results if isinstance(r, Exception)]
    assert sorted(r.created for r in results) == [False, False, False, True]
    assert Response.objects.filter(assessment=assessment).count() == 1
    assert AuditEvent.objects.filter(assessment=assessment, to_status="in_progress").count() == 1


def test_two_submissions_at_once_complete_once(kiosk, assessment):
    response_save(assessment_id=assessment.pk, item_code="GP1", value=2, now=timezone.now())
    results = at_once(lambda: kiosk_submit(token=kiosk.token, now=timezone.now()), times=3)
    assert not [r for r in results if isinstance(r, Exception)]
    assert sorted(completed_now for _, completed_now in results) == [False, False, True]
    assert AuditEvent.objects.filter(assessment=assessment, to_status="completed").count() == 1
    assert Score.objects.filter(assessment=assessment).count() == 1
