"""The login throttle: slows guessing, cannot be used to lock staff out; failed logins kept.

Before: django-axes keyed on username and REMOTE_ADDR; behind nginx every client
is 127.0.0.1, so five wrong passwords from anywhere locked any staff account for
15 minutes (the tablet's exit login included), and each success deleted the
record of the failures before it.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from surveys.accounts.throttle import delay_after
from surveys.models import AuditEvent, KioskSession, LoginAttempt
from tests.factories import PASSWORD
from tests.tablet.conftest import hand_over, open_assessment_for, tablet_client

pytestmark = pytest.mark.django_db
LOGIN = reverse("login")
NGINX = "127.0.0.1"
ATTACKER = "203.0.113.66"
CLINIC = "198.51.100.20"


@pytest.fixture(autouse=True)
def behind_nginx(settings):
    """The documented deployment: nginx on 127.0.0.1 appends the client to X-Forwarded-For."""
    settings.TRUSTED_PROXY_IPS = [NGINX]
    settings.CLIENT_IP_HEADER = "X-Forwarded-For"
    settings.LOGIN_THROTTLE_ENABLED = True
    settings.LOGIN_FREE_FAILURES = 5
    settings.LOGIN_DELAY_SECONDS = 2
    settings.LOGIN_DELAY_MAX_SECONDS = 900
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def from_address(address: str, forwarded_by_client: str = "") -> Client:
    chain = f"{forwarded_by_client}, {address}" if forwarded_by_client else address
    return Client(REMOTE_ADDR=NGINX, HTTP_X_FORWARDED_FOR=chain)


def attempt(client: Client, username: str, password: str):
    return client.post(LOGIN, {"username": username, "password": password})


def test_wrong_passwords_elsewhere_never_lock_a_coordinator_out(coordinator_a):
    attacker = from_address(ATTACKER)
    for _ in range(20):
        attempt(attacker, coordinator_a.username, "wrong")
    refused = attempt(attacker, coordinator_a.username, PASSWORD)
    assert refused.status_code == 429  # the attacker's own address waits ...
    coordinator = from_address(CLINIC)
    signed_in = attempt(coordinator, coordinator_a.username, PASSWORD)
    assert signed_in.status_code == 302  # ... the coordinator at her desk does not
    assert coordinator.session["_auth_user_id"] == str(coordinator_a.pk)


def test_a_client_cannot_choose_its_address_with_a_forged_header(coordinator_a):
    for n in range(10):  # a different forged left-most address each time; nginx adds the real one
        attempt(from_address(ATTACKER, forwarded_by_client=f"10.0.0.{n}"), "coord_a", "x")
    assert set(LoginAttempt.objects.values_list("client_ip", flat=True)) == {ATTACKER}
    assert attempt(from_address(ATTACKER, "10.9.9.9"), "coord_a", PASSWORD).status_code == 429


def test_after_the_free_failures_each_attempt_waits_longer(coordinator_a):
    client = from_address(CLINIC)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(settings.LOGIN_FREE_FAILURES):
            assert attempt(client, "coord_a", "wrong").status_code == 200
        waits = []
        for failures in range(settings.LOGIN_FREE_FAILURES, settings.LOGIN_FREE_FAILURES + 4):
            refused = attempt(client, "coord_a", PASSWORD)  # even the right password waits
            assert refused.status_code == 429
            assert "try again in" in refused.content.decode()
            waits.append(int(refused["Retry-After"]))
            clock.shift(dt.timedelta(seconds=delay_after(failures)))
            assert attempt(client, "coord_a", "wrong").status_code == 200  # counted again
        assert waits == [2, 4, 8, 16]
        clock.shift(dt.timedelta(seconds=delay_after(settings.LOGIN_FREE_FAILURES + 4)))
        assert attempt(client, "coord_a", PASSWORD).status_code == 302
    assert delay_after(200) == settings.LOGIN_DELAY_MAX_SECONDS  # capped


def test_refused_attempts_are_not_counted_so_waiting_is_enough(coordinator_a):
    client = from_address(CLINIC)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(settings.LOGIN_FREE_FAILURES):
            attempt(client, "coord_a", "wrong")
        for _ in range(30):
            assert attempt(client, "coord_a", "wrong").status_code == 429
        clock.shift(dt.timedelta(seconds=delay_after(settings.LOGIN_FREE_FAILURES)))
        assert attempt(client, "coord_a", PASSWORD).status_code == 302
    assert AuditEvent.objects.filter(action="login_refused").count() == 30


def test_one_address_spraying_many_usernames_is_stopped(settings, coordinator_a):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 12
    settings.LOGIN_ADDRESS_WINDOW_SECONDS = 900
    sprayer = from_address(ATTACKER)
    for n in range(12):
        assert attempt(sprayer, f"user{n}", "Summer2026!").status_code == 200
    refused = attempt(sprayer, "coord_a", PASSWORD)
    assert refused.status_code == 429
    assert "from your network" in refused.content.decode()
    assert attempt(from_address(CLINIC), "coord_a", PASSWORD).status_code == 302
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=901)):
        assert attempt(sprayer, "coord_a", PASSWORD).status_code == 302


def test_failed_logins_are_kept_after_a_success(coordinator_a):
    client = from_address(CLINIC)
    for _ in range(3):
        attempt(client, "coord_a", "wrong")
    assert attempt(client, "coord_a", PASSWORD).status_code == 302
    assert LoginAttempt.objects.filter(username="coord_a", succeeded=False).count() == 3
    assert LoginAttempt.objects.filter(username="coord_a", succeeded=True).count() == 1
    failed = AuditEvent.objects.filter(action="login_failed")
    assert failed.count() == 3
    assert failed.first().details == {"username": "coord_a", "ip": CLINIC}
    assert AuditEvent.objects.filter(action="login", actor=coordinator_a).count() == 1
    # A success resets the delay for this address, not the record.
    for _ in range(settings.LOGIN_FREE_FAILURES):
        assert attempt(client, "coord_a", "wrong").status_code == 200


def test_a_username_longer_than_any_account_is_a_form_error_not_a_server_error(db):
    client = Client(raise_request_exception=False)
    for length in (151, 256, 300, 5000):
        response = attempt(client, "u" * length, "x")
        assert response.status_code == 200, length
    assert LoginAttempt.objects.count() == 0  # refused by the form, before any lookup


def test_the_tablet_exit_login_is_throttled_per_address_too(trial, site_a, coordinator_a):
    assessment = open_assessment_for(trial, site_a)
    kiosk = hand_over(assessment, coordinator_a)
    tablet = tablet_client(kiosk, REMOTE_ADDR=NGINX, HTTP_X_FORWARDED_FOR=CLINIC)
    url = reverse("tablet:exit")
    for _ in range(settings.LOGIN_FREE_FAILURES):
        wrong = tablet.post(url, {"method": "login", "username": "coord_a", "password": "no"})
        assert wrong.status_code == 400
    refused = tablet.post(url, {"method": "login", "username": "coord_a", "password": PASSWORD})
    assert refused.status_code == 429
    assert "try again in" in refused.content.decode()
    assert KioskSession.objects.get(pk=kiosk.pk).ended_at is None  # still the patient's tablet
    # The coordinator's own desk is not affected.
    assert attempt(from_address("198.51.100.99"), "coord_a", PASSWORD).status_code == 302


def test_the_throttle_can_be_turned_off(settings, coordinator_a):
    settings.LOGIN_THROTTLE_ENABLED = False
    client = from_address(CLINIC)
    for _ in range(20):
        attempt(client, "coord_a", "wrong")
    assert attempt(client, "coord_a", PASSWORD).status_code == 302


def test_staff_sessions_expire():
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True
    assert settings.SESSION_COOKIE_AGE <= 8 * 3600
    assert settings.SESSION_COOKIE_HTTPONLY is True
    assert settings.STAFF_IDLE_TIMEOUT_SECONDS == 30 * 60


@pytest.mark.parametrize("weak", ["short1", "password123", "1234567890123"])
def test_weak_passwords_are_refused(weak):
    with pytest.raises(ValidationError):
        validate_password(weak)


def test_the_throttle_speaks_the_tablets_language(trial, site_a, coordinator_a):
    """The exit page of a Spanish tablet said "try again in 15 minutes" in English."""
    assessment = open_assessment_for(trial, site_a, language="es")
    kiosk = hand_over(assessment, coordinator_a)
    tablet = tablet_client(kiosk, REMOTE_ADDR=NGINX, HTTP_X_FORWARDED_FOR=CLINIC)
    url = reverse("tablet:exit")
    for _ in range(settings.LOGIN_FREE_FAILURES):
        tablet.post(url, {"method": "login", "username": "coord_a", "password": "no"})
    refused = tablet.post(url, {"method": "login", "username": "coord_a", "password": PASSWORD})
    assert refused.status_code == 429
    page = refused.content.decode()
    assert "inténtelo de nuevo en" in page and "try again in" not in page
