"""The demo's home link: a recent participant's open form, her known (demo-only) code."""

from __future__ import annotations

import pytest
from django.utils import timezone

from surveys.demo.home import DEMO_ACCESS_CODE, demo_home_link
from surveys.home.links import check_access_code, resolve_link
from surveys.models import Assessment

pytestmark = pytest.mark.django_db


def test_the_demo_link_opens_a_recent_open_form_with_the_known_code(assessment):
    now = timezone.now()
    study_id, url = demo_home_link(now=now)
    link = resolve_link(url.removeprefix("/r/"), now=now)
    assert study_id == assessment.participant.study_id and link.assessment == assessment
    assert check_access_code(link, DEMO_ACCESS_CODE, now=now)
    assessment.refresh_from_db()
    assert assessment.status == Assessment.Status.OPEN  # nothing about the form changed


def test_without_an_open_form_there_is_no_demo_link(assessment):
    Assessment.objects.filter(pk=assessment.pk).update(status=Assessment.Status.MISSED)
    assert demo_home_link(now=timezone.now()) is None
