"""The compliance page: every count links to the forms behind it; the CSV has the same numbers."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from html import unescape

import pytest
import time_machine
from django.urls import reverse

from surveys.trial.compliance import COLUMNS
from tests.clinic import build_clinic

NOW = dt.datetime(2025, 3, 1, 17, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def logged_in(client, coordinator_a, trial, site_a, site_b, clock):
    build_clinic(trial, site_a, now=NOW)
    build_clinic(trial, site_b, now=NOW)  # not hers
    client.force_login(coordinator_a)
    return client


def cells(html: str) -> list[tuple[str, str, str]]:
    """(column key, shown value, link) of every count cell."""
    found = re.findall(r'<td class="num[^"]*" data-key="([^"]+)">(.*?)</td>', html, re.S)
    out = []
    for key, content in found:
        link = re.search(r'href="([^"]+)"', content)
        value = " ".join(unescape(re.sub(r"<[^>]+>", " ", content)).split()).split(" ")[0]
        out.append((key, value, unescape(link.group(1)) if link else ""))
    return out


@pytest.mark.django_db
@pytest.mark.parametrize("by", ["arm", "site", "arm_site"])
def test_each_count_links_to_exactly_the_forms_it_counts(logged_in, by):
    html = logged_in.get(reverse("coordinator:compliance"), {"by": by}).content.decode()
    counts = [c for c in cells(html) if not c[0].endswith("_pct")]
    assert len(counts) >= len([c for c in COLUMNS if c.kind == "count"])
    linked = 0
    for key, value, link in counts:
        if value == "0":
            assert link == "", key
            continue
        page = logged_in.get(link)
        assert page.status_code == 200
        assert page.context["page"].paginator.count == int(value), (key, link)
        linked += 1
    assert linked > 10


@pytest.mark.django_db
def test_the_csv_has_the_numbers_of_the_page(logged_in):
    page = logged_in.get(reverse("coordinator:compliance"), {"by": "arm_site"})
    rows = page.context["rows"]
    response = logged_in.get(reverse("coordinator:compliance"), {"by": "arm_site", "format": "csv"})
    table = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(table) == len(rows)
    for row, line in zip(rows, table, strict=True):
        assert (line["visit"], line["level"]) == (row.visit, row.level)
        for column in COLUMNS:
            value = row.value(column)
            assert line[column.key] == ("" if value is None else str(value)), column.key
    assert {line["site"] for line in table if line["level"] == "group"} == {"A01"}


@pytest.mark.django_db
def test_the_table_names_every_column_the_issue_asks_for(logged_in):
    html = unescape(logged_in.get(reverse("coordinator:compliance")).content.decode())
    html = html.replace("\u00ad", "")
    for header in (
        "Randomized",
        "Expected",
        "Received",
        "Missed, by reason",
        "Not expected",
        "Died",
        "Off study",
        "Not yet due",
        "Open now",
        "Compliance",
        "Completion",
    ):
        assert header in html, header
    assert html.count('class="level-visit_total"') == 4
    assert html.count('class="level-total"') == 1
