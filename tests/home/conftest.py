"""Fixtures for home and phone completion: an open assessment, her access code, a link."""

from __future__ import annotations

import pytest
from django.utils import timezone

from surveys.home.links import issue_access_code, issue_link
from tests.tablet.conftest import open_assessment_for

CODE = "135790"


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    """Access codes are hashed with a fast hasher in tests (PBKDF2 is slow on purpose)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def assessment(trial, site_a):
    return open_assessment_for(trial, site_a)


@pytest.fixture
def access_code(assessment, coordinator_a) -> str:
    return issue_access_code(
        assessment.participant, actor=coordinator_a, now=timezone.now(), code=CODE
    )


@pytest.fixture
def link_url(assessment, access_code, coordinator_a) -> str:
    return issue_link(assessment, actor=coordinator_a, now=timezone.now())


def token_of(url: str) -> str:
    return url.removeprefix("/r/")
