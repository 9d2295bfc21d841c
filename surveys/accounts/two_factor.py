"""The optional TOTP second factor for staff (django-otp): who owes one, and checking a code.

* Staff (coordinators, statisticians, Django staff and superusers) may enrol an
  authenticator app on ``/accounts/two-factor/``.
* Once a user has a confirmed device, a password login is not enough: every
  staff page asks for a code until this session has been verified
  (:mod:`surveys.accounts.middleware`).
* With ``OTP_REQUIRED_FOR_STAFF`` on, staff without a device must enrol first.

The devices, code checks, replay protection (a code's time step is accepted
once) and throttling (exponential back-off after wrong codes,
``OTP_TOTP_THROTTLE_FACTOR``) are django-otp's.
"""

from __future__ import annotations

import logging
import math
from typing import Any, NamedTuple

import django_otp
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_otp import user_has_device
from django_otp.models import VerifyNotAllowed
from django_otp.plugins.otp_totp.models import TOTPDevice

from surveys.accounts.roles import is_coordinator, is_statistician

log = logging.getLogger(__name__)

VERIFY = "verify"
ENROL = "enrol"


def is_staff_user(user: Any) -> bool:
    """Users who may (or, with OTP_REQUIRED_FOR_STAFF, must) use a second factor."""
    if not user.is_authenticated:
        return False
    return bool(user.is_superuser or user.is_staff or is_coordinator(user) or is_statistician(user))


def is_verified(user: Any) -> bool:
    """Has this session been verified by one of the user's confirmed devices?"""
    return getattr(user, "otp_device", None) is not None


def second_factor_needed(user: Any) -> str | None:
    """What *user* still owes before a staff page: ``"verify"``, ``"enrol"`` or None."""
    if not user.is_authenticated or is_verified(user):
        return None
    if user_has_device(user, confirmed=True):
        return VERIFY
    if getattr(settings, "OTP_REQUIRED_FOR_STAFF", False) and is_staff_user(user):
        return ENROL
    return None


class CodeCheck(NamedTuple):
    device: TOTPDevice | None  # the device that accepted the code, or None
    error: str = ""
    throttled: bool = False


def check_code(request: HttpRequest, device_pk: int, token: str) -> CodeCheck:
    """Verify *token* on one of the user's devices, under a row lock."""
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update().filter(pk=device_pk, user=request.user).first()
        )
        if device is None:
            return CodeCheck(None, "This authenticator is no longer registered; start again.")
        allowed, extra = device.verify_is_allowed()
        if not allowed:
            if extra and extra.get("reason") == VerifyNotAllowed.N_FAILED_ATTEMPTS:
                wait = (extra["locked_until"] - timezone.now()).total_seconds()
                message = (
                    f"Too many wrong codes: wait {max(1, math.ceil(wait))} seconds, "
                    "then enter the current code."
                )
                return CodeCheck(None, message, throttled=True)
            return CodeCheck(None, "Verification is not allowed right now; try again later.", True)
        if device.verify_token(token):
            return CodeCheck(device)
    log.warning("two-factor: wrong code for user %s (device %s)", request.user.pk, device_pk)
    return CodeCheck(None, "That code is not right (or was already used). Enter the current code.")


def mark_verified(request: HttpRequest, device: TOTPDevice) -> None:
    django_otp.login(request, device)
    request.session.cycle_key()  # a new session id for the stronger login
