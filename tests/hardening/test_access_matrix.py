"""Every URL and API endpoint × every role, with the expected outcome.

The list of URLs comes from the URLconf (and so from the API router): a new
endpoint without a row in MATRIX makes ``test_every_url_has_an_entry`` fail.
Objects in the URLs belong to site A, so a coordinator of site B must get
nothing (404), and a patient's kiosk session must be confined to the tablet.
Staff sessions are verified with TOTP, as production requires; two more
clients use only an API token (a coordinator's read-and-write token and a
statistician's read-only one): outside the API a token is no login at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from surveys.accounts.tokens import api_token_create
from surveys.home.links import issue_access_code, issue_link
from surveys.models import AnalysisPreset, AnalysisRun, ExportJob, Response, Score
from surveys.tablet.answers import assessment_submit, response_save
from surveys.trial.sweep import sweep_assessments
from tests.factories import randomize

ROLES = (
    "anonymous",
    "kiosk",
    "coord_a",
    "coord_b",
    "statistician",
    "admin",
    "token_coord_a",  # coord_a's read-and-write API token, no session
    "token_stat_ro",  # the statistician's read-only API token, no session
)
LOGIN = "login"  # 302 to the login page
KIOSK = "kiosk"  # 302 back to the tablet form (kiosk confinement)


@dataclass(frozen=True)
class Row:
    method: str
    expected: dict[str, int | str]
    kwargs: str = ""  # which object the URL names: participant, assessment, ...

    @classmethod
    def of(cls, method: str, *codes: int | str, kwargs: str = "", tokens: tuple = ()) -> Row:
        """Six codes (anonymous … admin), then the two token clients': given for the API,
        otherwise a token is no login and they are the anonymous visitor's."""
        assert len(codes) == 6
        tokens = tokens or (codes[0], codes[0])
        return cls(method, dict(zip(ROLES, (*codes, *tokens), strict=True)), kwargs)


G, P = "GET", "POST"
A = 401  # an API request without credentials: 401 with WWW-Authenticate: Token
# anonymous, kiosk, coord_a, coord_b, statistician, admin; tokens=(token_coord_a, token_stat_ro)
MATRIX: dict[str, Row] = {
    "home": Row.of(G, LOGIN, KIOSK, 302, 302, 302, 200),
    "healthz": Row.of(G, 200, 200, 200, 200, 200, 200),
    "login": Row.of(G, 200, KIOSK, 200, 200, 200, 200),
    "logout": Row.of(P, LOGIN, KIOSK, LOGIN, LOGIN, LOGIN, LOGIN),
    "set_language": Row.of(P, 302, 302, 302, 302, 302, 302),
    "account:two_factor": Row.of(G, LOGIN, KIOSK, 200, 200, 200, 200),
    "account:two_factor_verify": Row.of(G, LOGIN, KIOSK, 302, 302, 302, 302),
    # Tokens are made and revoked by their owner (a trial admin may revoke any) from a
    # verified session; a token cannot make or revoke tokens.
    "account:api_tokens": Row.of(G, LOGIN, KIOSK, 200, 200, 200, 200),
    "account:api_token_revoke": Row.of(P, LOGIN, KIOSK, 302, 404, 404, 302, kwargs="token"),
    "account:password_change": Row.of(G, LOGIN, KIOSK, 200, 200, 200, 200),
    "account:session": Row.of(G, 401, KIOSK, 200, 200, 200, 200),
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
    # Contact details: coordinators of her site only; a trial admin is no exception (403).
    "outreach:contact": Row.of(G, LOGIN, KIOSK, 200, 404, 403, 403, kwargs="participant"),
    # She has no contact details: nothing to erase, back to her page.
    "outreach:withdraw_consent": Row.of(P, LOGIN, KIOSK, 302, 404, 403, 403, kwargs="participant"),
    # The outbox exists only where messages are not really sent (the demo).
    "outreach:outbox": Row.of(G, LOGIN, KIOSK, 404, 404, 403, 404),
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
    # The offline page and the service worker hold no one's data: anyone may fetch them.
    "tablet:offline": Row.of(G, 200, 200, 200, 200, 200, 200),
    "tablet:service_worker": Row.of(G, 200, 200, 200, 200, 200, 200),
    # A text size the request does not name is refused; the choice only touches the session.
    "tablet:text_size": Row.of(P, 400, 400, 400, 400, 400, 400),
    # Her home link: the access-code page for anyone holding it (the code is the key).
    "athome:link": Row.of(G, 200, 200, 200, 200, 200, 200, kwargs="home_link"),
    "athome:access_code": Row.of(P, LOGIN, KIOSK, 200, 404, 403, 200, kwargs="participant"),
    "athome:issue_link": Row.of(P, LOGIN, KIOSK, 200, 404, 403, 200, kwargs="open_assessment"),
    "athome:revoke_links": Row.of(P, LOGIN, KIOSK, 302, 404, 403, 302, kwargs="open_assessment"),
    # A call without an outcome is refused; "complete by phone" opens the phone session.
    "athome:call": Row.of(P, LOGIN, KIOSK, 400, 404, 403, 400, kwargs="open_assessment"),
    "athome:phone": Row.of(P, LOGIN, KIOSK, KIOSK, 404, 403, KIOSK, kwargs="open_assessment"),
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
    "statistician:preset_run": Row.of(P, LOGIN, KIOSK, 403, 403, 302, 302, kwargs="preset"),
    "api:api-root": Row.of(G, A, KIOSK, 200, 200, 200, 200, tokens=(200, 200)),
    "api:participant-list": Row.of(G, A, KIOSK, 200, 200, 200, 200, tokens=(200, 200)),
    "api:participant-detail": Row.of(
        G, A, KIOSK, 200, 404, 200, 200, kwargs="participant", tokens=(200, 200)
    ),
    "api:assessment-list": Row.of(G, A, KIOSK, 200, 200, 200, 200, tokens=(200, 200)),
    "api:assessment-detail": Row.of(
        G, A, KIOSK, 200, 404, 200, 200, kwargs="assessment", tokens=(200, 200)
    ),
    # A read-only token writes nothing, whoever owns it.
    "api:assessment-missed-reason": Row.of(
        P, A, KIOSK, 400, 404, 403, 400, kwargs="assessment", tokens=(400, 403)
    ),
    "api:response-list": Row.of(G, A, KIOSK, 200, 200, 200, 200, tokens=(200, 200)),
    "api:response-detail": Row.of(
        G, A, KIOSK, 200, 404, 200, 200, kwargs="response", tokens=(200, 200)
    ),
    "api:score-list": Row.of(G, A, KIOSK, 200, 200, 200, 200, tokens=(200, 200)),
    "api:score-detail": Row.of(G, A, KIOSK, 200, 404, 200, 200, kwargs="score", tokens=(200, 200)),
    "api:export-list": Row.of(G, A, KIOSK, 403, 403, 200, 200, tokens=(403, 200)),
    "api:export-detail": Row.of(
        G, A, KIOSK, 403, 403, 200, 200, kwargs="export", tokens=(403, 200)
    ),
    "api:export-download": Row.of(
        G, A, KIOSK, 403, 403, 404, 404, kwargs="export", tokens=(403, 404)
    ),
    "api:export-codebook": Row.of(
        G, A, KIOSK, 403, 403, 404, 404, kwargs="export", tokens=(403, 404)
    ),
    "api:analysisrun-list": Row.of(G, A, KIOSK, 403, 403, 200, 200, tokens=(403, 200)),
    "api:analysisrun-detail": Row.of(
        G, A, KIOSK, 403, 403, 200, 200, kwargs="run", tokens=(403, 200)
    ),
    "api:analysisrun-snapshot": Row.of(
        G, A, KIOSK, 403, 403, 404, 404, kwargs="run", tokens=(403, 404)
    ),
    "api:analysisrun-plot-png": Row.of(
        G, A, KIOSK, 403, 403, 404, 404, kwargs="run", tokens=(403, 404)
    ),
    "api:analysisrun-plot-svg": Row.of(
        G, A, KIOSK, 403, 403, 404, 404, kwargs="run", tokens=(403, 404)
    ),
    "api:export-file": Row.of(
        G, A, KIOSK, 403, 403, 404, 404, kwargs="export_file", tokens=(403, 404)
    ),
    "api:analysispreset-list": Row.of(G, A, KIOSK, 403, 403, 200, 200, tokens=(403, 200)),
    "api:analysispreset-detail": Row.of(
        G, A, KIOSK, 403, 403, 200, 200, kwargs="preset", tokens=(403, 200)
    ),
    # A read-only token starts no run.
    "api:analysispreset-run": Row.of(
        P, A, KIOSK, 403, 403, 201, 201, kwargs="preset", tokens=(403, 403)
    ),
    "schema": Row.of(G, A, KIOSK, 200, 200, 200, 200, tokens=(200, 200)),
    # Swagger UI is off in production (API_DOCS_ENABLED); its own test turns it on.
    "api-docs": Row.of(G, 404, KIOSK, 404, 404, 404, 404),
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
def world(
    settings, trial, site_a, site_b, coordinator_a, coordinator_b, stat_user
) -> dict[str, Any]:
    settings.OTP_REQUIRED_FOR_STAFF = True  # production: staff sessions are TOTP-verified
    now = timezone.now()
    today = timezone.localdate()
    done = randomize(trial, site_a, study_id="E2108-0001", randomized_on=today, now=now)
    completed = done.assessments.get(visit__code="baseline")
    response_save(assessment_id=completed.pk, item_code="GP1", value=2, now=now)
    assessment_submit(assessment_id=completed.pk, now=now)
    waiting = randomize(trial, site_a, study_id="E2108-0002", randomized_on=today, now=now)
    randomize(trial, site_b, study_id="E2108-0003", randomized_on=today, now=now)
    sweep_assessments(now=now)
    issue_access_code(waiting, actor=coordinator_a, now=now)
    home_link = issue_link(
        waiting.assessments.get(visit__code="baseline"), actor=coordinator_a, now=now
    )
    admin = get_user_model().objects.create_superuser("root", "root@example.org", "x" * 20)
    export = ExportJob.objects.create(kind="scored", format="csv", created_by=stat_user)
    run = AnalysisRun.objects.create(created_by=stat_user, parameters={})
    preset = AnalysisPreset.objects.create(name="everything", parameters={})
    token, coord_token = api_token_create(
        user=coordinator_a, name="scripts", days=30, read_only=False, verified=True, now=now
    )
    _, stat_token = api_token_create(
        user=stat_user, name="R", days=30, read_only=True, verified=True, now=now
    )
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
        "preset": {"pk": preset.pk},
        "section": {"code": "PWB"},
        "token": {"pk": token.pk},
        "home_link": {"token": home_link.removeprefix("/r/")},
    }
    users = {
        "coord_a": coordinator_a,
        "coord_b": coordinator_b,
        "statistician": stat_user,
        "admin": admin,
    }
    tokens = {"token_coord_a": coord_token, "token_stat_ro": stat_token}
    return {
        "objects": objects,
        "users": users,
        "tokens": tokens,
        "open": objects["open_assessment"]["pk"],
    }


def verified_login(client: Client, user: Any) -> None:
    """A password login verified with the user's authenticator (as OTP_REQUIRED_FOR_STAFF asks)."""
    device = TOTPDevice.objects.get_or_create(user=user, name="phone", confirmed=True)[0]
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


def client_for(role: str, world: dict[str, Any]) -> Client:
    client = Client()
    if role in world["users"]:
        verified_login(client, world["users"][role])
    elif role in world["tokens"]:
        client = Client(HTTP_AUTHORIZATION=f"Token {world['tokens'][role]}")
    elif role == "kiosk":
        verified_login(client, world["users"]["coord_a"])
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

    # Locking the tablet, starting a phone session and logging out change the session: do
    # them last.
    def last(item: tuple[str, Row]) -> tuple[bool, bool, bool, bool, str]:
        name = item[0]
        return (
            name == "logout",
            name == "athome:phone",
            name == "tablet:lock",
            name == "account:api_token_revoke",
            name,
        )

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
    assert len(MATRIX) * len(ROLES) >= 480
