"""Received forms by mode (tablet, home, phone) in the compliance table, its page and its CSV."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from surveys.models import Site
from surveys.tablet.answers import assessment_submit, response_save
from surveys.trial.compliance import compliance_table
from tests.tablet.conftest import open_assessment_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def received(trial, site_a, coordinator_a):
    """Five baseline forms received: two on the tablet, two at home, one by phone."""
    now = timezone.now()
    for mode in ("tablet", "tablet", "home", "home", "phone"):
        form = open_assessment_for(trial, site_a)
        response_save(assessment_id=form.pk, item_code="GP1", value=2, now=now)
        staff = coordinator_a if mode == "phone" else None
        assessment_submit(assessment_id=form.pk, now=now, mode=mode, phone_staff=staff)
    open_assessment_for(trial, site_a)  # still open: not received
    return now


def test_the_table_counts_received_forms_by_mode(received, site_a):
    rows = compliance_table(sites=Site.objects.filter(pk=site_a.pk), now=received, totals=True)
    total = next(r for r in rows if r.level == "total").as_dict()
    assert (total["received_tablet"], total["received_home"], total["received_phone"]) == (2, 2, 1)
    assert (
        total["received"] == 5 == sum(total[f"received_{m}"] for m in ("tablet", "home", "phone"))
    )


def test_the_page_and_the_csv_show_them(client, received, coordinator_a):
    client.force_login(coordinator_a)
    html = client.get(reverse("coordinator:compliance")).content.decode()
    assert "Received, by mode" in html
    for key in ("received_tablet", "received_home", "received_phone"):
        assert f'data-key="{key}"' in html
    body = client.get(reverse("coordinator:compliance"), {"format": "csv"}).content.decode()
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    total = next(r for r in rows if r["level"] == "total")
    assert (total["received_tablet"], total["received_home"], total["received_phone"]) == (
        "2",
        "2",
        "1",
    )
