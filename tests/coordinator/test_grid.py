"""The status grid: one row per participant of her sites, one column per visit."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from surveys.coordinator.grid import GRID_PAGE_SIZE, ICONS
from tests.clinic import build_clinic
from tests.factories import randomize

NOW = dt.datetime(2025, 3, 1, 17, 0, tzinfo=dt.UTC)
GRID = "coordinator:grid"


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


def text(fragment: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def cells(html: str, participant) -> list[str]:
    row = re.search(rf'<tr id="p-{participant.pk}">(.*?)</tr>', html, re.S)
    assert row, participant.study_id
    return [text(c) for c in re.findall(r'<td class="cell[^"]*">(.*?)</td>', row.group(1), re.S)]


@pytest.mark.django_db
def test_each_participant_is_a_row_and_each_visit_a_column_in_words_and_icons(
    logged_in, clinic, trial, site_b
):
    other = randomize(trial, site_b, randomized_on=dt.date(2025, 2, 1), now=NOW)
    response = logged_in.get(reverse(GRID))
    html = response.content.decode()
    assert [label for _, label in response.context["grid"].visits] == [
        "Baseline",
        "6 months",
        "18 months",
        "30 months",
    ]
    assert other.study_id not in html  # another site's participant
    closing = cells(html, clinic.people["closing"])
    assert closing[0].startswith(f"{ICONS['open']} Open") and "Overdue" in closing[0]
    assert "2 days left" in closing[0]
    started = cells(html, clinic.people["started"])
    assert started[0].startswith(f"{ICONS['missed']} Missed") and "no reason yet" in started[0]
    started = cells(html, clinic.people["started"])
    assert "In progress" in started[1] and "32 of 46 answered" in started[1]
    done = cells(html, clinic.people["done"])
    assert done[0].startswith(f"{ICONS['completed']} Completed")
    assert done[1].startswith(f"{ICONS['scheduled']} Scheduled") and "opens in" in done[1]
    died = cells(html, clinic.people["died"])
    assert [c.split(":")[0].strip() for c in died[1:]] == [
        f"{ICONS['not_expected']} Not expected"
    ] * 3
    # a click on a cell opens her page at that form
    form = clinic.form("closing", "baseline")
    her_page = reverse("coordinator:participant", args=[form.participant_id])
    assert f'href="{her_page}#assessment-{form.pk}"' in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "overdue"}, {"closing"}),
        ({"status": "missed"}, {"started", "missed"}),
        ({"study": "off"}, {"died"}),
        ({"arm": "B"}, {"started", "done", "new"}),
        ({"arm": "B", "status": "open"}, {"started", "new"}),
        ({"arm": "A", "status": "open"}, {"closing"}),
    ],
)
def test_filters(logged_in, clinic, params, expected):
    page = logged_in.get(reverse(GRID), params)
    shown = {row.participant.pk for row in page.context["grid"].rows}
    assert shown == {clinic.people[name].pk for name in expected}


@pytest.mark.django_db
def test_search_and_sort_soonest_closing_first(logged_in, clinic):
    wanted = clinic.people["started"]
    found = logged_in.get(reverse(GRID), {"q": wanted.study_id.lower()})
    assert [r.participant for r in found.context["grid"].rows] == [wanted]
    urgent = logged_in.get(reverse(GRID), {"sort": "urgent"})
    order = [r.participant.pk for r in urgent.context["grid"].rows]
    people = clinic.people
    # closing (tomorrow), new (baseline: 14 days), started (15 to 25 days); no open window last
    assert order[:3] == [people["closing"].pk, people["new"].pk, people["started"].pk]
    html = urgent.content.decode()
    assert 'aria-current="true"' in html


@pytest.mark.django_db
def test_pages_of_participants_on_the_server_with_a_constant_number_of_queries(
    logged_in, trial, site_a, clock
):
    def queries() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as ctx:
            response = logged_in.get(reverse(GRID), {"sort": "urgent", "page": "2"})
        assert response.status_code == 200
        return len(ctx.captured_queries), len(response.context["grid"].rows)

    for i in range(GRID_PAGE_SIZE + 5):
        randomize(trial, site_a, randomized_on=dt.date(2024, 1, 1) + dt.timedelta(days=i), now=NOW)
    few, shown = queries()
    assert shown == 5
    for i in range(60):
        randomize(trial, site_a, randomized_on=dt.date(2023, 1, 1) + dt.timedelta(days=i), now=NOW)
    many, shown = queries()
    assert shown == GRID_PAGE_SIZE
    assert many == few
