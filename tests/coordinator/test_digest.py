"""The daily digest email to coordinators."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from surveys.coordinator.digest import send_coordinator_digests
from surveys.trial.sweep import sweep_assessments
from tests.factories import randomize

D = dt.date


@pytest.mark.django_db
def test_each_coordinator_gets_her_own_sites_windows(
    trial, site_a, site_b, coordinator_a, coordinator_b
):
    now = dt.datetime(2025, 3, 10, 12, tzinfo=dt.UTC)
    closing = randomize(trial, site_a, study_id="E2108-0101", randomized_on=D(2025, 3, 1), now=now)
    randomize(trial, site_a, study_id="E2108-0102", randomized_on=D(2024, 12, 1), now=now)
    sweep_assessments(now=now)
    result = send_coordinator_digests(now=now)
    assert result == {"sent": 1, "skipped": 1}  # site B has nothing to act on
    (message,) = mail.outbox
    assert message.to == [coordinator_a.email]
    assert "E2108-0101" in message.body and "E2108-0102" in message.body
    assert "1 closing" in message.subject and "1 missed without a reason" in message.subject
    assert closing.assessments.get(visit__code="baseline").status == "open"
