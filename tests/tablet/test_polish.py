"""The patient's pages: text size, the time the form takes, the staff link in her language."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from surveys.models import Assessment
from surveys.tablet import pages
from surveys.tablet.views import SESSION_TEXT_SIZE
from tests.tablet.conftest import hand_over, open_assessment_for, tablet_client


def html_class(html: str) -> str:
    match = re.search(r'<html lang="\w+" class="([^"]+)">', html)
    assert match, html[:200]
    return match.group(1)


@pytest.mark.django_db
def test_the_text_size_is_kept_for_the_hand_off_and_shown_on_every_page(tablet):
    page = reverse("tablet:page", args=["PWB"])
    assert html_class(tablet.get(page).content.decode()) == "text-normal"
    response = tablet.post(reverse("tablet:text_size"), {"size": "x-large", "next": page})
    assert response.status_code == 302 and response.url == page
    html = tablet.get(page).content.decode()
    assert html_class(html) == "text-x-large"
    assert re.search(r'value="x-large" class="size-btn size-x-large" aria-pressed="true"', html)
    intro = tablet.get(reverse("tablet:intro")).content.decode()
    assert html_class(intro) == "text-x-large"
    # from the script: no page change
    script = tablet.post(
        reverse("tablet:text_size"), {"size": "large"}, HTTP_ACCEPT="application/json"
    )
    assert script.status_code == 204 and tablet.session[SESSION_TEXT_SIZE] == "large"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("form", "status"),
    [({"size": "huge"}, 400), ({}, 400), ({"size": "<script>"}, 400)],
)
def test_an_unknown_text_size_is_refused(tablet, form, status):
    assert tablet.post(reverse("tablet:text_size"), form).status_code == status
    assert SESSION_TEXT_SIZE not in tablet.session


@pytest.mark.django_db
@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/admin/", "/tablet/\\\\evil"]
)
def test_the_text_size_form_only_returns_to_a_tablet_page(tablet, target):
    response = tablet.post(reverse("tablet:text_size"), {"size": "large", "next": target})
    assert response.status_code == 302 and response.url == reverse("tablet:form")


@pytest.mark.django_db
def test_the_intro_says_how_long_the_form_takes(tablet, kiosk, trial, site_a):
    intro = tablet.get(reverse("tablet:intro")).content.decode()
    # No timed forms yet: 46 questions x 12 s = 9.2 minutes.
    assert "Answering them takes about 9 minutes." in intro
    others = [open_assessment_for(trial, site_a) for _ in range(pages.MIN_TIMED_FORMS)]
    for i, other in enumerate(others):
        Assessment.objects.filter(pk=other.pk).update(
            status=Assessment.Status.COMPLETED,
            completed_at=timezone.now(),
            page_seconds={"intro": 30.0, "PWB": 700.0 + 10 * i, "SWB": 300.0},
        )
    # Median of 1030 ... 1220 s = 1125 s = 18.75 minutes, about 20.
    assert pages.minutes_estimate(kiosk.assessment) == 20
    assert "about 20 minutes" in tablet.get(reverse("tablet:intro")).content.decode()


@pytest.mark.django_db
def test_the_spanish_staff_link_is_not_read_as_hers(trial, site_a, coordinator_a):
    assessment = open_assessment_for(trial, site_a, language="es")
    tablet = tablet_client(hand_over(assessment, coordinator_a))
    html = tablet.get(reverse("tablet:page", args=["PWB"])).content.decode()
    link = re.search(r'<a class="staff-link"[^>]*>(.*?)</a>', html)
    assert link and link.group(1) == "Solo para el personal de la clínica"
    assert ">Personal<" not in html
    english = tablet_client(hand_over(open_assessment_for(trial, site_a), coordinator_a))
    html = english.get(reverse("tablet:page", args=["PWB"])).content.decode()
    assert ">Clinic staff only</a>" in html


@pytest.mark.django_db
def test_the_save_status_starts_as_no_answers_yet(tablet):
    html = tablet.get(reverse("tablet:page", args=["PWB"])).content.decode()
    assert 'data-msg-none="No answers yet"' in html
    assert 'data-answered-items=""' in html  # the script counts what the page lists: none
