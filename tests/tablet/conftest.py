"""Fixtures for the tablet: an open assessment, a coordinator's hand-off, a kiosk client."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from surveys.models import Assessment, KioskSession
from surveys.tablet.middleware import SESSION_KEY
from tests.factories import randomize

PIN = "2468"


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    """PINs and passwords are hashed with a fast hasher in tests (PBKDF2 is slow on purpose)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def open_assessment_for(trial, site, *, language: str = "en", study_id: str | None = None):
    """A participant randomized today: her baseline assessment is open now."""
    now = timezone.now()
    participant = randomize(
        trial,
        site,
        randomized_on=timezone.localdate(),
        now=now,
        language=language,
        study_id=study_id,
    )
    assessment = participant.assessments.get(visit__is_baseline=True)
    assert assessment.status == Assessment.Status.OPEN
    return assessment


def hand_over(assessment, coordinator, *, assistance: str = "none", language: str | None = None):
    from surveys.tablet.kiosk import kiosk_start

    return kiosk_start(
        assessment_id=assessment.pk,
        started_by=coordinator,
        pin=PIN,
        assistance=assistance,
        language=language,
        now=timezone.now(),
    )


def tablet_client(session: KioskSession, **kwargs) -> Client:
    """A browser whose session carries the kiosk token (as after the hand-off)."""
    client = Client(**kwargs)
    store = client.session
    store[SESSION_KEY] = session.token
    store.save()
    return client


@pytest.fixture
def assessment(trial, site_a):
    return open_assessment_for(trial, site_a)


@pytest.fixture
def kiosk(assessment, coordinator_a) -> KioskSession:
    return hand_over(assessment, coordinator_a)


@pytest.fixture
def tablet(kiosk) -> Client:
    return tablet_client(kiosk)


def make_idle(session: KioskSession, seconds: int = 3600) -> None:
    KioskSession.objects.filter(pk=session.pk).update(
        last_activity_at=timezone.now() - dt.timedelta(seconds=seconds)
    )
