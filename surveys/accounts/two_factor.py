"""The TOTP second factor for staff (django-otp): who owes one, checking a code, recovery codes.

* Staff (coordinators, statisticians, Django staff and superusers) enrol an
  authenticator app on ``/accounts/two-factor/`` and get single-use recovery
  codes (django-otp's static device) for the day the phone is lost.
* Once a user has a confirmed device, a password login is not enough: every
  staff page asks for a code until this session has been verified
  (:mod:`surveys.accounts.middleware`).
* With ``OTP_REQUIRED_FOR_STAFF`` on (the default whenever ``DEBUG`` is off),
  staff without a device must enrol first.

The devices, code checks, replay protection (a code's time step is accepted
once) and throttling (exponential back-off after wrong codes,
``OTP_TOTP_THROTTLE_FACTOR``) are django-otp's.
"""

from __future__ import annotations

import base64
import logging
import math
import os
import re
from typing import Any, NamedTuple

import django_otp
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_otp import user_has_device
from django_otp.models import Device, VerifyNotAllowed
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from surveys.accounts.roles import is_coordinator, is_statistician
from surveys.models import AuditEvent, actor_fields

log = logging.getLogger(__name__)

VERIFY = "verify"
ENROL = "enrol"
RECOVERY_DEVICE_NAME = "Recovery codes"
#: A recovery code: 12 characters of RFC 4648 base32 (60 bits), shown as xxxx-xxxx-xxxx.
RECOVERY_CODE = re.compile(r"[a-z2-7]{12}")


def is_staff_user(user: Any) -> bool:
    """Users who may (or, with OTP_REQUIRED_FOR_STAFF, must) use a second factor."""
    if not user.is_authenticated:
        return False
    return bool(user.is_superuser or user.is_staff or is_coordinator(user) or is_statistician(user))


def is_verified(user: Any) -> bool:
    """Has this session been verified by one of the user's confirmed devices?"""
    return getattr(user, "otp_device", None) is not None


def requires_second_factor(user: Any) -> bool:
    """Must *user* pass a second factor (she has one, or staff must have one)?"""
    if not user.is_authenticated:
        return False
    if user_has_device(user, confirmed=True):
        return True
    return bool(getattr(settings, "OTP_REQUIRED_FOR_STAFF", False) and is_staff_user(user))


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


def check_code(
    request: HttpRequest, device_pk: int, token: str, model: type[Device] = TOTPDevice
) -> CodeCheck:
    """Verify *token* on one of the user's devices (TOTP, or recovery codes), under a row lock."""
    with transaction.atomic():
        device = (
            model._default_manager.select_for_update()
            .filter(pk=device_pk, user=request.user)
            .first()
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


def mark_verified(request: HttpRequest, device: Device) -> None:
    django_otp.login(request, device)
    request.session.cycle_key()  # a new session id for the stronger login


def normal_recovery_code(text: str) -> str | None:
    """``"ABCD-efgh 2345"`` → ``"abcdefgh2345"``, or None when it is not a recovery code."""
    code = re.sub(r"[\s-]", "", text).lower()
    return code if RECOVERY_CODE.fullmatch(code) else None


def recovery_device(user: Any) -> StaticDevice | None:
    return StaticDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def recovery_codes_left(user: Any) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def recovery_codes_issue(*, user: Any, now: Any) -> list[str]:
    """New single-use recovery codes for *user* (the old ones stop working); shown once."""
    count = settings.OTP_RECOVERY_CODES
    codes = [base64.b32encode(os.urandom(8)).decode("ascii").lower()[:12] for _ in range(count)]
    with transaction.atomic():
        StaticDevice.objects.filter(user=user).delete()
        device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
        StaticToken.objects.bulk_create(StaticToken(device=device, token=c) for c in codes)
        AuditEvent.objects.create(
            at=now,
            action=AuditEvent.Action.TWO_FACTOR,
            reason="recovery codes issued",
            details={"codes": count},
            **actor_fields(user),
        )
    return ["-".join(code[i : i + 4] for i in range(0, 12, 4)) for code in codes]


def second_factor_remove(*, user: Any, now: Any) -> None:
    """Remove the authenticator and the recovery codes (audited)."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        AuditEvent.objects.create(
            at=now,
            action=AuditEvent.Action.TWO_FACTOR,
            reason="authenticator removed",
            **actor_fields(user),
        )
