"""Schemathesis against /api/schema/ as each role: bounded examples, no server errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, given, settings

from surveys.tablet.answers import assessment_submit, response_save
from tests.factories import randomize

EXAMPLES_PER_OPERATION = 6
ROLES = ("anonymous", "coord_a", "statistician", "admin")


def api_schema() -> schemathesis.schemas.BaseSchema:
    document = SchemaGenerator().get_schema(request=None, public=True)
    return schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(document)))


@pytest.fixture
def fuzz_world(trial, site_a, site_b, coordinator_a, stat_user) -> dict[str, Any]:
    now = timezone.now()
    for site, study_id in ((site_a, "E2108-0001"), (site_b, "E2108-0002")):
        participant = randomize(
            trial, site, study_id=study_id, randomized_on=timezone.localdate(), now=now
        )
        baseline = participant.assessments.get(visit__code="baseline")
        response_save(assessment_id=baseline.pk, item_code="GP1", value=3, now=now)
        assessment_submit(assessment_id=baseline.pk, now=now)
    admin = get_user_model().objects.create_superuser("root", "root@example.org", "x" * 20)
    return {"coord_a": coordinator_a, "statistician": stat_user, "admin": admin}


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_the_api_never_answers_with_a_server_error(role, fuzz_world):
    client = Client(raise_request_exception=False)
    if role != "anonymous":
        client.force_login(fuzz_world[role])
    failures: list[str] = []
    calls = 0
    operations = [result.ok() for result in api_schema().get_all_operations()]
    assert len(operations) >= 15

    for operation in operations:

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def exercise(case) -> None:
            nonlocal calls
            calls += 1
            method = case.method.upper()
            if method == "GET":
                response = client.get(case.formatted_path, case.query or {})
            else:
                body = case.body if isinstance(case.body, dict | list | str | int | float) else {}
                response = client.generic(
                    method, case.formatted_path, json.dumps(body), "application/json"
                )
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} {case.query} -> {response.status_code}"
                )

        exercise()
    assert calls >= len(operations)
    assert failures == []
