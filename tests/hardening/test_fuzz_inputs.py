"""Property-based fuzzing of every form, every JSON write and every filter parameter.

Hypothesis draws hostile values (NUL bytes and other control characters,
unpaired surrogates, deep nesting, extreme and impossible dates, huge strings,
64-bit overflows, unicode edge cases) and puts one of them in one field of an
otherwise sensible request, for each target below: every form a person posts
(staff and tablet), every JSON write (the tablet's answers, the API), and every
query parameter a page or the API filters on. For every request:

* never a server error (no 5xx, nothing logged by ``django.request`` at ERROR);
* a value that can never be valid (NUL, control character, surrogate, deep
  JSON, a date outside 1900–2100, a string longer than the field) changes no
  stored row, except the bookkeeping a refused request may leave (the session
  store, the login throttle's attempts, the audit trail's record of a refused
  login or of a page view, the kiosk's activity clock and a TOTP device's
  failure counter).

Excluded on this branch, with the branch that fixes it: nothing. The two
randomization defects the trial branch fixes in ``participant_randomize``
(dates in year 9999/0001 and the IntegrityError of simultaneous duplicate
study ids) are not reached here: the form's bounded date field refuses the
dates first, and the fuzzer sends one request at a time.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from surveys.accounts.tokens import api_token_create
from surveys.models import AnalysisRun, Assessment
from surveys.statistician.exports.jobs import export_create, run_export_job
from surveys.tablet.kiosk import kiosk_start
from surveys.tablet.middleware import SESSION_KEY
from surveys.trial.sweep import sweep_assessments
from tests.accounts.conftest import verified_client
from tests.factories import randomize
from tests.hardening.snapshot import changed_tables, data_fingerprint

pytestmark = pytest.mark.django_db
EXAMPLES = 12

# ----------------------------------------------------------------------- hostile values
ALWAYS_INVALID = st.one_of(
    st.text(max_size=8).map(lambda s: s[:3] + "\x00" + s[3:]),  # NUL anywhere
    st.sampled_from(["\x01", "\x1b[31mred", "a\x0bb", "\x7f", "x\x08y", "\x00" * 40]),
    st.sampled_from(["\ud800", "x\udfff", "\udc00abc"]),  # unpaired UTF-16 surrogates
)
HUGE = st.sampled_from(["x" * 70_000, "9" * 5_000, "é" * 3_000])
EXTREME_DATE_VALUES = [
    "9999-12-31",
    "0001-01-01",
    "1899-12-31",
    "2101-01-01",
    "0000-00-00",
    "2026-02-30",
    "2026-13-01",
    "99999-01-01",
    "-0001-01-01",
    "2026-01-01T25:00:00",
    "2026-01-01T00:00:00+23:59",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59.999999-14:00",
]
EXTREME_DATES = st.sampled_from(EXTREME_DATE_VALUES)
ODD_BUT_VALID = st.one_of(
    st.sampled_from(
        [
            "\u202eevil",  # right-to-left override
            "zero\u200bwidth",
            "e\u0301",  # combining accent
            "\ufeffBOM",
            "１２３",  # fullwidth digits
            "İı",
            "𝕏🙂",  # outside the BMP
            "' OR 1=1 --",
            "../../etc/passwd",
            "{{ 7|add:7 }}",
            "<script>alert(1)</script>",
            '=HYPERLINK("http://x")',
            "-1",
            "2147483648",
            "1e308",
            "",
            " ",
        ]
    ),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30),
)
INT_OVERFLOW = st.sampled_from([2**63, -(2**63) - 1, 10**30])
DEEP_JSON = st.integers(min_value=21, max_value=3_000).map(lambda n: "[" * n + "]" * n)


SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Hostile:
    value: Any
    invalid: bool  # can never be accepted: nothing may change


def hostile(*, dates: bool = False) -> st.SearchStrategy[Hostile]:
    invalid = ALWAYS_INVALID | HUGE | (EXTREME_DATES if dates else st.nothing())
    return st.one_of(
        invalid.map(lambda v: Hostile(v, True)),
        ODD_BUT_VALID.map(lambda v: Hostile(v, False)),
    )


def json_hostile() -> st.SearchStrategy[Hostile]:
    return st.one_of(
        hostile(dates=True),
        INT_OVERFLOW.map(lambda v: Hostile(v, True)),
        st.sampled_from([None, True, [], {}, 1.5, -1]).map(lambda v: Hostile(v, False)),
        st.recursive(st.just(1), lambda c: st.lists(c, max_size=2), max_leaves=4).map(
            lambda v: Hostile(v, False)
        ),
    )


# ----------------------------------------------------------------------- the world
@dataclass
class World:
    clients: dict[str, Client]
    ids: dict[str, int]


@pytest.fixture
def world(settings, trial, site_a, coordinator_a, stat_user, tmp_path) -> World:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    now = timezone.now()
    today = timezone.localdate()
    waiting = randomize(trial, site_a, study_id="E2108-0901", randomized_on=today, now=now)
    handed = randomize(trial, site_a, study_id="E2108-0902", randomized_on=today, now=now)
    old = randomize(
        trial, site_a, study_id="E2108-0903", randomized_on=today - dt.timedelta(days=400), now=now
    )
    sweep_assessments(now=now)
    missed = old.assessments.filter(status=Assessment.Status.MISSED).first()
    export = export_create(user=stat_user, kind="scored", fmt="csv", filters={})
    run_export_job(export.pk)
    run = AnalysisRun.objects.create(created_by=stat_user, parameters={})
    kiosk = kiosk_start(
        assessment_id=handed.assessments.get(visit__is_baseline=True).pk,
        started_by=coordinator_a,
        pin="2468",
        assistance="none",
        now=now,
    )
    tablet = Client(raise_request_exception=False)
    session = tablet.session
    session[SESSION_KEY] = kiosk.token
    session.save()
    coordinator = verified_client(coordinator_a)
    _, token = api_token_create(
        user=coordinator_a, name="fuzz", days=5, read_only=False, verified=True, now=now
    )
    return World(
        clients={
            "anonymous": Client(raise_request_exception=False),
            "coordinator": coordinator,
            "statistician": verified_client(stat_user),
            "tablet": tablet,
            "token": Client(HTTP_AUTHORIZATION=f"Token {token}", raise_request_exception=False),
        },
        ids={
            "participant": waiting.pk,
            "open": waiting.assessments.get(visit__is_baseline=True).pk,
            "kiosk_assessment": kiosk.assessment_id,
            "missed": missed.pk,
            "export": export.pk,
            "run": run.pk,
            "site": site_a.pk,
            "arm": trial.arms.get(code="A").pk,
        },
    )


# ----------------------------------------------------------------------- targets
@dataclass(frozen=True)
class Target:
    client: str
    kind: str  # "form", "json" or "query"
    url: Callable[[dict[str, int]], str]
    base: Callable[[dict[str, int]], dict[str, Any]]
    fields: tuple[str, ...]
    dates: tuple[str, ...] = ()


def fixed(url_name: str, key: str = "") -> Callable[[dict[str, int]], str]:
    return lambda ids: reverse(url_name, args=[ids[key]] if key else [])


FORMS: dict[str, Target] = {
    "login": Target(
        "anonymous",
        "form",
        fixed("login"),
        lambda ids: {"username": "coord_a", "password": "wrong", "next": "/"},
        ("username", "password", "next"),
    ),
    "randomize": Target(
        "coordinator",
        "form",
        fixed("coordinator:randomize"),
        lambda ids: {
            "study_id": "E2108-0904",
            "site": ids["site"],
            "arm": ids["arm"],
            "randomized_on": "2026-01-05",
            "language": "en",
        },
        ("study_id", "site", "arm", "randomized_on", "language"),
        dates=("randomized_on",),
    ),
    "off_study": Target(
        "coordinator",
        "form",
        fixed("coordinator:off_study", "participant"),
        lambda ids: {"off_study_on": "2026-01-05", "reason": "other", "note": ""},
        ("off_study_on", "reason", "note"),
        dates=("off_study_on",),
    ),
    "missed_reason": Target(
        "coordinator",
        "form",
        fixed("coordinator:missed_reason", "missed"),
        lambda ids: {"reason": "other", "text": ""},
        ("reason", "text"),
    ),
    "hand_off": Target(
        "coordinator",
        "form",
        fixed("tablet:start", "open"),
        lambda ids: {"assistance": "none", "language": "en", "pin": "12", "pin_confirm": "12"},
        ("assistance", "language", "pin", "pin_confirm"),
    ),
    "contact": Target(
        "coordinator",
        "form",
        fixed("outreach:contact", "participant"),
        lambda ids: {
            "email": "her@example.org",
            "mobile": "+15555550123",
            "preferred_channel": "email",
            "language": "en",
            "quiet_start": "21:00",
            "quiet_end": "08:00",
            "consent": "on",
        },
        ("email", "mobile", "preferred_channel", "language", "quiet_start", "quiet_end", "consent"),
    ),
    "export_form": Target(
        "statistician",
        "form",
        fixed("statistician:export_new"),
        lambda ids: {"kind": "scored", "format": "csv", "visits": "zzz"},
        ("kind", "format", "visits", "sites", "arms", "cutoff", "include_dates"),
        dates=("cutoff",),
    ),
    "run_form": Target(
        "statistician",
        "form",
        fixed("statistician:run_new"),
        lambda ids: {"measures": "ZZZ", "baseline": "baseline", "plot_measure": "TOI"},
        ("cutoff", "sites", "measures", "baseline", "plot_measure"),
        dates=("cutoff",),
    ),
    "two_factor": Target(
        "coordinator",
        "form",
        fixed("account:two_factor"),
        lambda ids: {"action": "disable", "otp_token": "000000"},
        ("action", "otp_token"),
    ),
    "api_tokens": Target(
        "coordinator",
        "form",
        fixed("account:api_tokens"),
        lambda ids: {"name": "", "days": "5", "read_only": "on"},
        ("name", "days", "read_only"),
    ),
    "password_change": Target(
        "coordinator",
        "form",
        fixed("account:password_change"),
        lambda ids: {"old_password": "wrong", "new_password1": "x", "new_password2": "y"},
        ("old_password", "new_password1", "new_password2"),
    ),
    "tablet_page": Target(
        "tablet",
        "form",
        lambda ids: reverse("tablet:page", args=["PWB"]),
        lambda ids: {"GP1": "9", "nav": "next"},
        ("GP1", "GP2_declined", "nav"),
    ),
    "tablet_locked": Target(
        "tablet",
        "form",
        fixed("tablet:locked"),
        lambda ids: {"pin": "0000"},
        ("pin",),
    ),
    "tablet_exit": Target(
        "tablet",
        "form",
        fixed("tablet:exit"),
        lambda ids: {"method": "pin", "pin": "0000", "username": "coord_a", "password": "x"},
        ("method", "pin", "username", "password"),
    ),
}
JSON_WRITES: dict[str, Target] = {
    "tablet_answer": Target(
        "tablet",
        "json",
        fixed("tablet:answer"),
        lambda ids: {"assessment": ids["kiosk_assessment"], "item": "GP1", "value": 9, "key": "k"},
        ("assessment", "item", "value", "declined", "key"),
    ),
    "api_missed_reason": Target(
        "token",
        "json",
        fixed("api:assessment-missed-reason", "missed"),
        lambda ids: {"missed_reason": "nope", "missed_reason_text": ""},
        ("missed_reason", "missed_reason_text"),
    ),
    "api_export": Target(
        "statistician",
        "json",
        fixed("api:export-list"),
        lambda ids: {"kind": "scored", "format": "csv", "filters": {"visits": ["zzz"]}},
        (
            "kind",
            "format",
            "filters",
            "filters.visits",
            "filters.sites",
            "filters.arms",
            "filters.trial",
            "filters.cutoff",
            "filters.include_dates",
        ),
        dates=("filters.cutoff",),
    ),
    "api_run": Target(
        "statistician",
        "json",
        fixed("api:analysisrun-list"),
        lambda ids: {"parameters": {"measures": ["ZZZ"]}},
        (
            "parameters",
            "parameters.cutoff",
            "parameters.sites",
            "parameters.measures",
            "parameters.baseline",
            "parameters.plot_measure",
            "parameters.mixed_model",
            "parameters.snapshot_of",
            "parameters.trial",
        ),
        dates=("parameters.cutoff",),
    ),
}
API_LISTS = {
    "api:participant-list": (
        "site",
        "arm",
        "study_id",
        "on_study",
        "language",
        "randomized_after",
        "randomized_before",
    ),
    "api:assessment-list": (
        "status",
        "participant",
        "site",
        "arm",
        "visit",
        "completed_after",
        "completed_before",
    ),
    "api:response-list": ("assessment", "item_code", "declined", "participant", "visit", "site"),
    "api:score-list": ("assessment", "participant", "visit", "site", "arm", "scoring_version"),
    "api:export-list": ("status", "kind", "format"),
    "api:analysisrun-list": ("status",),
}
QUERIES: dict[str, Target] = {
    "worklist": Target(
        "coordinator",
        "query",
        fixed("coordinator:worklist"),
        lambda ids: {},
        ("site", "visit", "arm", "status", "sort", "view", "page"),
    ),
    "participants": Target(
        "coordinator",
        "query",
        fixed("coordinator:participants"),
        lambda ids: {},
        ("q", "site", "arm", "page"),
    ),
    "compliance": Target(
        "coordinator",
        "query",
        fixed("coordinator:compliance"),
        lambda ids: {"format": "csv"},
        ("by", "format"),
    ),
    "export_new": Target(
        "statistician", "query", fixed("statistician:export_new"), lambda ids: {}, ("kind",)
    ),
    "review_error": Target(
        "tablet",
        "query",
        fixed("tablet:review"),
        lambda ids: {},
        ("error",),
    ),
    "verify_next": Target(
        "coordinator", "query", fixed("account:two_factor_verify"), lambda ids: {}, ("next",)
    ),
    **{
        name.removeprefix("api:"): Target(
            "token" if "export" not in name and "analysis" not in name else "statistician",
            "query",
            fixed(name),
            lambda ids: {},
            (*params, "ordering", "page", "page_size", "format"),
            dates=tuple(p for p in params if p.endswith(("_after", "_before"))),
        )
        for name, params in API_LISTS.items()
    },
}
TARGETS = {**FORMS, **JSON_WRITES, **QUERIES}


# ----------------------------------------------------------------------- sending
def encoded(data: dict[str, Any]) -> str:
    """A urlencoded body or query; unpaired surrogates become the bytes a client would send."""
    return "&".join(
        f"{quote_plus(str(k).encode('utf-8', 'surrogatepass'))}="
        f"{quote_plus(str(v).encode('utf-8', 'surrogatepass'))}"
        for k, v in data.items()
    )


def put(payload: dict[str, Any], dotted: str, value: Any) -> None:
    head, _, rest = dotted.partition(".")
    if rest:
        inner = payload.get(head)
        payload[head] = inner = dict(inner) if isinstance(inner, dict) else {}
        put(inner, rest, value)
    else:
        payload[head] = value


def send(client: Client, target: Target, url: str, payload: dict[str, Any], raw: str | None):
    if target.kind == "query":
        return client.get(f"{url}?{encoded(payload)}")
    if target.kind == "form":
        return client.post(url, encoded(payload), content_type="application/x-www-form-urlencoded")
    body = raw if raw is not None else json.dumps(payload)
    return client.post(url, body, content_type="application/json")


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_no_input_makes_a_server_error_or_changes_data(name, world, caplog):
    target = TARGETS[name]
    client = world.clients[target.client]
    url = target.url(world.ids)
    caplog.set_level(logging.ERROR, logger="django.request")
    outcomes: list[int] = []
    failures: list[str] = []
    strategy = json_hostile() if target.kind == "json" else hostile(dates=True)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        field_name=st.sampled_from(target.fields),
        value=strategy,
        deep=st.booleans() if target.kind == "json" else st.just(False),
        depth=DEEP_JSON,
    )
    def exercise(field_name: str, value: Hostile, deep: bool, depth: str) -> None:
        payload = target.base(world.ids)
        if value.value in EXTREME_DATE_VALUES and field_name not in target.dates:
            value = Hostile(value.value, False)  # an impossible date in a text field: just text
        if target.kind != "json" and isinstance(value.value, str) and SURROGATE.search(value.value):
            # Sent as the UTF-8 bytes of a surrogate, which Django decodes to U+FFFD: odd text.
            value = Hostile(value.value, "\x00" in value.value)
        put(payload, field_name, value.value)
        raw = None
        if deep:  # the whole body, or one value, nested far too deep
            raw = (
                depth
                if field_name == target.fields[0]
                else json.dumps(payload).replace(json.dumps(value.value), depth, 1)
            )
            value = Hostile(value.value, True)
        before = data_fingerprint() if value.invalid else None
        response = send(client, target, url, payload, raw)
        outcomes.append(response.status_code)
        if response.status_code >= 500:
            failures.append(f"{field_name}={value.value!r:.60} -> {response.status_code}")
        if before is not None:
            changed = changed_tables(before, data_fingerprint())
            if changed:
                failures.append(f"{field_name}={value.value!r:.60} changed {sorted(changed)}")

    exercise()
    errors = [r.getMessage() for r in caplog.records if r.name == "django.request"]
    assert failures == [] and errors == []
    assert len(outcomes) >= EXAMPLES // 2
    assert all(code < 500 for code in outcomes)


def test_every_form_json_write_and_filter_is_a_target():
    """New forms and filters join the fuzzing: the URLconf's writable views are all here."""
    assert {"randomize", "off_study", "missed_reason", "hand_off", "login"} <= set(FORMS)
    assert {"tablet_answer", "api_missed_reason", "api_export", "api_run"} == set(JSON_WRITES)
    assert {f"{n.removeprefix('api:')}" for n in API_LISTS} <= set(QUERIES)
    assert sum(len(t.fields) for t in TARGETS.values()) >= 90
