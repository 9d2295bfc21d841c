"""Two requests at the same moment (a double tap, a replayed queue): one answer, one completion."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
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


def test_two_tablets_answering_one_item_at_once_keep_the_later_tap(
    assessment, coordinator_a, kiosk
):
    """Tablet 1's late tap and tablet 2's later tap race for the row: the later tap wins,
    whichever gets the lock first, and both are logged."""
    import datetime as dt

    from surveys.models import AnswerTap, KioskSession
    from tests.tablet.conftest import hand_over

    KioskSession.objects.filter(pk=kiosk.pk).update(
        started_at=timezone.now() - dt.timedelta(hours=1)
    )
    second = hand_over(assessment, coordinator_a)
    now = timezone.now()

    def deliver(token: str, item: str, value: int, tapped: dt.datetime) -> Any:
        return kiosk_answer(
            token=token,
            assessment_id=assessment.pk,
            item_code=item,
            value=value,
            idempotency_key=f"{token[:6]}-{item}",
            tapped_at=tapped,
            now=timezone.now(),
        )

    for item in ("GP1", "GP2", "GP3", "GP4", "GP5"):
        results = at_once_each(
            [
                # tablet 1, tapped offline ten minutes ago; tablet 2, a minute ago
                partial(deliver, kiosk.token, item, 4, now - dt.timedelta(minutes=10)),
                partial(deliver, second.token, item, 1, now - dt.timedelta(minutes=1)),
            ]
        )
        assert not [r for r in results if isinstance(r, Exception)]
        assert Response.objects.get(assessment=assessment, item_code=item).value == 1, item
        assert AnswerTap.objects.filter(assessment=assessment, item_code=item).count() == 2


def test_a_delivery_racing_a_replacement_hand_off_is_stored_once(assessment, coordinator_a, kiosk):
    from surveys.models import AnswerTap, KioskSession
    from tests.tablet.conftest import hand_over

    results = at_once_each(
        [
            lambda: kiosk_answer(
                token=kiosk.token,
                assessment_id=assessment.pk,
                item_code="GP1",
                value=3,
                idempotency_key="racing",
                now=timezone.now(),
            ),
            lambda: hand_over(assessment, coordinator_a),
        ]
    )
    assert not [r for r in results if isinstance(r, Exception)]
    assert list(Response.objects.values_list("item_code", "value")) == [("GP1", 3)]
    tap = AnswerTap.objects.get()
    kiosk.refresh_from_db()
    assert kiosk.end_reason == KioskSession.EndReason.REPLACED
    # Under the row lock, the delivery saw the session either still live or already ended.
    audited = AuditEvent.objects.filter(action="late_answer").exists()
    assert audited == tap.from_ended_session


def at_once_each(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run each call in its own thread, released together; results or exceptions."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = []

    def run(call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results.append(call())
        except Exception as exc:  # collected and checked by the test
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results
