"""The worklist shows urgency and progress in every row and is acted on from the row.

The defects (issue 17): a participant whose window closed in two days showed
"Open" in the list ("Open · Overdue" only on her own page), no days left, no
"32 of 46 answered", no visible sort order (no arrow, no ``aria-sort``), no
search, no hand-over on the row, and the tabs dropped the filters.
"""

from __future__ import annotations

import datetime as dt
import re
from html import unescape
from urllib.parse import parse_qs, urlparse

import pytest
import time_machine
from django.db.models import Q
from django.urls import reverse

from surveys.coordinator import selectors
from surveys.models import Assessment, AuditEvent
from tests.clinic import build_clinic

NOW = dt.datetime(2025, 3, 1, 17, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def clinic(trial, site_a, clock):
    return build_clinic(trial, site_a, now=NOW)


@pytest.fixture
def logged_in(client, coordinator_a):
    client.force_login(coordinator_a)
    return client


def row_html(html: str, assessment: Assessment) -> str:
    match = re.search(rf'<tr id="row-{assessment.pk}".*?</tr>', html, re.S)
    assert match, f"no row for assessment {assessment.pk}"
    return match.group(0)


def text(fragment: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


@pytest.mark.django_db
def test_a_window_closing_in_two_days_is_overdue_with_its_days_left_in_the_row(logged_in, clinic):
    closing = clinic.form("closing", "baseline")
    html = logged_in.get(reverse("coordinator:worklist"), {"view": "open"}).content.decode()
    row = text(row_html(html, closing))
    assert "Overdue" in row
    assert re.search(r"\b2\b", row.split("to", 1)[1]), row  # 2 days left: today and tomorrow
    first = re.search(r'<tr id="row-(\d+)"', html)
    assert first and int(first.group(1)) == closing.pk  # soonest to close first


@pytest.mark.django_db
def test_a_form_in_progress_says_how_many_questions_are_answered(logged_in, clinic):
    started = clinic.form("started", "m6")
    html = logged_in.get(reverse("coordinator:worklist"), {"view": "open"}).content.decode()
    assert "32 of 46 answered" in text(row_html(html, started))


@pytest.mark.django_db
def test_the_sorted_column_says_so_with_aria_sort_and_an_arrow(logged_in, clinic):
    default = logged_in.get(reverse("coordinator:worklist")).content.decode()
    sorted_th = re.findall(r'<th scope="col"[^>]*aria-sort="(\w+)"[^>]*>(.*?)</th>', default, re.S)
    assert [(how, text(label)) for how, label in sorted_th] == [("ascending", "Days left ▲")]
    by_id = logged_in.get(reverse("coordinator:worklist"), {"view": "all", "sort": "-study_id"})
    html = by_id.content.decode()
    sorted_th = re.findall(r'<th scope="col"[^>]*aria-sort="(\w+)"[^>]*>(.*?)</th>', html, re.S)
    assert [(how, text(label)) for how, label in sorted_th] == [("descending", "Study id ▼")]
    ids = [a.participant.study_id for a in by_id.context["page"]]
    assert ids == sorted(ids, reverse=True)
    # the header link flips the order and keeps the tab
    link = re.search(r'aria-sort="descending"><a class="sort" href="([^"]+)"', html)
    assert link
    query = parse_qs(urlparse(unescape(link.group(1))).query)
    assert query == {"view": ["all"], "sort": ["study_id"]}


@pytest.mark.django_db
def test_search_by_study_id(logged_in, clinic):
    wanted = clinic.people["missed"].study_id
    page = logged_in.get(reverse("coordinator:worklist"), {"view": "all", "q": wanted[-3:]})
    assert {a.participant.study_id for a in page.context["page"]} == {wanted}


@pytest.mark.django_db
def test_tabs_and_pages_keep_the_filters_in_the_url(logged_in, clinic):
    params = {"view": "all", "site": "A01", "arm": "A", "q": "E2108"}
    html = logged_in.get(reverse("coordinator:worklist"), params).content.decode()
    tabs = re.findall(r'<li><a href="\?([^"]+)"', html)
    assert len(tabs) == len(selectors.WORKLIST_TABS)
    for query in tabs:
        kept = parse_qs(unescape(query))
        assert kept["site"] == ["A01"] and kept["arm"] == ["A"] and kept["q"] == ["E2108"]


@pytest.mark.django_db
def test_the_row_hands_the_tablet_over_and_records_a_reason(logged_in, clinic):
    missed = clinic.form("missed", "baseline")
    closing = clinic.form("closing", "baseline")
    url = reverse("coordinator:worklist") + "?view=all&arm=A&sort=-study_id"
    html = logged_in.get(url).content.decode()
    assert reverse("tablet:start", args=[closing.pk]) in row_html(html, closing)
    missed_row = row_html(html, missed)
    assert reverse("coordinator:missed_reason", args=[missed.pk]) in missed_row
    assert reverse("tablet:start", args=[missed.pk]) not in missed_row
    response = logged_in.post(
        reverse("coordinator:missed_reason", args=[missed.pk]),
        {"reason": "too_ill", "text": "", "next": url},
    )
    assert response.status_code == 302 and response.url == url  # back to the same list
    missed.refresh_from_db()
    assert missed.missed_reason == "too_ill"
    assert AuditEvent.objects.filter(assessment=missed, action="missed_reason").count() == 1


@pytest.mark.django_db
def test_a_reason_form_never_sends_her_elsewhere(logged_in, clinic):
    missed = clinic.form("missed", "baseline")
    response = logged_in.post(
        reverse("coordinator:missed_reason", args=[missed.pk]),
        {"reason": "too_ill", "next": "https://evil.example/phish"},
    )
    assert response.status_code == 302
    assert response.url == reverse("coordinator:participant", args=[missed.participant_id])


@pytest.mark.django_db
def test_unknown_filters_and_sorts_fall_back_instead_of_failing(logged_in, clinic):
    response = logged_in.get(
        reverse("coordinator:worklist"),
        {"view": "nope", "sort": "'; drop", "bucket": "x" * 500, "page": "-3"},
    )
    assert response.status_code == 200
    assert response.context["view"] == "open"


@pytest.mark.django_db
def test_a_new_tab_is_one_line_of_data(logged_in, clinic, monkeypatch):
    """How the completion issue adds "needs a call": a Tab; its count and page follow."""
    started = clinic.form("started", "m6")
    tab = selectors.Tab("call", "Needs a call", lambda now: Q(status="in_progress"))
    tabs = (*selectors.WORKLIST_TABS, tab)
    monkeypatch.setattr(selectors, "WORKLIST_TABS", tabs)
    monkeypatch.setattr(selectors, "TABS", {t.key: t for t in tabs})
    page = logged_in.get(reverse("coordinator:worklist"), {"view": "call"})
    assert [a.pk for a in page.context["page"]] == [started.pk]
    assert 'Needs a call <span class="count">(1)</span>' in page.content.decode()
