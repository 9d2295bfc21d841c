"""Logins, failed logins and logouts: counted for the throttle and written to the audit trail.

Connected in :meth:`surveys.apps.SurveysConfig.ready`. Failed logins are kept
(nothing deletes a :class:`~surveys.models.LoginAttempt` or an audit event), so
a later successful login no longer erases the trace of the attempts before it.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone

from surveys.accounts.backends import THROTTLED
from surveys.accounts.middleware import IDLE_SIGN_OUT, touch
from surveys.accounts.throttle import clean_username, login_attempt_record
from surveys.models import AuditEvent, actor_fields
from surveys.security.client import client_ip


@receiver(user_logged_in, dispatch_uid="surveys.accounts.logged_in")
def _logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    now, ip = timezone.now(), client_ip(request)
    if request is not None and hasattr(request, "session"):
        touch(request)  # the idle clock starts now, not at an earlier session's last request
    login_attempt_record(username=user.get_username(), ip=ip, succeeded=True, now=now)
    AuditEvent.objects.create(
        at=now, action=AuditEvent.Action.LOGIN, details={"ip": ip}, **actor_fields(user)
    )


@receiver(user_login_failed, dispatch_uid="surveys.accounts.login_failed")
def _login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    now, ip = timezone.now(), client_ip(request)
    username = clean_username(credentials.get("username"))
    verdict = getattr(request, THROTTLED, None)
    if verdict is None:
        login_attempt_record(username=username, ip=ip, succeeded=False, now=now)
        action, details = AuditEvent.Action.LOGIN_FAILED, {"username": username, "ip": ip}
    else:
        action = AuditEvent.Action.LOGIN_REFUSED
        details = {"username": username, "ip": ip, "scope": verdict.scope}
        details["wait_seconds"] = verdict.wait_seconds
    AuditEvent.objects.create(at=now, action=action, details=details, **actor_fields("anonymous"))


@receiver(user_logged_out, dispatch_uid="surveys.accounts.logged_out")
def _logged_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if user is None:
        return
    idle = bool(getattr(request, IDLE_SIGN_OUT, False))
    AuditEvent.objects.create(
        at=timezone.now(),
        action=AuditEvent.Action.SESSION_EXPIRED if idle else AuditEvent.Action.LOGOUT,
        details={"ip": client_ip(request)},
        **actor_fields(user),
    )
