"""Every URL and API endpoint × every role, with the expected outcome.

The list of URLs comes from the URLconf (and so from the API router): a new
endpoint without a row in MATRIX makes ``test_every_url_has_an_entry`` fail.
Objects in the URLs belong to site A, so a coordinator of site B must get
nothing (404), and a patient's kiosk session must be confined to the tablet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from surveys.models import AnalysisRun, ExportJob, Response, Score
from surveys.tablet.answers import assessment_submit, response_save
from surveys.trial.sweep import sweep_assessments
from tests.factories import randomize

ROLES = ("anonymous", "kiosk", "coord_a", "coord_b", "statistician", "admin")
LOGIN = "login"  # 302 to the login page
KIOSK = "kiosk"  # 302 back to the tablet form (kiosk confinement)


@dataclass(frozen=True)
class Row:
    method: str
    expected: dict[str, int | str]
    kwargs: str = ""  # which object the URL names: participant, assessment, ...

    @classmethod
    def of(cls, method: str, *codes: int | str, kwargs: str = "") -> Row:
        assert len(codes) == len(ROLES)
        return cls(method, dict(zip(ROLES, codes, strict=True)), kwargs)


G, P = "GET", "POST"
# anonymous, kiosk, coord_a, coord_b, statistician, admin
MATRIX: dict[str, Row] = {
    "home": Row.of(G, LOGIN, KIOSK, 302, 302, 302, 200),
    "healthz": Row.of(G, 200, 200, 200, 200, 200, 200),
    "login": Row.of(G, 200, KIOSK, 200, 200, 200, 200),
    "logout": Row.of(P, LOGIN, KIOSK, LOGIN, LOGIN, LOGIN, LOGIN),
    "set_language": Row.of(P, 302, 302, 302, 302, 302, 302),
    "account:two_factor": Row.of(G, LOGIN, KIOSK, 200, 200, 200, 200),
    "account:two_factor_verify": Row.of(G, LOGIN, KIOSK, 302, 302, 302, 302),
    "coordinator:worklist": Row.of(G, LOGIN, KIOSK, 200, 200, 403, 200),
    "coordinator:participants": Row.of(G, LOGIN, KIOSK, 200, 200, 403, 200),
    "coordinator:randomize": Row.of(G, LOGIN, KIOSK, 200, 200, 403, 200),
    "coordinator:participant": Row.of(G, LOGIN, KIOSK, 200, 404, 403, 200, kwargs="participant"),
    "coordinator:off_study": Row.of(P, LOGIN, KIOSK, 400, 404, 403, 400, kwargs="participant"),
    "coordinator:missed_reason": Row.of(P, LOGIN, KIOSK, 400, 404, 403, 400, kwargs="assessment"),
    # She is on study: nothing to undo, back to her page.
    "coordinator:off_study_undo": Row.of(G, LOGIN, KIOSK, 302, 404, 403, 302, kwargs="participant"),
    "coordinator:correct_randomization": Row.of(
        G, LOGIN, KIOSK, 200, 404, 403, 200, kwargs="participant"
    ),
    # The form is completed: nothing to submit, back to her page.
    "coordinator:submit_as_answered": Row.of(
        G, LOGIN, KIOSK, 302, 404, 403, 302, kwargs="assessment"
    ),
    "coordinator:compliance": Row.of(G, LOGIN, KIOSK, 200, 200, 403, 200),
    "coordinator:grid": Row.of(G, LOGIN, KIOSK, 200, 200, 403, 200),
    "coordinator:audit_log": Row.of(G, LOGIN, KIOSK, 200, 200, 403, 200),
    "coordinator:answers": Row.of(G, LOGIN, KIOSK, 200, 404, 403, 200, kwargs="assessment"),
    "coordinator:correct_answer": Row.of(G, LOGIN, KIOSK, 200, 404, 403, 200, kwargs="answer"),
    # A kiosk session has no staff login: it cannot hand anything over.
    "tablet:start": Row.of(G, LOGIN, LOGIN, 200, 404, 403, 200, kwargs="open_assessment"),
    "tablet:form": Row.of(G, 403, 302, 403, 403, 403, 403),
    "tablet:intro": Row.of(G, 403, 200, 403, 403, 403, 403),
    "tablet:page": Row.of(G, 403, 200, 403, 403, 403, 403, kwargs="section"),
    "tablet:review": Row.of(G, 403, 200, 403, 403, 403, 403),
    "tablet:submit": Row.of(P, 403, 302, 403, 403, 403, 403),
    "tablet:done": Row.of(G, 403, KIOSK, 403, 403, 403, 403),
    "tablet:answer": Row.of(P, 403, 400, 403, 403, 403, 403),
    "tablet:ping": Row.of(G, 403, 204, 403, 403, 403, 403),
    "tablet:lock": Row.of(P, 403, 302, 403, 403, 403, 403),
    "tablet:locked": Row.of(G, 403, KIOSK, 403, 403, 403, 403),
    "tablet:exit": Row.of(G, 403, 200, 403, 403, 403, 403),
    # A text size the request does not name is refused; the choice only touches the session.
    "tablet:text_size": Row.of(P, 400, 400, 400, 400, 400, 400),
    "statistician:home": Row.of(G, LOGIN, KIOSK, 403, 403, 200, 200),
    "statistician:export_new": Row.of(G, LOGIN, KIOSK, 403, 403, 200, 200),
    "statistician:export": Row.of(G, LOGIN, KIOSK, 403, 403, 200, 200, kwargs="export"),
    "statistician:export_download": Row.of(G, LOGIN, KIOSK, 403, 403, 404, 404, kwargs="export"),
    "statistician:export_codebook": Row.of(G, LOGIN, KIOSK, 403, 403, 404, 404, kwargs="export"),
    "statistician:export_file": Row.of(G, LOGIN, KIOSK, 403, 403, 404, 404, kwargs="export_file"),
    "statistician:run_new": Row.of(G, LOGIN, KIOSK, 403, 403, 200, 200),
    "statistician:run": Row.of(G, LOGIN, KIOSK, 403, 403, 200, 200, kwargs="run"),
    "statistician:run_rerun": Row.of(P, LOGIN, KIOSK, 403, 403, 302, 302, kwargs="run"),
    "statistician:run_file": Row.of(G, LOGIN, KIOSK, 403, 403, 404, 404, kwargs="run_file"),
    "api:api-root": Row.of(G, 403, KIOSK, 200, 200, 200, 200),
    "api:participant-list": Row.of(G, 403, KIOSK, 200, 200, 200, 200),
    "api:participant-detail": Row.of(G, 403, KIOSK, 200, 404, 200, 200, kwargs="participant"),
    "api:assessment-list": Row.of(G, 403, KIOSK, 200, 200, 200, 200),
    "api:assessment-detail": Row.of(G, 403, KIOSK, 200, 404, 200, 200, kwargs="assessment"),
    "api:assessment-missed-reason": Row.of(P, 403, KIOSK, 400, 404, 403, 400, kwargs="assessment"),
    "api:response-list": Row.of(G, 403, KIOSK, 200, 200, 200, 200),
    "api:response-detail": Row.of(G, 403, KIOSK, 200, 404, 200, 200, kwargs="response"),
    "api:score-list": Row.of(G, 403, KIOSK, 200, 200, 200, 200),
    "api:score-detail": Row.of(G, 403, KIOSK, 200, 404, 200, 200, kwargs="score"),
    "api:export-list": Row.of(G, 403, KIOSK, 403, 403, 200, 200),
    "api:export-detail": Row.of(G, 403, KIOSK, 403, 403, 200, 200, kwargs="export"),
    "api:export-download": Row.of(G, 403, KIOSK, 403, 403, 404, 404, kwargs="export"),
    "api:export-codebook": Row.of(G, 403, KIOSK, 403, 403, 404, 404, kwargs="export"),
    "api:export-file": Row.of(G, 403, KIOSK, 403, 403, 404, 404, kwargs="export_file"),
    "api:analysisrun-list": Row.of(G, 403, KIOSK, 403, 403, 200, 200),
    "api:analysisrun-detail": Row.of(G, 403, KIOSK, 403, 403, 200, 200, kwargs="run"),
    "api:analysisrun-snapshot": Row.of(G, 403, KIOSK, 403, 403, 404, 404, kwargs="run"),
    "api:analysisrun-plot-png": Row.of(G, 403, KIOSK, 403, 403, 404, 404, kwargs="run"),
    "api:analysisrun-plot-svg": Row.of(G, 403, KIOSK, 403, 403, 404, 404, kwargs="run"),
    "schema": Row.of(G, 403, KIOSK, 200, 200, 200, 200),
    "api-docs": Row.of(G, 403, KIOSK, 200, 200, 200, 200),
    # The Django admin is trial admins only; its own views are Django's, checked at the index.
    "admin:index": Row.of(G, LOGIN, KIOSK, LOGIN, LOGIN, LOGIN, 200),
}


def url_names() -> set[str]:
    def walk(patterns: list[Any], namespace: str = "") -> set[str]:
        names: set[str] = set()
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = namespace + (f"{pattern.namespace}:" if pattern.namespace else "")
                if inner == "admin:":
                    names.add("admin:index")
                    continue
                names |= walk(pattern.url_patterns, inner)
            elif isinstance(pattern, URLPattern):
                assert pattern.name, f"unnamed URL pattern {pattern.pattern}: name it"
                names.add(namespace + pattern.name)
        return names

    return walk(get_resolver().url_patterns)


def test_every_url_has_an_entry():
    names = url_names()
    assert sorted(names - MATRIX.keys()) == [], "new URLs need a row in MATRIX"
    assert sorted(MATRIX.keys() - names) == [], "MATRIX has rows for URLs that no longer exist"


@pytest.fixture
def world(trial, site_a, site_b, coordinator_a, coordinator_b, stat_user) -> dict[str, Any]:
    now = timezone.now()
    today = timezone.localdate()
    done = randomize(trial, site_a, study_id="E2108-0001", randomized_on=today, now=now)
    completed = done.assessments.get(visit__code="baseline")
    response_save(assessment_id=completed.pk, item_code="GP1", value=2, now=now)
    assessment_submit(assessment_id=completed.pk, now=now)
    waiting = randomize(trial, site_a, study_id="E2108-0002", randomized_on=today, now=now)
    randomize(trial, site_b, study_id="E2108-0003", randomized_on=today, now=now)
    sweep_assessments(now=now)
    admin = get_user_model().objects.create_superuser("root", "root@example.org", "x" * 20)
    export = ExportJob.objects.create(kind="scored", format="csv", created_by=stat_user)
    run = AnalysisRun.objects.create(created_by=stat_user, parameters={})
    objects = {
        "participant": {"pk": done.pk},
        "assessment": {"pk": completed.pk},
        "answer": {"pk": completed.pk, "code": "GP1"},
        "open_assessment": {"pk": waiting.assessments.get(visit__code="baseline").pk},
        "response": {"pk": Response.objects.get(assessment=completed).pk},
        "score": {"pk": Score.objects.get(assessment=completed).pk},
        "export": {"pk": export.pk},
        "export_file": {"pk": export.pk, "name": "manifest.csv"},
        "run": {"pk": run.pk},
        "run_file": {"pk": run.pk, "name": "plot.png"},
        "section": {"code": "PWB"},
    }
    users = {
        "coord_a": coordinator_a,
        "coord_b": coordinator_b,
        "statistician": stat_user,
        "admin": admin,
    }
    return {"objects": objects, "users": users, "open": objects["open_assessment"]["pk"]}


def client_for(role: str, world: dict[str, Any]) -> Client:
    client = Client()
    if role in world["users"]:
        client.force_login(world["users"][role])
    elif role == "kiosk":
        client.force_login(world["users"]["coord_a"])
        handed = client.post(
            reverse("tablet:start", args=[world["open"]]),
            {"pin": "2468", "pin_confirm": "2468", "assistance": "none", "language": "en"},
        )
        assert handed.status_code == 302 and handed.url == reverse("tablet:form"), handed
    return client


def outcome(response) -> int | str:
    if response.status_code == 302:
        if response.url.startswith((reverse("login"), reverse("admin:login"))):
            return LOGIN
        if response.url == reverse("tablet:form"):
            return KIOSK
    return response.status_code


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_access_matrix(role, world):
    client = client_for(role, world)
    mismatches = []

    # Locking the tablet and logging out change the session: do them last.
    def last(item: tuple[str, Row]) -> tuple[bool, bool, str]:
        return (item[0] == "logout", item[0] == "tablet:lock", item[0])

    for name, row in sorted(MATRIX.items(), key=last):
        kwargs = world["objects"][row.kwargs] if row.kwargs else {}
        url = reverse(name, kwargs=kwargs)
        response = client.get(url) if row.method == "GET" else client.post(url, {})
        expected = row.expected[role]
        got = outcome(response)
        if got != expected:
            mismatches.append(f"{name} {row.method}: expected {expected}, got {got}")
    if mismatches:
        pytest.fail(f"{role}:\n" + "\n".join(mismatches))


def test_the_matrix_checks_every_role_for_every_url():
    assert all(set(row.expected) == set(ROLES) for row in MATRIX.values())
    # Figures for the closing note.
    assert len(MATRIX) * len(ROLES) >= 300
