"""Staff clients with and without a verified second factor."""

from __future__ import annotations

import time

import pytest
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def totp_code(device: TOTPDevice, steps_ahead: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def verified_client(user) -> Client:
    """Logged in with the password and verified with the user's authenticator."""
    device = TOTPDevice.objects.get_or_create(user=user, name="phone", confirmed=True)[0]
    client = Client(raise_request_exception=False)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def password_client(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client
