"""The middleware that enforces the optional TOTP second factor for staff (django-otp).

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
API token logins (DRF ``TokenAuthentication``) are not session logins and are
not covered: a token is a separate, admin-issued credential.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

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
#: Views an authenticated but not yet verified user may always reach.
ALWAYS_ALLOWED_VIEWS = frozenset({"login", "logout", VERIFY_VIEW})


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
