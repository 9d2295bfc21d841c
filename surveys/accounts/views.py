"""Accounts: ``/`` sends each person to her workspace; logging in (throttled), the second
factor (enrol, verify, recovery codes), API tokens, password change and the idle timeout.

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
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.decorators.cache import never_cache
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.qr import write_qrcode_image

from surveys.accounts.backends import THROTTLED
from surveys.accounts.forms import ApiTokenForm, LoginForm, TokenForm, VerifyForm
from surveys.accounts.middleware import idle_seconds_left, touch
from surveys.accounts.roles import is_coordinator, is_statistician, signed_in
from surveys.accounts.tokens import api_token_create, api_token_revoke
from surveys.accounts.two_factor import (
    ENROL,
    VERIFY,
    check_code,
    is_staff_user,
    is_verified,
    mark_verified,
    recovery_codes_issue,
    recovery_codes_left,
    recovery_device,
    second_factor_needed,
    second_factor_remove,
)
from surveys.models import ApiToken, AuditEvent, actor_fields

log = logging.getLogger(__name__)

DEVICE_NAME = "Authenticator app"


# ------------------------------------------------------------------------ helpers
def _safe_next(request: HttpRequest, default: str = "home") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    # A path on this site only: anything else (another host, or a bare word that redirect()
    # would try to reverse as a view name, e.g. "9999-12-31") goes to the default.
    if (
        target.startswith("/")
        and not target.startswith("//")
        and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
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
class LoginView(auth_views.LoginView):
    """Django's login page; 429 with how long to wait when the throttle refuses."""

    form_class = LoginForm

    def form_invalid(self, form: Any) -> HttpResponse:
        verdict = getattr(self.request, THROTTLED, None)
        if verdict is None:
            return super().form_invalid(form)
        context = self.get_context_data(form=form, throttle_message=verdict.message())
        response = self.render_to_response(context, status=429)
        response["Retry-After"] = str(verdict.wait_seconds)
        return response


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
        recovery_form: TokenForm | None = None,
        status: int = 200,
    ) -> HttpResponse:
        confirmed = self.devices(request, confirmed=True)
        pending = None if confirmed else (self.devices(request, confirmed=False) or [None])[-1]
        context: dict[str, Any] = {
            "confirmed": confirmed,
            "recovery_left": recovery_codes_left(request.user) if confirmed else 0,
            "pending": pending,
            "form": form or TokenForm(),
            "disable_form": disable_form or TokenForm(),
            "recovery_form": recovery_form or TokenForm(),
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
            "recovery": self.new_recovery_codes,
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
        now = timezone.now()
        AuditEvent.objects.create(
            at=now,
            action=AuditEvent.Action.TWO_FACTOR,
            reason="authenticator enrolled",
            **actor_fields(request.user),
        )
        codes = recovery_codes_issue(user=request.user, now=now)
        log.info("two-factor: user %s enrolled a TOTP device", request.user.pk)
        messages.success(
            request, "Two-factor authentication is on: you will be asked for a code after login."
        )
        return self.show_codes(request, codes)

    def show_codes(self, request: HttpRequest, codes: list[str]) -> HttpResponse:
        """The recovery codes, once (the page is not cached); then on to *next*."""
        context = {"codes": codes, "next": _safe_next(request, default="account:two_factor")}
        return render(request, "account/recovery_codes.html", context)

    def new_recovery_codes(self, request: HttpRequest) -> HttpResponseBase:
        """New recovery codes (the old ones stop working), with a current code from the app."""
        confirmed = self.devices(request, confirmed=True)
        if not confirmed or not is_verified(request.user):
            return redirect("account:two_factor")
        form = TokenForm(data=request.POST)
        if not form.is_valid():
            return self.page(request, recovery_form=form, status=400)
        check = check_code(request, confirmed[0].pk, form.cleaned_data["otp_token"])
        if check.device is None:
            form.add_error("otp_token", check.error)
            return self.page(request, recovery_form=form, status=429 if check.throttled else 400)
        return self.show_codes(request, recovery_codes_issue(user=request.user, now=timezone.now()))

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
        second_factor_remove(user=user, now=timezone.now())
        request.session.pop(django_otp.DEVICE_ID_SESSION_KEY, None)
        user.otp_device = None
        log.info("two-factor: user %s removed their TOTP device", request.user.pk)
        messages.success(request, "Two-factor authentication is off for your account.")
        return redirect("account:two_factor")

    @staticmethod
    def _self_url(request: HttpRequest) -> str:
        url = resolve_url("account:two_factor")
        target = request.POST.get("next")
        if (
            target
            and target.startswith("/")
            and url_has_allowed_host_and_scheme(
                target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
            )
        ):
            url += "?" + urlencode({"next": target})
        return url


@method_decorator([never_cache, login_required], name="dispatch")
class VerifyView(View):
    """After the password: the code from the user's authenticator app, or a recovery code."""

    template_name = "account/two_factor_verify.html"

    def devices(self, request: HttpRequest) -> list[TOTPDevice]:
        return list(
            TOTPDevice.objects.devices_for_user(request.user, confirmed=True).order_by("pk")
        )

    def page(
        self,
        request: HttpRequest,
        form: VerifyForm,
        devices: list[TOTPDevice],
        recovery: StaticDevice | None,
        status: int = 200,
    ) -> HttpResponse:
        context = {
            "form": form,
            "devices": devices,
            "recovery": recovery is not None,
            "next": _safe_next(request),
        }
        return render(request, self.template_name, context, status=status)

    def nothing_to_verify(self, request: HttpRequest) -> HttpResponseBase:
        if second_factor_needed(request.user) == ENROL:
            query = urlencode({"next": _safe_next(request)})
            return redirect(f"{resolve_url('account:two_factor')}?{query}")
        return redirect(_safe_next(request))

    def get(self, request: HttpRequest) -> HttpResponseBase:
        devices, recovery = self.devices(request), recovery_device(request.user)
        if not (devices or recovery) or is_verified(request.user):
            return self.nothing_to_verify(request)
        return self.page(request, VerifyForm(), devices, recovery)

    def post(self, request: HttpRequest) -> HttpResponseBase:
        devices, recovery = self.devices(request), recovery_device(request.user)
        if not (devices or recovery) or is_verified(request.user):
            return self.nothing_to_verify(request)
        form = VerifyForm(data=request.POST)
        if not form.is_valid():
            return self.page(request, form, devices, recovery, status=400)
        kind, token = form.cleaned_data["otp_token"]
        if kind == "recovery":
            if recovery is None:
                form.add_error("otp_token", "You have no recovery codes left.")
                return self.page(request, form, devices, recovery, status=400)
            check = check_code(request, recovery.pk, token, model=StaticDevice)
        elif not devices:
            form.add_error("otp_token", "Your authenticator was removed: use a recovery code.")
            return self.page(request, form, devices, recovery, status=400)
        else:
            chosen = devices[0]
            if len(devices) > 1:
                wanted = request.POST.get("device")
                chosen = next((d for d in devices if str(d.pk) == wanted), devices[0])
            check = check_code(request, chosen.pk, token)
        if check.device is None:
            form.add_error("otp_token", check.error)
            return self.page(
                request, form, devices, recovery, status=429 if check.throttled else 400
            )
        mark_verified(request, check.device)
        if kind == "recovery":
            left = recovery_codes_left(request.user)
            AuditEvent.objects.create(
                at=timezone.now(),
                action=AuditEvent.Action.TWO_FACTOR,
                reason="recovery code used",
                details={"left": left},
                **actor_fields(request.user),
            )
            messages.warning(
                request,
                f"You signed in with a recovery code; {left} left. If your phone is lost, "
                "remove the authenticator and set up a new one on the two-factor page.",
            )
        log.info("two-factor: user %s verified (%s)", request.user.pk, kind)
        return redirect(_safe_next(request))


# ---------------------------------------------------------------------- API tokens
@method_decorator([never_cache, login_required], name="dispatch")
class ApiTokensView(View):
    """Her own API tokens: list, make (shown once), revoke. From a verified session only."""

    template_name = "account/api_tokens.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not is_staff_user(request.user):
            raise PermissionDenied("API tokens are for staff accounts")
        return super().dispatch(request, *args, **kwargs)

    def page(
        self,
        request: HttpRequest,
        form: ApiTokenForm | None = None,
        new_token: str = "",
        status: int = 200,
    ) -> HttpResponse:
        now = timezone.now()
        user = signed_in(request.user)
        tokens = list(ApiToken.objects.filter(user=user).order_by("-created_at", "-pk"))
        for token in tokens:
            token.active = token.is_active(now)  # type: ignore[attr-defined]
        context = {
            "tokens": tokens,
            "form": form or ApiTokenForm(),
            "verified": is_verified(request.user),
            "new_token": new_token,
            "max_days": settings.API_TOKEN_DAYS,
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.page(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        if not is_verified(request.user):
            messages.error(
                request,
                "API tokens are made from a session verified with two-factor authentication: "
                "set up an authenticator app first.",
            )
            return self.page(request, status=403)
        form = ApiTokenForm(request.POST)
        if not form.is_valid():
            return self.page(request, form, status=400)
        try:
            token, raw = api_token_create(
                user=signed_in(request.user),
                name=form.cleaned_data["name"],
                days=form.cleaned_data["days"],
                read_only=form.cleaned_data["read_only"],
                verified=True,
                now=timezone.now(),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.page(request, form, status=400)
        messages.success(request, f"Token “{token.name}” made. Copy it now: it is shown once.")
        return self.page(request, new_token=raw, status=201)


@method_decorator([never_cache, login_required], name="dispatch")
class ApiTokenRevokeView(View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        if not (is_staff_user(request.user) and is_verified(request.user)):
            raise PermissionDenied("revoke tokens from a session verified with two-factor")
        user = signed_in(request.user)
        mine = ApiToken.objects.all() if user.is_superuser else ApiToken.objects.filter(user=user)
        get_object_or_404(mine, pk=pk)  # another's token is not disclosed: 404
        token = api_token_revoke(token_id=pk, actor=user, now=timezone.now())
        messages.success(request, f"Token “{token.name}” revoked: it no longer works.")
        return redirect("account:api_tokens")


# ------------------------------------------------------------------ password, session
@method_decorator([never_cache, login_required], name="dispatch")
class PasswordChangeView(View):
    """Change her own password: the current one, then a new one the validators accept."""

    template_name = "account/password_change.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, self.template_name, {"form": PasswordChangeForm(request.user)})

    def post(self, request: HttpRequest) -> HttpResponseBase:
        user = signed_in(request.user)
        form = PasswordChangeForm(user, request.POST)
        if not form.is_valid():
            return render(request, self.template_name, {"form": form}, status=400)
        with transaction.atomic():
            form.save()
            AuditEvent.objects.create(
                at=timezone.now(), action=AuditEvent.Action.PASSWORD_CHANGED, **actor_fields(user)
            )
        update_session_auth_hash(request, user)  # this session stays; the others end
        messages.success(request, "Your password was changed.")
        return redirect("home")


@method_decorator(never_cache, name="dispatch")
class SessionView(View):
    """``GET``: seconds left before the idle sign-out (does not count as activity).
    ``POST``: "stay signed in" (counts as activity). For the warning on staff pages."""

    def get(self, request: HttpRequest) -> JsonResponse:
        if not request.user.is_authenticated:
            return JsonResponse({"signed_in": False, "remaining": 0}, status=401)
        return JsonResponse({"signed_in": True, "remaining": idle_seconds_left(request)})

    def post(self, request: HttpRequest) -> JsonResponse:
        if not request.user.is_authenticated:
            return JsonResponse({"signed_in": False, "remaining": 0}, status=401)
        touch(request)
        return JsonResponse({"signed_in": True, "remaining": idle_seconds_left(request)})


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
