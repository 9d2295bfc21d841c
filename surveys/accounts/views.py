"""Accounts: ``/`` sends each person to her workspace; ``/accounts/two-factor/`` enrols
an authenticator app (TOTP) and verifies the code after login.

The devices, code checks, replay protection (a code's time step is accepted
once) and throttling (exponential back-off after wrong codes,
``OTP_TOTP_THROTTLE_FACTOR``) are django-otp's; these views only ask for the
code and record the verified device in the session (``django_otp.login``).
"""

from __future__ import annotations

import base64
import io
import logging
from typing import Any
from urllib.parse import urlencode

import django_otp
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render, resolve_url
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.decorators.cache import never_cache
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.qr import write_qrcode_image

from surveys.accounts.forms import TokenForm
from surveys.accounts.roles import is_coordinator, is_statistician
from surveys.accounts.two_factor import (
    ENROL,
    VERIFY,
    check_code,
    is_staff_user,
    is_verified,
    mark_verified,
    second_factor_needed,
)

log = logging.getLogger(__name__)

DEVICE_NAME = "Authenticator app"


# ------------------------------------------------------------------------ helpers
def _safe_next(request: HttpRequest, default: str = "home") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return resolve_url(default)


def _qr_data_uri(text: str) -> str:
    out = io.BytesIO()
    write_qrcode_image(text, out)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def _grouped_secret(device: TOTPDevice) -> str:
    secret = base64.b32encode(device.bin_key).decode("ascii")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


# -------------------------------------------------------------------------- views
@method_decorator([never_cache, login_required], name="dispatch")
class TwoFactorView(View):
    """Status, enrolment (start → scan → confirm with a code), and removal."""

    template_name = "account/two_factor.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not is_staff_user(request.user):
            raise PermissionDenied("two-factor authentication is for staff accounts")
        if second_factor_needed(request.user) == VERIFY:  # defence in depth (middleware)
            query = urlencode({"next": request.get_full_path()})
            return redirect(f"{resolve_url('account:two_factor_verify')}?{query}")
        return super().dispatch(request, *args, **kwargs)

    def devices(self, request: HttpRequest, confirmed: bool) -> list[TOTPDevice]:
        return list(
            TOTPDevice.objects.devices_for_user(request.user, confirmed=confirmed).order_by("pk")
        )

    def page(
        self,
        request: HttpRequest,
        *,
        form: TokenForm | None = None,
        disable_form: TokenForm | None = None,
        status: int = 200,
    ) -> HttpResponse:
        confirmed = self.devices(request, confirmed=True)
        pending = None if confirmed else (self.devices(request, confirmed=False) or [None])[-1]
        context: dict[str, Any] = {
            "confirmed": confirmed,
            "pending": pending,
            "form": form or TokenForm(),
            "disable_form": disable_form or TokenForm(),
            "required": settings.OTP_REQUIRED_FOR_STAFF,
            "must_enrol": second_factor_needed(request.user) == ENROL,
            "next": request.POST.get("next") or request.GET.get("next") or "",
        }
        if pending is not None:
            uri = pending.config_url
            context.update(
                otpauth_uri=uri, qr_src=_qr_data_uri(uri), secret=_grouped_secret(pending)
            )
        return render(request, self.template_name, context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.page(request)

    def post(self, request: HttpRequest) -> HttpResponseBase:
        action = request.POST.get("action")
        handler = {
            "start": self.start,
            "confirm": self.confirm,
            "cancel": self.cancel,
            "disable": self.disable,
        }.get(action or "")
        if handler is None:
            return self.page(request, status=400)
        return handler(request)

    def start(self, request: HttpRequest) -> HttpResponseBase:
        if self.devices(request, confirmed=True):
            messages.info(request, "Two-factor authentication is already on.")
            return redirect("account:two_factor")
        with transaction.atomic():
            TOTPDevice.objects.devices_for_user(request.user, confirmed=False).delete()
            TOTPDevice.objects.create(user=request.user, name=DEVICE_NAME, confirmed=False)
        return redirect(self._self_url(request))

    def confirm(self, request: HttpRequest) -> HttpResponseBase:
        form = TokenForm(data=request.POST)
        pending = self.devices(request, confirmed=False)
        if self.devices(request, confirmed=True) or not pending:
            messages.error(request, "There is no authenticator waiting to be confirmed.")
            return redirect("account:two_factor")
        if not form.is_valid():
            return self.page(request, form=form, status=400)
        check = check_code(request, pending[-1].pk, form.cleaned_data["otp_token"])
        device = check.device
        if device is None:
            form.add_error("otp_token", check.error)
            return self.page(request, form=form, status=429 if check.throttled else 400)
        with transaction.atomic():
            TOTPDevice.objects.filter(pk=device.pk).update(confirmed=True)
            TOTPDevice.objects.devices_for_user(request.user, confirmed=False).delete()
        device.confirmed = True
        mark_verified(request, device)
        log.info("two-factor: user %s enrolled a TOTP device", request.user.pk)
        messages.success(
            request, "Two-factor authentication is on: you will be asked for a code after login."
        )
        return redirect(_safe_next(request, default="account:two_factor"))

    def cancel(self, request: HttpRequest) -> HttpResponseBase:
        TOTPDevice.objects.devices_for_user(request.user, confirmed=False).delete()
        return redirect("account:two_factor")

    def disable(self, request: HttpRequest) -> HttpResponseBase:
        confirmed = self.devices(request, confirmed=True)
        if not confirmed or not is_verified(request.user):
            return redirect("account:two_factor")
        form = TokenForm(data=request.POST)
        if not form.is_valid():
            return self.page(request, disable_form=form, status=400)
        user: Any = request.user  # django-otp's middleware adds otp_device
        check = check_code(request, user.otp_device.pk, form.cleaned_data["otp_token"])
        if check.device is None:
            form.add_error("otp_token", check.error)
            return self.page(request, disable_form=form, status=429 if check.throttled else 400)
        TOTPDevice.objects.devices_for_user(user).delete()
        request.session.pop(django_otp.DEVICE_ID_SESSION_KEY, None)
        user.otp_device = None
        log.info("two-factor: user %s removed their TOTP device", request.user.pk)
        messages.success(request, "Two-factor authentication is off for your account.")
        return redirect("account:two_factor")

    @staticmethod
    def _self_url(request: HttpRequest) -> str:
        url = resolve_url("account:two_factor")
        target = request.POST.get("next")
        if target and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            url += "?" + urlencode({"next": target})
        return url


@method_decorator([never_cache, login_required], name="dispatch")
class VerifyView(View):
    """After the password: the code from the user's authenticator app."""

    template_name = "account/two_factor_verify.html"

    def devices(self, request: HttpRequest) -> list[TOTPDevice]:
        return list(
            TOTPDevice.objects.devices_for_user(request.user, confirmed=True).order_by("pk")
        )

    def page(
        self, request: HttpRequest, form: TokenForm, devices: list[TOTPDevice], status: int = 200
    ) -> HttpResponse:
        context = {"form": form, "devices": devices, "next": _safe_next(request)}
        return render(request, self.template_name, context, status=status)

    def nothing_to_verify(self, request: HttpRequest) -> HttpResponseBase:
        if second_factor_needed(request.user) == ENROL:
            query = urlencode({"next": _safe_next(request)})
            return redirect(f"{resolve_url('account:two_factor')}?{query}")
        return redirect(_safe_next(request))

    def get(self, request: HttpRequest) -> HttpResponseBase:
        devices = self.devices(request)
        if not devices or is_verified(request.user):
            return self.nothing_to_verify(request)
        return self.page(request, TokenForm(), devices)

    def post(self, request: HttpRequest) -> HttpResponseBase:
        devices = self.devices(request)
        if not devices or is_verified(request.user):
            return self.nothing_to_verify(request)
        form = TokenForm(data=request.POST)
        if not form.is_valid():
            return self.page(request, form, devices, status=400)
        chosen = devices[0]
        if len(devices) > 1:
            wanted = request.POST.get("device")
            chosen = next((d for d in devices if str(d.pk) == wanted), devices[0])
        check = check_code(request, chosen.pk, form.cleaned_data["otp_token"])
        if check.device is None:
            form.add_error("otp_token", check.error)
            return self.page(request, form, devices, status=429 if check.throttled else 400)
        mark_verified(request, check.device)
        log.info("two-factor: user %s verified", request.user.pk)
        return redirect(_safe_next(request))


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """``/``: send each person to her own workspace."""
    user = request.user
    if is_coordinator(user):
        return redirect("coordinator:worklist")
    if is_statistician(user) and not user.is_superuser:
        return redirect("statistician:home")
    if user.is_superuser:
        return render(request, "home_admin.html")
    return render(request, "home_no_role.html", status=403)
