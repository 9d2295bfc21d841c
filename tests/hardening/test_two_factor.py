"""TOTP second factor for staff (django-otp): enrol, verify, throttle, and stay out of the
kiosk's way. Recovery codes and the production default are in test_recovery_codes.py."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import PASSWORD, UserFactory
from tests.tablet.conftest import hand_over, open_assessment_for, tablet_client

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
ENROL = reverse("account:two_factor")
VERIFY = reverse("account:two_factor_verify")
WORKLIST = reverse("coordinator:worklist")


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def code(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """The code the user's phone shows now (or *steps_ahead* 30-second steps later)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def wrong(device: TOTPDevice) -> str:
    valid = {code(device, s) for s in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


def enrolled(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def redirect_target(response) -> tuple[str, str | None]:
    parts = urlsplit(response["Location"])
    return parts.path, parse_qs(parts.query).get("next", [None])[0]


def superuser():
    return UserFactory(username="admin", is_superuser=True, is_staff=True)


# ------------------------------------------------------------------------ enrolment
def test_a_coordinator_enrols_with_the_uri_and_qr_code_and_a_code(coordinator_a, site_a):
    client = signed_in(coordinator_a)
    page = client.get(ENROL)
    assert page.status_code == 200
    assert "Set up an authenticator app" in page.content.decode()

    assert client.post(ENROL, {"action": "start"}).status_code == 302
    device = TOTPDevice.objects.get(user=coordinator_a)
    assert device.confirmed is False
    page = client.get(ENROL)
    html = page.content.decode()
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]  # the page shows the secret
    assert "otpauth://totp/ecogprom%3Acoord_a?secret=" in html
    assert "issuer=ecogprom" in html
    assert 'src="data:image/svg+xml;base64,' in html

    refused = client.post(ENROL, {"action": "confirm", "otp_token": wrong(device)})
    assert refused.status_code == 400
    assert "That code is not right" in refused.content.decode()
    device.refresh_from_db()
    assert device.confirmed is False
    device.throttling_failure_timestamp = None  # the back-off has its own test
    device.save()

    done = client.post(ENROL, {"action": "confirm", "otp_token": code(device)})
    assert done.status_code == 200  # the recovery codes, shown once
    assert (
        len(re.findall(r"<code>[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}</code>", done.content.decode()))
        == 10
    )
    assert "no-store" in done["Cache-Control"]
    device.refresh_from_db()
    assert device.confirmed is True
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id  # verified now
    assert client.get(WORKLIST).status_code == 200
    assert "<strong>On.</strong>" in client.get(ENROL).content.decode()


def test_starting_again_replaces_an_unconfirmed_device_and_keeps_one(coordinator_a, site_a):
    client = signed_in(coordinator_a)
    client.post(ENROL, {"action": "start"})
    first = TOTPDevice.objects.get(user=coordinator_a)
    client.post(ENROL, {"action": "start"})
    second = TOTPDevice.objects.get(user=coordinator_a)
    assert first.pk != second.pk and first.key != second.key
    client.post(ENROL, {"action": "cancel"})
    assert not TOTPDevice.objects.filter(user=coordinator_a).exists()


def test_statisticians_and_admins_may_enrol_but_other_users_may_not(stat_user):
    assert signed_in(stat_user).get(ENROL).status_code == 200
    assert signed_in(superuser()).get(ENROL).status_code == 200
    assert signed_in(UserFactory(username="nobody")).get(ENROL).status_code == 403
    anonymous = Client().get(ENROL)
    assert anonymous.status_code == 302
    assert redirect_target(anonymous)[0] == reverse("login")


# ------------------------------------------------------------------ verification
def test_after_the_password_a_staff_page_needs_the_code(coordinator_a, site_a):
    device = enrolled(coordinator_a)
    client = signed_in(coordinator_a)  # the password step

    blocked = client.get(WORKLIST)
    assert blocked.status_code == 302
    assert redirect_target(blocked) == (VERIFY, WORKLIST)
    page = client.get(VERIFY, {"next": WORKLIST})
    assert page.status_code == 200
    assert 'autocomplete="one-time-code"' in page.content.decode()

    session_before = client.session.session_key
    verified = client.post(VERIFY, {"otp_token": code(device), "next": WORKLIST})
    assert verified.status_code == 302
    assert verified["Location"] == WORKLIST
    assert client.session.session_key != session_before  # a new session id
    assert client.get(WORKLIST).status_code == 200


def test_a_wrong_or_malformed_code_is_refused_and_the_page_stays_blocked(coordinator_a, site_a):
    device = enrolled(coordinator_a)
    client = signed_in(coordinator_a)
    for bad in ("12345", "abcdef", "", "1" * 17):
        response = client.post(VERIFY, {"otp_token": bad})
        assert response.status_code == 400, bad
    refused = client.post(VERIFY, {"otp_token": wrong(device)})
    assert refused.status_code == 400
    assert "That code is not right" in refused.content.decode()
    assert DEVICE_ID_SESSION_KEY not in client.session
    assert client.get(WORKLIST).status_code == 302


def test_a_code_spaced_as_the_app_shows_it_is_accepted(coordinator_a, site_a):
    device = enrolled(coordinator_a)
    client = signed_in(coordinator_a)
    token = code(device)
    assert client.post(VERIFY, {"otp_token": f"{token[:3]} {token[3:]}"}).status_code == 302
    assert client.get(WORKLIST).status_code == 200


def test_a_code_is_accepted_once_only(coordinator_a, site_a):
    device = enrolled(coordinator_a)
    token = code(device)
    assert signed_in(coordinator_a).post(VERIFY, {"otp_token": token}).status_code == 302
    replay = signed_in(coordinator_a)  # e.g. an onlooker who read the code
    assert replay.post(VERIFY, {"otp_token": token}).status_code == 400
    assert replay.get(WORKLIST).status_code == 302


def test_wrong_codes_are_throttled_even_for_the_right_code(coordinator_a, site_a):
    assert settings.OTP_TOTP_THROTTLE_FACTOR >= 1
    device = enrolled(coordinator_a)
    assert device.throttling_enabled
    client = signed_in(coordinator_a)
    for _ in range(3):
        client.post(VERIFY, {"otp_token": wrong(device)})
    device.refresh_from_db()
    assert device.throttling_failure_count >= 1

    throttled = client.post(VERIFY, {"otp_token": code(device)})
    assert throttled.status_code == 429
    assert "Too many wrong codes" in throttled.content.decode()
    assert client.get(WORKLIST).status_code == 302

    # Once the back-off (1, 2, 4 … s) has passed, the right code works and resets it.
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=device.throttling_failure_timestamp - dt.timedelta(hours=1)
    )
    assert client.post(VERIFY, {"otp_token": code(device)}).status_code == 302
    device.refresh_from_db()
    assert device.throttling_failure_count == 0
    assert client.get(WORKLIST).status_code == 200


def test_the_verify_page_does_not_redirect_off_site(coordinator_a, site_a):
    device = enrolled(coordinator_a)
    client = signed_in(coordinator_a)
    response = client.post(VERIFY, {"otp_token": code(device), "next": "https://evil.example/"})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_an_unverified_session_cannot_turn_two_factor_off(coordinator_a, site_a):
    device = enrolled(coordinator_a)
    client = signed_in(coordinator_a)
    for response in (
        client.get(ENROL),
        client.post(ENROL, {"action": "disable", "otp_token": code(device)}),
        client.post(ENROL, {"action": "start"}),
    ):
        assert response.status_code == 302
        assert redirect_target(response)[0] == VERIFY
    assert TOTPDevice.objects.filter(user=coordinator_a, confirmed=True).count() == 1


def test_a_verified_user_turns_it_off_with_a_fresh_code(coordinator_a, site_a):
    device = enrolled(coordinator_a)
    client = signed_in(coordinator_a)
    assert client.post(VERIFY, {"otp_token": code(device)}).status_code == 302
    refused = client.post(ENROL, {"action": "disable", "otp_token": code(device)})  # replay
    assert refused.status_code == 400
    assert TOTPDevice.objects.filter(user=coordinator_a).exists()
    device.refresh_from_db()
    device.throttling_failure_timestamp = None
    device.save()
    off = client.post(ENROL, {"action": "disable", "otp_token": code(device, steps_ahead=1)})
    assert off.status_code == 302
    assert not TOTPDevice.objects.filter(user=coordinator_a).exists()
    assert client.get(WORKLIST).status_code == 200


def test_the_api_answers_an_unverified_session_with_403_json(coordinator_a, site_a):
    device = enrolled(coordinator_a)
    client = signed_in(coordinator_a)
    url = reverse("api:participant-list")
    response = client.get(url)
    assert response.status_code == 403
    assert response.json()["code"] == "otp_verify_required"
    client.post(VERIFY, {"otp_token": code(device)})
    assert client.get(url).status_code == 200


def test_an_enrolled_admin_must_verify_for_the_django_admin():
    admin_user = superuser()
    device = enrolled(admin_user)
    client = signed_in(admin_user)
    for url in (reverse("admin:index"), reverse("admin:otp_totp_totpdevice_changelist")):
        blocked = client.get(url)
        assert blocked.status_code == 302
        assert redirect_target(blocked) == (VERIFY, url)
    client.post(VERIFY, {"otp_token": code(device)})
    assert client.get(reverse("admin:index")).status_code == 200
    changelist = client.get(reverse("admin:otp_totp_totpdevice_changelist"))
    assert changelist.status_code == 200
    assert device.key not in changelist.content.decode()  # OTP_ADMIN_HIDE_SENSITIVE_DATA


# ------------------------------------------------------------ what stays as it was
def test_users_without_a_device_are_not_asked(coordinator_a, stat_user, site_a):
    assert signed_in(coordinator_a).get(WORKLIST).status_code == 200
    assert signed_in(stat_user).get(reverse("statistician:home")).status_code == 200
    assert signed_in(superuser()).get(reverse("admin:index")).status_code == 200
    # With nothing to verify, the verify page just moves on.
    response = signed_in(coordinator_a).get(VERIFY, {"next": WORKLIST})
    assert response.status_code == 302 and response["Location"] == WORKLIST


def test_health_static_language_and_logout_work_before_the_code(coordinator_a, site_a):
    enrolled(coordinator_a)
    client = signed_in(coordinator_a)
    assert client.get(reverse("healthz")).status_code == 200
    assert client.get(reverse("login")).status_code == 200
    language = client.post(reverse("set_language"), {"language": "es", "next": "/"})
    assert language.status_code == 302 and redirect_target(language)[0] != VERIFY
    static = client.get("/static/css/app.css")
    assert static.status_code != 302 or redirect_target(static)[0] != VERIFY
    logout = client.post(reverse("logout"))
    assert logout.status_code == 302 and redirect_target(logout)[0] == reverse("login")
    assert "_auth_user_id" not in client.session


def test_the_kiosk_is_unaffected_by_the_coordinators_second_factor(trial, site_a, coordinator_a):
    device = enrolled(coordinator_a)
    assessment = open_assessment_for(trial, site_a)

    # The hand-off page is a staff page: it waits for the code ...
    coordinator = signed_in(coordinator_a)
    start = reverse("tablet:start", args=[assessment.pk])
    assert redirect_target(coordinator.get(start))[0] == VERIFY
    coordinator.post(VERIFY, {"otp_token": code(device)})
    assert coordinator.get(start).status_code == 200

    # ... the patient's pages never do, and an unverified staff login does not change them.
    tablet = tablet_client(hand_over(assessment, coordinator_a))
    for url in (reverse("tablet:form"), reverse("tablet:intro"), reverse("tablet:exit")):
        response = tablet.get(url)
        assert response.status_code in (200, 302), url
        if response.status_code == 302:
            assert redirect_target(response)[0].startswith("/tablet/"), url
    unverified = signed_in(coordinator_a)
    assert unverified.get(reverse("tablet:form")).status_code == 403  # no kiosk: as before
    assert unverified.get(reverse("tablet:ping")).status_code != 302


def test_taking_the_tablet_back_with_a_password_still_needs_the_code(trial, site_a, coordinator_a):
    device = enrolled(coordinator_a)
    assessment = open_assessment_for(trial, site_a)
    tablet = tablet_client(hand_over(assessment, coordinator_a))
    back = tablet.post(
        reverse("tablet:exit"),
        {"method": "login", "username": coordinator_a.username, "password": PASSWORD},
    )
    participant = reverse("coordinator:participant", args=[assessment.participant_id])
    assert back.status_code == 302 and back["Location"] == participant
    blocked = tablet.get(participant)
    assert redirect_target(blocked) == (VERIFY, participant)
    tablet.post(VERIFY, {"otp_token": code(device)})
    assert tablet.get(participant).status_code == 200


# ------------------------------------------------------------- required for staff
def test_when_required_staff_without_a_device_must_enrol_first(settings, coordinator_a, site_a):
    settings.OTP_REQUIRED_FOR_STAFF = True
    client = signed_in(coordinator_a)
    blocked = client.get(WORKLIST)
    assert redirect_target(blocked) == (ENROL, WORKLIST)
    api = client.get(reverse("api:participant-list"))
    assert api.status_code == 403 and api.json()["code"] == "otp_enrol_required"
    assert redirect_target(client.get(VERIFY))[0] == ENROL
    page = client.get(ENROL, {"next": WORKLIST})
    assert page.status_code == 200 and "required for staff" in page.content.decode()

    client.post(ENROL, {"action": "start", "next": WORKLIST})
    device = TOTPDevice.objects.get(user=coordinator_a)
    done = client.post(ENROL, {"action": "confirm", "otp_token": code(device), "next": WORKLIST})
    assert f'href="{WORKLIST}"' in done.content.decode()  # after the recovery codes
    assert client.get(WORKLIST).status_code == 200

    admin_client = signed_in(superuser())
    assert redirect_target(admin_client.get(reverse("admin:index")))[0] == ENROL
    # Users with no staff role are not asked (they have no staff pages anyway).
    assert signed_in(UserFactory(username="nobody")).get("/").status_code == 403


def test_throttling_cannot_be_configured_off():
    env = {k: v for k, v in os.environ.items() if k != "DEBUG"}
    env.update(SECRET_KEY="x" * 60, OTP_TOTP_THROTTLE_FACTOR="0")
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "ecogprom.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "OTP_TOTP_THROTTLE_FACTOR must be at least 1" in result.stderr
