"""Each malformed input the attack found answered with a 4xx, and nothing stored.

Before: every request here answered 500 with a traceback in the log
(RecursionError, psycopg DataError on a NUL, OverflowError on year 9999/0001).
"""

from __future__ import annotations

import json
import logging

import pytest
from django.test import Client
from django.urls import reverse

from surveys.models import AnalysisRun, ExportJob, Participant, Response
from tests.hardening.snapshot import changed_tables, data_fingerprint
from tests.tablet.conftest import hand_over, open_assessment_for, tablet_client

pytestmark = pytest.mark.django_db
DEEP = "[" * 100_000


@pytest.fixture
def no_server_errors(caplog):
    caplog.set_level(logging.ERROR, logger="django.request")
    yield
    errors = [r.getMessage() for r in caplog.records if r.name == "django.request"]
    assert errors == []


@pytest.fixture
def unchanged(db):
    before = data_fingerprint()
    yield
    assert changed_tables(before, data_fingerprint()) == []


def signed_in(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


@pytest.fixture
def as_coordinator(coordinator_a) -> Client:
    return signed_in(coordinator_a)


@pytest.fixture
def as_statistician(stat_user) -> Client:
    return signed_in(stat_user)


@pytest.mark.parametrize("body", [DEEP, "[" * 500 + "]" * 500, '{"a":' * 50 + "1" + "}" * 50])
def test_deeply_nested_json_to_the_tablet_is_refused(
    trial, site_a, coordinator_a, body, no_server_errors
):
    assessment = open_assessment_for(trial, site_a)
    tablet = tablet_client(hand_over(assessment, coordinator_a), raise_request_exception=False)
    before = data_fingerprint()
    response = tablet.post(reverse("tablet:answer"), body, content_type="application/json")
    assert response.status_code in (400, 413)
    assert response.json()["code"] in ("too_deep", "too_large")
    assert changed_tables(before, data_fingerprint()) == []


@pytest.mark.parametrize(
    "body",
    [
        '{"assessment": %d, "item": "GP1\\u0000", "value": 1}',
        '{"assessment": %d, "item": "GP1", "value": 1, "key": "\\ud800"}',
        '{"assessment": %d, "item": "GP1", "value": NaN}',
        '{"assessment": 99999999999999999999999, "item": "GP1", "value": 1}',
    ],
)
def test_nul_surrogates_nan_and_huge_ids_to_the_tablet_are_refused(
    trial, site_a, coordinator_a, body, no_server_errors
):
    assessment = open_assessment_for(trial, site_a)
    tablet = tablet_client(hand_over(assessment, coordinator_a), raise_request_exception=False)
    payload = body % assessment.pk if "%d" in body else body
    response = tablet.post(reverse("tablet:answer"), payload, content_type="application/json")
    assert response.status_code == 400
    assert not Response.objects.exists()


def test_deeply_nested_json_to_the_api_missed_reason_is_refused(
    trial, site_a, coordinator_a, no_server_errors
):
    assessment = open_assessment_for(trial, site_a)
    url = reverse("api:assessment-missed-reason", args=[assessment.pk])
    client = signed_in(coordinator_a)
    before = data_fingerprint()
    for body in (DEEP, "[" * 200 + "]" * 200):
        response = client.post(url, body, content_type="application/json")
        assert response.status_code in (400, 413), body[:10]
    assert changed_tables(before, data_fingerprint()) == []


@pytest.mark.parametrize(
    "url",
    [
        "/coordinator/?site=%00",
        "/coordinator/?status=%00",
        "/coordinator/?visit=%00&arm=x",
        "/coordinator/participants/?q=%00",
        "/coordinator/participants/?q=a%01b",
        "/coordinator/participants/?%00=x",
        "/api/participants/?site=%00",
        "/api/assessments/?participant=E2108%00",
    ],
)
def test_a_nul_or_control_character_in_a_query_parameter_is_refused(
    coordinator_a, url, no_server_errors
):
    response = signed_in(coordinator_a).get(url)
    assert response.status_code == 400
    assert "character" in response.content.decode()


def test_a_nul_in_a_cookie_is_refused_before_the_session_is_read(db, no_server_errors):
    client = Client(raise_request_exception=False)
    client.cookies["sessionid"] = "abcdefgh\x00ijkl"
    assert client.get(reverse("login")).status_code == 400


def test_a_nul_in_a_form_field_is_refused(
    trial, site_a, as_coordinator, no_server_errors, unchanged
):
    response = as_coordinator.post(
        reverse("coordinator:randomize"),
        {
            "study_id": "E2108-\x00",
            "site": site_a.pk,
            "arm": trial.arms.get(code="A").pk,
            "randomized_on": "2026-01-05",
            "language": "en",
        },
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("url_name", "body"),
    [
        ("api:export-list", {"kind": "scored", "format": "csv", "filters": {"sites": ["\x00"]}}),
        ("api:export-list", {"kind": "scored", "format": "csv", "filters": {"trial": "E\x00"}}),
        ("api:export-list", {"kind": "scored", "format": "csv", "filters": {"\x00": 1}}),
        ("api:export-list", {"kind": "items", "format": "xpt", "filters": {"cutoff": "9999-1-1"}}),
        ("api:analysisrun-list", {"parameters": {"sites": ["\x00"]}}),
        ("api:analysisrun-list", {"parameters": {"baseline": "base\x00line"}}),
        ("api:analysisrun-list", {"parameters": {"cutoff": "0001-01-01"}}),
    ],
)
def test_a_nul_or_an_extreme_date_in_a_json_string_is_refused(
    as_statistician, url_name, body, no_server_errors, unchanged
):
    response = as_statistician.post(
        reverse(url_name), json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 400
    assert not ExportJob.objects.exists() and not AnalysisRun.objects.exists()


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1899-12-31", "2101-01-01"])
def test_a_randomization_date_outside_1900_to_2100_is_refused(
    trial, site_a, as_coordinator, day, no_server_errors, unchanged
):
    response = as_coordinator.post(
        reverse("coordinator:randomize"),
        {
            "study_id": "E2108-0999",
            "site": site_a.pk,
            "arm": trial.arms.get(code="A").pk,
            "randomized_on": day,
            "language": "en",
        },
    )
    assert response.status_code == 400
    assert "between 1900-01-01 and 2100-12-31" in response.content.decode()
    assert not Participant.objects.filter(study_id="E2108-0999").exists()


def test_an_off_study_date_in_year_9999_is_refused(trial, site_a, coordinator_a, no_server_errors):
    assessment = open_assessment_for(trial, site_a)
    response = signed_in(coordinator_a).post(
        reverse("coordinator:off_study", args=[assessment.participant_id]),
        {"off_study_on": "9999-12-31", "reason": "withdrew"},
    )
    assert response.status_code == 400
    assert Participant.objects.get(pk=assessment.participant_id).on_study


@pytest.mark.parametrize(
    "query",
    [
        "/api/participants/?randomized_after=9999-12-31",
        "/api/participants/?randomized_before=0001-01-01",
        "/api/assessments/?completed_after=0001-01-01T00:00:00%2B14:00",
        "/api/assessments/?completed_before=9999-12-31T23:59:59-14:00",
    ],
)
def test_extreme_dates_in_api_filters_are_refused(stat_user, query, no_server_errors):
    response = signed_in(stat_user).get(query)
    assert response.status_code == 400
    assert "between 1900-01-01 and 2100-12-31" in response.content.decode()


@pytest.mark.parametrize("field", ["cutoff"])
@pytest.mark.parametrize("url_name", ["statistician:export_new", "statistician:run_new"])
def test_extreme_cutoff_dates_in_the_statistician_forms_are_refused(
    as_statistician, url_name, field, no_server_errors, unchanged
):
    data = {"kind": "scored", "format": "csv", field: "9999-12-31", "measures": ["TOI"]}
    response = as_statistician.post(reverse(url_name), data)
    assert response.status_code == 400
    assert "between 1900-01-01 and 2100-12-31" in response.content.decode()


@pytest.mark.parametrize("target", ["9999-12-31", "home2", "javascript:alert(1)", "//evil.example"])
def test_a_next_parameter_that_is_not_a_path_on_this_site_goes_home(as_coordinator, target):
    """Found by the fuzzer: redirect() took a bare word for a view name (NoReverseMatch, 500)."""
    response = as_coordinator.get(reverse("account:two_factor_verify"), {"next": target})
    assert response.status_code == 302 and response["Location"] == reverse("home")


@pytest.mark.parametrize(
    ("url_name", "body"),
    [
        ("api:export-list", {"kind": "scored", "format": "csv", "filters": {"trial": "9" * 5000}}),
        ("api:export-list", {"kind": "items", "format": "csv", "filters": {"sites": ["x" * 33]}}),
        ("api:export-list", {"kind": "items", "format": "csv", "filters": {"arms": ["A"] * 501}}),
        ("api:analysisrun-list", {"parameters": {"baseline": "b" * 5000}}),
        ("api:analysisrun-list", {"parameters": {"baseline": ["baseline"]}}),
    ],
)
def test_codes_longer_than_any_code_are_refused_not_stored(
    as_statistician, url_name, body, no_server_errors, unchanged
):
    """Found by the fuzzer: a 5,000-character protocol id was accepted and stored."""
    response = as_statistician.post(reverse(url_name), json.dumps(body), "application/json")
    assert response.status_code == 400
