"""Single-use recovery codes for the day the phone is lost (django-otp's static device)."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from surveys.accounts.two_factor import recovery_codes_issue, recovery_codes_left
from surveys.models import AuditEvent
from tests.accounts.conftest import totp_code, verified_client

pytestmark = pytest.mark.django_db
VERIFY = reverse("account:two_factor_verify")
ENROL = reverse("account:two_factor")
WORKLIST = reverse("coordinator:worklist")


def codes_on(page) -> list[str]:
    return re.findall(r"<code>([a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4})</code>", page.content.decode())


def test_enrolling_gives_ten_codes_and_each_signs_in_once(coordinator_a, site_a):
    client = Client()
    client.force_login(coordinator_a)
    client.post(ENROL, {"action": "start"})
    device = TOTPDevice.objects.get(user=coordinator_a)
    codes = codes_on(client.post(ENROL, {"action": "confirm", "otp_token": totp_code(device)}))
    assert len(codes) == 10 and len(set(codes)) == 10
    assert recovery_codes_left(coordinator_a) == 10

    phone_lost = Client()
    phone_lost.force_login(coordinator_a)
    assert phone_lost.get(WORKLIST).status_code == 302  # verify first
    upper = codes[0].upper().replace("-", " ")  # typed loosely: still the code
    signed_in = phone_lost.post(VERIFY, {"otp_token": upper, "next": WORKLIST})
    assert signed_in.status_code == 302 and signed_in["Location"] == WORKLIST
    assert phone_lost.get(WORKLIST).status_code == 200
    assert recovery_codes_left(coordinator_a) == 9
    assert AuditEvent.objects.filter(action="two_factor", reason="recovery code used").exists()

    again = Client()
    again.force_login(coordinator_a)
    reused = again.post(VERIFY, {"otp_token": codes[0]})
    assert reused.status_code == 400  # single use
    assert again.get(WORKLIST).status_code == 302


def test_new_codes_replace_the_old_ones_with_a_current_code(coordinator_a, site_a):
    client = verified_client(coordinator_a)
    old = recovery_codes_issue(user=coordinator_a, now=timezone.now())
    device = TOTPDevice.objects.get(user=coordinator_a)
    page = client.post(ENROL, {"action": "recovery", "otp_token": totp_code(device, 1)})
    new = codes_on(page)
    assert len(new) == 10 and not set(new) & set(old)
    fresh = Client()
    fresh.force_login(coordinator_a)
    assert fresh.post(VERIFY, {"otp_token": old[0]}).status_code == 400
    StaticDevice.objects.update(throttling_failure_count=0, throttling_failure_timestamp=None)
    assert fresh.post(VERIFY, {"otp_token": new[0]}).status_code == 302


def test_removing_the_authenticator_removes_the_codes(coordinator_a, site_a):
    client = verified_client(coordinator_a)
    recovery_codes_issue(user=coordinator_a, now=timezone.now())
    device = TOTPDevice.objects.get(user=coordinator_a)
    off = client.post(ENROL, {"action": "disable", "otp_token": totp_code(device, 1)})
    assert off.status_code == 302
    assert not StaticDevice.objects.filter(user=coordinator_a).exists()
    assert AuditEvent.objects.filter(action="two_factor", reason="authenticator removed").exists()


def test_with_only_recovery_codes_left_the_verify_page_still_works(coordinator_a, site_a):
    codes = recovery_codes_issue(user=coordinator_a, now=timezone.now())
    client = Client()
    client.force_login(coordinator_a)
    page = client.get(VERIFY)
    assert page.status_code == 200 and "recovery codes" in page.content.decode()
    wrong_kind = client.post(VERIFY, {"otp_token": "123456"})
    assert wrong_kind.status_code == 400 and "use a recovery code" in wrong_kind.content.decode()
    assert client.post(VERIFY, {"otp_token": codes[3]}).status_code == 302


@pytest.mark.parametrize("text", ["abc", "zzzz-zzzz-zzz1", "1234567890123", "", "a" * 40])
def test_malformed_codes_are_form_errors(coordinator_a, site_a, text):
    recovery_codes_issue(user=coordinator_a, now=timezone.now())
    client = Client()
    client.force_login(coordinator_a)
    assert client.post(VERIFY, {"otp_token": text}).status_code == 400
    assert recovery_codes_left(coordinator_a) == 10
