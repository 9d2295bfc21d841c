"""Staff sessions: the idle sign-out, and the TOTP second factor (django-otp).

:class:`StaffIdleTimeoutMiddleware` signs a staff member out after
``STAFF_IDLE_TIMEOUT_SECONDS`` without a request (a warning with "stay signed
in" shows ``STAFF_IDLE_WARNING_SECONDS`` before, ``static/js/staff.js``); the
absolute limit stays ``SESSION_COOKIE_AGE``. Kiosk sessions (no staff login)
are the tablet's own business (``KIOSK_IDLE_SECONDS``).

:class:`StaffOTPMiddleware`:

* Staff (coordinators, statisticians, Django staff and superusers) may enrol an
  authenticator app on ``/accounts/two-factor/``.
* Once a user has a confirmed device, a password login is not enough: every
  page (the Django admin and the API's session logins included) sends her to
  ``/accounts/two-factor/verify/`` until this session has been verified with a
  code. API requests get a JSON 403 instead of a redirect.
* With ``OTP_REQUIRED_FOR_STAFF`` on, staff without a device are sent to the
  enrolment page instead.
* Never in the way: the patient's kiosk pages under ``/tablet/`` (but the
  coordinator's hand-off page ``/tablet/start/…`` is a staff page),
  ``/healthz``, ``/static/``, ``/i18n/``, log in and log out.

Must come after ``AuthenticationMiddleware`` and django-otp's ``OTPMiddleware``.
API token logins are not session logins: the token authentication itself
refuses, for an account that must use a second factor, a token that was not
made from a verified session (:mod:`surveys.accounts.tokens`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse

from surveys.accounts.two_factor import ENROL, VERIFY, second_factor_needed

VERIFY_VIEW = "account:two_factor_verify"
ENROL_VIEW = "account:two_factor"

EXEMPT_PREFIXES = ("/static/", "/healthz", "/i18n/", "/favicon.ico")
TABLET_PREFIX = "/tablet/"
STAFF_TABLET_PREFIX = "/tablet/start/"
API_PREFIX = "/api/"
SESSION_VIEW = "account:session"
#: Views an authenticated but not yet verified user may always reach.
ALWAYS_ALLOWED_VIEWS = frozenset({"login", "logout", VERIFY_VIEW, SESSION_VIEW})
#: When the session last saw the staff member (epoch seconds).
LAST_SEEN = "staff_last_seen"
#: Stored at most this often (saves a session write on every request).
TOUCH_EVERY = 30
#: Set on the request when the idle timeout signed the user out (the logout is audited so).
IDLE_SIGN_OUT = "idle_sign_out"


def _exempt_path(path: str) -> bool:
    if path.startswith(EXEMPT_PREFIXES):
        return True
    return path.startswith(TABLET_PREFIX) and not path.startswith(STAFF_TABLET_PREFIX)


def _view_name(path: str) -> str | None:
    try:
        return resolve(path).view_name
    except Resolver404:
        return None


class StaffOTPMiddleware:
    """Send users who owe a second factor to the verify (or enrolment) page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if _exempt_path(path):
            return self.get_response(request)
        need = second_factor_needed(request.user)
        if need is None:
            return self.get_response(request)
        view = _view_name(path)
        if view in ALWAYS_ALLOWED_VIEWS or (need == ENROL and view == ENROL_VIEW):
            return self.get_response(request)
        if path.startswith(API_PREFIX):
            detail = (
                "Two-factor verification required: enter your authentication code first."
                if need == VERIFY
                else "Two-factor authentication is required: enrol an authenticator app first."
            )
            return JsonResponse({"detail": detail, "code": f"otp_{need}_required"}, status=403)
        target = reverse(VERIFY_VIEW if need == VERIFY else ENROL_VIEW)
        return redirect(f"{target}?{urlencode({'next': request.get_full_path()})}")


def touch(request: HttpRequest) -> None:
    """Count this request as activity."""
    request.session[LAST_SEEN] = int(time.time())


def idle_seconds_left(request: HttpRequest) -> int:
    last = request.session.get(LAST_SEEN)
    if last is None:
        return settings.STAFF_IDLE_TIMEOUT_SECONDS
    return max(0, math.ceil(last + settings.STAFF_IDLE_TIMEOUT_SECONDS - time.time()))


class StaffIdleTimeoutMiddleware:
    """Sign a signed-in user out after ``STAFF_IDLE_TIMEOUT_SECONDS`` without a request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.user.is_authenticated or request.path_info.startswith(EXEMPT_PREFIXES):
            return self.get_response(request)
        now = int(time.time())
        last = request.session.get(LAST_SEEN)
        if isinstance(last, int) and now - last > settings.STAFF_IDLE_TIMEOUT_SECONDS:
            setattr(request, IDLE_SIGN_OUT, True)
            logout(request)
            minutes = settings.STAFF_IDLE_TIMEOUT_SECONDS // 60
            text = f"You were signed out after {minutes} minutes without activity."
            if request.path_info.startswith(API_PREFIX):
                return JsonResponse({"detail": text, "code": "session_expired"}, status=401)
            messages.info(request, text)
            login = reverse("login")
            if request.method == "GET" and _view_name(request.path_info) != SESSION_VIEW:
                login += "?" + urlencode({"next": request.get_full_path()})
            return redirect(login)
        passive = request.method == "GET" and _view_name(request.path_info) == SESSION_VIEW
        if not passive and (not isinstance(last, int) or now - last >= TOUCH_EVERY):
            request.session[LAST_SEEN] = now
        return self.get_response(request)
