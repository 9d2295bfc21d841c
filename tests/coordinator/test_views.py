"""Coordinator workspace pages: site scoping, actions, constant query counts."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from surveys.models import Assessment, AuditEvent, Participant
from surveys.trial.sweep import sweep_assessments
from tests.factories import randomize

D = dt.date
NOW = dt.datetime(2025, 3, 1, 17, 0, tzinfo=dt.UTC)


def at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(18), tzinfo=dt.UTC)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def logged_in_a(client, coordinator_a):
    client.force_login(coordinator_a)
    return client


FIRST_DAY = D(2024, 1, 1)


def populate(trial, site, n: int, *, start: dt.date = FIRST_DAY) -> None:
    for i in range(n):
        randomize(
            trial,
            site,
            arm="AB"[i % 2],
            randomized_on=start + dt.timedelta(days=7 * i),
            now=at(start + dt.timedelta(days=7 * i)),
        )
    sweep_assessments(now=NOW)


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_login(client, clock):
    response = client.get(reverse("coordinator:worklist"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.django_db
def test_a_statistician_cannot_use_the_coordinator_workspace(client, stat_user, clock):
    client.force_login(stat_user)
    assert client.get(reverse("coordinator:worklist")).status_code == 403


@pytest.mark.django_db
def test_a_coordinator_of_site_a_gets_404_for_a_participant_of_site_b(
    logged_in_a, trial, site_b, clock
):
    other = randomize(trial, site_b, randomized_on=D(2025, 2, 1), now=NOW)
    assert logged_in_a.get(reverse("coordinator:participant", args=[other.pk])).status_code == 404
    off = logged_in_a.post(
        reverse("coordinator:off_study", args=[other.pk]),
        {"off_study_on": "2025-02-20", "reason": "death"},
    )
    assert off.status_code == 404
    missed = other.assessments.first()
    post = logged_in_a.post(
        reverse("coordinator:missed_reason", args=[missed.pk]), {"reason": "too_ill"}
    )
    assert post.status_code == 404
    other.refresh_from_db()
    assert other.on_study


@pytest.mark.django_db
def test_the_worklist_shows_only_my_sites_and_filters(logged_in_a, trial, site_a, site_b, clock):
    populate(trial, site_a, 4, start=D(2025, 2, 1))
    populate(trial, site_b, 3, start=D(2025, 2, 1))
    page = logged_in_a.get(reverse("coordinator:worklist"), {"view": "open"})
    assert page.status_code == 200
    rows = list(page.context["page"])
    assert rows and {a.participant.site.code for a in rows} == {"A01"}
    only_b_arm = logged_in_a.get(reverse("coordinator:worklist"), {"view": "all", "arm": "B"})
    assert {a.participant.arm.code for a in only_b_arm.context["page"]} == {"B"}
    by_id = logged_in_a.get(reverse("coordinator:worklist"), {"view": "all", "sort": "-study_id"})
    ids = [a.participant.study_id for a in by_id.context["page"]]
    assert ids == sorted(ids, reverse=True)


@pytest.mark.django_db
def test_missed_without_reason_appears_until_a_reason_is_recorded(
    logged_in_a, trial, site_a, clock
):
    p = randomize(trial, site_a, randomized_on=D(2024, 12, 1), now=at(D(2024, 12, 1)))
    sweep_assessments(now=NOW)  # baseline closed 2024-12-15
    missed = logged_in_a.get(reverse("coordinator:worklist"), {"view": "missed"})
    assert [a.participant_id for a in missed.context["page"]] == [p.pk]
    baseline = p.assessments.get(visit__code="baseline")
    response = logged_in_a.post(
        reverse("coordinator:missed_reason", args=[baseline.pk]),
        {"reason": "missed_appointment", "text": ""},
    )
    assert response.status_code == 302
    baseline.refresh_from_db()
    assert baseline.missed_reason == "missed_appointment"
    assert baseline.missed_reason_by.username == "coord_a"
    again = logged_in_a.get(reverse("coordinator:worklist"), {"view": "missed"})
    assert list(again.context["page"]) == []


@pytest.mark.django_db
def test_other_without_text_is_refused_with_a_message(logged_in_a, trial, site_a, clock):
    p = randomize(trial, site_a, randomized_on=D(2024, 12, 1), now=at(D(2024, 12, 1)))
    sweep_assessments(now=NOW)
    baseline = p.assessments.get(visit__code="baseline")
    response = logged_in_a.post(
        reverse("coordinator:missed_reason", args=[baseline.pk]), {"reason": "other", "text": ""}
    )
    assert response.status_code == 400
    assert "Describe the reason" in response.content.decode()
    baseline.refresh_from_db()
    assert baseline.missed_reason == ""


@pytest.mark.django_db
def test_taking_a_participant_off_study_from_her_page(logged_in_a, trial, site_a, clock):
    p = randomize(trial, site_a, randomized_on=D(2025, 2, 1), now=at(D(2025, 2, 1)))
    form = {"off_study_on": "2025-02-10", "reason": "withdrawal", "note": ""}
    review = logged_in_a.post(reverse("coordinator:off_study", args=[p.pk]), form)
    assert review.status_code == 200  # the confirmation page: nothing changed yet
    p.refresh_from_db()
    assert p.on_study
    confirm = review.context["fingerprint"]
    response = logged_in_a.post(
        reverse("coordinator:off_study", args=[p.pk]), {**form, "confirm": confirm}
    )
    assert response.status_code == 302
    p.refresh_from_db()
    assert p.off_study_reason == "withdrawal"
    assert set(p.assessments.values_list("status", flat=True)) == {"not_expected"}
    page = logged_in_a.get(reverse("coordinator:participant", args=[p.pk]))
    html = page.content.decode()
    assert "Off study since 2025-02-10" in html
    assert AuditEvent.objects.filter(participant=p, action="off_study").exists()


@pytest.mark.django_db
def test_a_future_off_study_date_is_refused(logged_in_a, trial, site_a, clock):
    p = randomize(trial, site_a, randomized_on=D(2025, 2, 1), now=at(D(2025, 2, 1)))
    response = logged_in_a.post(
        reverse("coordinator:off_study", args=[p.pk]),
        {"off_study_on": "2026-02-27", "reason": "death"},
    )
    assert response.status_code == 400
    assert "in the future" in response.content.decode()
    p.refresh_from_db()
    assert p.on_study


@pytest.mark.django_db
def test_registering_before_any_trial_exists_explains_instead_of_failing(
    logged_in_a, site_a, clock
):
    url = reverse("coordinator:randomize")
    events = AuditEvent.objects.count()
    page = logged_in_a.get(url)
    assert page.status_code == 409
    assert "No trial has been set up yet" in page.content.decode()
    data = {"study_id": "E2108-0001", "site": site_a.pk, "arm": "A", "randomized_on": "2025-02-25"}
    assert logged_in_a.post(url, data).status_code == 409
    assert AuditEvent.objects.count() == events and not Participant.objects.exists()


def test_registering_a_randomized_participant_schedules_her_visits(
    logged_in_a, trial, site_a, site_b, clock
):
    form = {
        "study_id": "E2108-9001",
        "site": site_a.pk,
        "arm": trial.arms.get(code="B").pk,
        "randomized_on": "2025-02-25",
        "language": "es",
    }
    response = logged_in_a.post(reverse("coordinator:randomize"), form)
    assert response.status_code == 302
    participant = trial.participants.get(study_id="E2108-9001")
    assert participant.assessments.count() == 4
    assert participant.assessments.get(visit__code="baseline").status == "open"
    # Not her site: refused.
    refused = logged_in_a.post(
        reverse("coordinator:randomize"), {**form, "study_id": "X", "site": site_b.pk}
    )
    assert refused.status_code == 400
    assert not trial.participants.filter(study_id="X").exists()


@pytest.mark.django_db
def test_the_compliance_csv_has_one_row_per_visit_and_arm(logged_in_a, trial, site_a, clock):
    populate(trial, site_a, 6)
    response = logged_in_a.get(reverse("coordinator:compliance"), {"format": "csv"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    every = list(csv.DictReader(io.StringIO(response.content.decode())))
    rows = [r for r in every if r["level"] == "group"]
    assert [(r["visit"], r["group"]) for r in rows] == [
        (v, arm) for v in ("Baseline", "6 months", "18 months", "30 months") for arm in "AB"
    ]
    assert sum(int(r["randomized"]) for r in rows if r["visit"] == "Baseline") == 6
    assert {
        "expected",
        "received",
        "compliance_pct",
        "completion_pct",
        "still_open",
        "missed_too_ill",
        "missed_unrecorded",
        "not_yet_due",
        "not_expected_death",
        "not_expected_other",
    } <= set(rows[0])
    # each visit's total, then the total of every visit
    totals = [(r["visit"], r["level"]) for r in every if r["level"] != "group"]
    assert totals == [
        *((v, "visit_total") for v in ("Baseline", "6 months", "18 months", "30 months")),
        ("All visits", "total"),
    ]
    assert every[-1]["randomized"] == str(6 * 4)


def count_queries(client, url: str, params: dict) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("coordinator:worklist", {"view": "all"}),
        ("coordinator:worklist", {"view": "open"}),
        ("coordinator:compliance", {}),
        ("coordinator:compliance", {"by": "site"}),
        ("coordinator:participants", {}),
        ("coordinator:compliance", {"by": "arm_site"}),
        ("coordinator:compliance", {"format": "csv"}),
        ("coordinator:grid", {}),
        ("coordinator:grid", {"sort": "urgent", "status": "open"}),
        ("coordinator:audit_log", {}),
        ("coordinator:audit_log", {"participant": "E2108", "action": "status_change"}),
    ],
)
def test_pages_run_a_constant_number_of_queries(logged_in_a, trial, site_a, clock, name, params):
    url = reverse(name)
    populate(trial, site_a, 3, start=D(2025, 2, 1))  # at least one open row in each case
    few = count_queries(logged_in_a, url, params)
    populate(trial, site_a, 30, start=D(2024, 2, 1))
    many = count_queries(logged_in_a, url, params)
    assert Assessment.objects.count() == 4 * 33
    assert many == few
