"""Personal API tokens: made from a verified session, hashed, expiring, scoped, audited.

Before: DRF's TokenAuthentication read every participant and wrote missed
reasons for a user with TOTP enrolled (and with OTP_REQUIRED_FOR_STAFF on);
tokens never expired, were made by an admin only, and their use left no trace.
"""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from surveys.accounts.tokens import api_token_create, digest
from surveys.models import ApiToken, Assessment, AuditEvent
from surveys.trial.sweep import sweep_assessments
from tests.accounts.conftest import password_client, verified_client
from tests.factories import UserFactory, randomize

pytestmark = pytest.mark.django_db
TOKENS = reverse("account:api_tokens")
PARTICIPANTS = reverse("api:participant-list")


def make(client: Client, **fields) -> tuple[int, str]:
    data = {"name": "R scripts", "days": 30, "read_only": "on", **fields}
    response = client.post(TOKENS, data)
    found = re.search(
        r'<code id="new-token">(ecp_[A-Za-z0-9_-]+)</code>', response.content.decode()
    )
    return response.status_code, found.group(1) if found else ""


def api(raw: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {raw}", raise_request_exception=False)


@pytest.fixture
def missed(trial, site_a):
    """A missed assessment at site A (randomized long ago, swept)."""
    now = timezone.now()
    participant = randomize(
        trial, site_a, randomized_on=timezone.localdate() - dt.timedelta(days=400), now=now
    )
    sweep_assessments(now=now)
    return participant.assessments.filter(status=Assessment.Status.MISSED).first()


def test_a_verified_coordinator_makes_a_token_that_is_shown_once_and_stored_hashed(
    coordinator_a, site_a
):
    client = verified_client(coordinator_a)
    assert client.get(TOKENS).status_code == 200
    status, raw = make(client)
    assert status == 201 and raw
    token = ApiToken.objects.get()
    assert token.digest == digest(raw) and token.prefix == raw[:12]
    assert token.read_only and token.created_verified
    assert (token.expires_at - token.created_at) == dt.timedelta(days=30)
    with connection.cursor() as cursor:  # the secret itself is nowhere in the database
        cursor.execute(
            "SELECT count(*) FROM surveys_apitoken WHERE digest = %s OR prefix = %s", [raw, raw]
        )
        assert cursor.fetchone()[0] == 0
    page = client.get(TOKENS).content.decode()
    assert raw not in page and f"{raw[:12]}…" in page
    event = AuditEvent.objects.get(action="api_token_created")
    assert event.actor == coordinator_a and event.details["token"] == token.pk


def test_a_session_not_verified_with_a_second_factor_cannot_make_tokens(coordinator_a, site_a):
    client = password_client(coordinator_a)  # no authenticator enrolled, OTP not required here
    page = client.get(TOKENS)
    assert 'id="tokens-need-two-factor"' in page.content.decode()
    status, raw = make(client)
    assert status == 403 and not raw
    assert not ApiToken.objects.exists()


def test_a_token_lasts_at_most_the_configured_days(settings, coordinator_a, site_a):
    settings.API_TOKEN_DAYS = 90
    client = verified_client(coordinator_a)
    assert make(client, days=91)[0] == 400
    assert make(client, days=0)[0] == 400
    assert make(client, days=90)[0] == 201


def test_a_token_reads_the_api_and_every_use_is_audited(stat_user, trial, site_a):
    randomize(trial, site_a, randomized_on=timezone.localdate(), now=timezone.now())
    _, raw = make(verified_client(stat_user))
    response = api(raw).get(PARTICIPANTS, {"site": "A01"})
    assert response.status_code == 200 and response.json()["count"] == 1
    assert "sessionid" not in response.cookies  # a token request makes no session
    use = AuditEvent.objects.get(action="api_token_used")
    assert use.actor == stat_user
    assert use.details["method"] == "GET" and use.details["path"] == "/api/participants/?site=A01"
    assert use.details["token"] == ApiToken.objects.get().pk and use.details["ip"] == "127.0.0.1"
    assert ApiToken.objects.get().last_used_at is not None


def test_a_read_only_token_writes_nothing_and_a_read_write_token_does(coordinator_a, missed):
    client = verified_client(coordinator_a)
    _, read_only = make(client)
    _, read_write = make(client, read_only="")
    url = reverse("api:assessment-missed-reason", args=[missed.pk])
    body = {"missed_reason": "too_ill"}
    refused = api(read_only).post(url, body, content_type="application/json")
    assert refused.status_code == 403 and "read-only" in refused.json()["detail"]
    missed.refresh_from_db()
    assert missed.missed_reason == ""
    done = api(read_write).post(url, body, content_type="application/json")
    assert done.status_code == 200
    missed.refresh_from_db()
    assert missed.missed_reason == "too_ill" and missed.missed_reason_by == coordinator_a


def test_expired_and_revoked_tokens_are_refused(coordinator_a, site_a):
    client = verified_client(coordinator_a)
    _, raw = make(client, days=7)
    assert api(raw).get(PARTICIPANTS).status_code == 200
    with time_machine.travel(timezone.now() + dt.timedelta(days=7, seconds=1)):
        expired = api(raw).get(PARTICIPANTS)
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]
    assert expired["WWW-Authenticate"].startswith("Token")
    revoke = client.post(reverse("account:api_token_revoke", args=[ApiToken.objects.get().pk]))
    assert revoke.status_code == 302
    revoked = api(raw).get(PARTICIPANTS)
    assert revoked.status_code == 401 and "revoked" in revoked.json()["detail"]
    assert AuditEvent.objects.filter(action="api_token_revoked", actor=coordinator_a).exists()


def test_another_coordinators_token_cannot_be_revoked_or_seen(coordinator_a, coordinator_b):
    _, raw = make(verified_client(coordinator_a))
    token = ApiToken.objects.get()
    other = verified_client(coordinator_b)
    assert other.post(reverse("account:api_token_revoke", args=[token.pk])).status_code == 404
    assert token.prefix not in other.get(TOKENS).content.decode()
    assert api(raw).get(PARTICIPANTS).status_code == 200


@pytest.mark.parametrize("header", ["Token ", "Token abc", "Token ecp_" + "x" * 43, "Bearer nope"])
def test_malformed_or_unknown_tokens_are_refused(db, header):
    response = Client().get(PARTICIPANTS, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401


def test_a_token_made_without_a_second_factor_is_refused_for_an_account_that_has_one(
    settings, coordinator_a, site_a
):
    """The bypass the attack found: now only a token made from a verified session works."""
    now = timezone.now()
    _, unverified = api_token_create(
        user=coordinator_a, name="old", days=30, read_only=True, verified=False, now=now
    )
    assert api(unverified).get(PARTICIPANTS).status_code == 200  # no second factor: fine
    _, verified = make(verified_client(coordinator_a))  # enrols a TOTP device
    refused = api(unverified).get(PARTICIPANTS)
    assert refused.status_code == 401 and "two-factor" in refused.json()["detail"]
    assert api(verified).get(PARTICIPANTS).status_code == 200
    # With OTP_REQUIRED_FOR_STAFF on, staff without a device are refused such a token too.
    settings.OTP_REQUIRED_FOR_STAFF = True
    nobody_enrolled = UserFactory(username="coord_x", role="coordinator")
    _, raw = api_token_create(
        user=nobody_enrolled, name="x", days=3, read_only=True, verified=False, now=now
    )
    assert api(raw).get(PARTICIPANTS).status_code == 401


def test_an_unverified_session_with_a_token_cannot_skip_the_second_factor(coordinator_a, site_a):
    _, raw = make(verified_client(coordinator_a))
    session_only = password_client(coordinator_a)  # the password step, not verified
    response = session_only.get(PARTICIPANTS, HTTP_AUTHORIZATION=f"Token {raw}")
    assert response.status_code == 403 and response.json()["code"] == "otp_verify_required"


def test_a_token_cannot_make_or_revoke_tokens(coordinator_a, site_a):
    _, raw = make(verified_client(coordinator_a))
    response = api(raw).post(TOKENS, {"name": "more", "days": 5})
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert ApiToken.objects.count() == 1


def test_the_old_drf_tokens_are_gone(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('authtoken_token')")
        assert cursor.fetchone()[0] is None


def test_a_service_account_token_from_the_command_line(settings, db):
    settings.OTP_REQUIRED_FOR_STAFF = True
    service = UserFactory(username="nightly_r")
    out = io.StringIO()
    call_command(
        "issue_api_token",
        "nightly_r",
        "--name",
        "nightly",
        "--days",
        "5",
        stdout=out,
        stderr=io.StringIO(),
    )
    raw = out.getvalue().strip()
    token = ApiToken.objects.get(user=service)
    assert token.digest == digest(raw) and not token.created_verified and token.read_only
    staff = UserFactory(username="coord_y", role="coordinator")
    with pytest.raises(CommandError, match="must use two-factor"):
        call_command("issue_api_token", staff.username, "--name", "x", stdout=io.StringIO())


def test_a_trial_admin_sees_every_token_without_its_digest_and_revokes_it(admin_client, stat_user):
    _, raw = make(verified_client(stat_user))
    token = ApiToken.objects.get()
    changelist = admin_client.get(reverse("admin:surveys_apitoken_changelist"))
    assert changelist.status_code == 200
    html = changelist.content.decode()
    assert token.prefix in html and token.digest not in html and raw not in html
    done = admin_client.post(
        reverse("admin:surveys_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    assert done.status_code == 302
    assert api(raw).get(PARTICIPANTS).status_code == 401
    assert AuditEvent.objects.get(action="api_token_revoked").details["owner"] == stat_user.pk
