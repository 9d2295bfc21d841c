"""Fixtures of the outreach tests: a Chicago site, a participant with an open baseline form."""

from __future__ import annotations

import datetime as dt

import pytest

from surveys.home.links import issue_access_code
from surveys.models import Assessment, Participant
from surveys.outreach.contacts import ContactInput, contact_save
from surveys.trial.sweep import sweep_assessments
from tests.factories import SiteFactory, coordinator_of, randomize

#: Randomized 2027-03-01 in Chicago: the baseline window is 2027-02-01 to 2027-03-15 (it
#: closes at midnight ending the 15th, after the clocks went forward on the 14th).
RANDOMIZED = dt.date(2027, 3, 1)
ENROLLED_AT = dt.datetime(2027, 3, 1, 18, 0, tzinfo=dt.UTC)
#: "7 days before it closes" is 2027-03-09 at 10:00 CST = 16:00 UTC; "2 days before" is
#: 2027-03-14 at 10:00 CDT = 15:00 UTC.
ACCESS_CODE = "246810"
SEVEN_BEFORE = dt.datetime(2027, 3, 9, 16, 5, tzinfo=dt.UTC)
TWO_BEFORE = dt.datetime(2027, 3, 14, 15, 5, tzinfo=dt.UTC)


@pytest.fixture
def chicago(db):
    return SiteFactory(code="CHI", name="Chicago", timezone="America/Chicago")


@pytest.fixture
def coordinator_chi(chicago):
    return coordinator_of(chicago, username="coord_chi", email="coord@example.org")


def enroll(trial, site, *, study_id: str, language: str = "en") -> Participant:
    participant = randomize(
        trial,
        site,
        study_id=study_id,
        randomized_on=RANDOMIZED,
        now=ENROLLED_AT,
        language=language,
    )
    sweep_assessments(now=ENROLLED_AT)
    return participant


def baseline(participant: Participant) -> Assessment:
    return Assessment.objects.get(participant=participant, visit__code="baseline")


def register(participant, actor, **kwargs) -> None:
    values = {
        "email": f"{participant.study_id.lower()}@example.org",
        "mobile": "+15555550123",
        "preferred_channel": "email",
        "language": participant.language,
        "quiet_start": None,
        "quiet_end": None,
        "consent": True,
    }
    values.update(kwargs)
    contact_save(participant=participant, data=ContactInput(**values), actor=actor, now=ENROLLED_AT)
    issue_access_code(participant, actor=actor, now=ENROLLED_AT, code=ACCESS_CODE)


@pytest.fixture
def maria(trial, chicago, coordinator_chi):
    participant = enroll(trial, chicago, study_id="E2108-0101")
    register(participant, coordinator_chi, email="maria@example.org")
    assert baseline(participant).status == Assessment.Status.OPEN
    return participant
