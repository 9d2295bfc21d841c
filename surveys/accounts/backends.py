"""Django's model backend behind the login throttle (:mod:`surveys.accounts.throttle`)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils import timezone

from surveys.accounts.throttle import login_verdict
from surveys.security.client import client_ip

#: Set on the request when the throttle refused the attempt (the login views answer 429).
THROTTLED = "login_throttled"


class ThrottledModelBackend(ModelBackend):
    """Refuses (without checking the password) while this username and address must wait.

    Raising ``PermissionDenied`` stops Django's ``authenticate()``, which then
    sends ``user_login_failed``; the verdict is left on the request for the
    view's message and for the signal handler (a refusal is audited, not counted).
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if request is not None and username is not None:
            verdict = login_verdict(username=username, ip=client_ip(request), now=timezone.now())
            if not verdict.allowed:
                setattr(request, THROTTLED, verdict)
                raise PermissionDenied(verdict.message())
        return super().authenticate(request, username=username, password=password, **kwargs)
