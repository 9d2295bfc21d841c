"""The login throttle: slow down password guessing without letting anyone lock staff out.

Keyed on the *combination* of username and client address (read through the
trusted proxy, :func:`surveys.security.client.client_ip`), so wrong passwords
typed somewhere else never delay a coordinator at her own desk or tablet:

* per username and address: the first ``LOGIN_FREE_FAILURES`` wrong passwords
  cost nothing; after that each attempt must wait ``LOGIN_DELAY_SECONDS`` × 1, 2,
  4 … (at most ``LOGIN_DELAY_MAX_SECONDS``) after the previous failure. A
  success clears the count; failures older than ``LOGIN_FAILURE_MEMORY_SECONDS``
  are forgotten;
* per address: ``LOGIN_ADDRESS_FAILURE_LIMIT`` failures (whatever the
  usernames) within ``LOGIN_ADDRESS_WINDOW_SECONDS`` stop that address until the
  oldest of them leave the window (password spraying).

An attempt refused by the throttle is not checked and not counted, so waiting
out the delay is always enough. Every attempt is kept as a
:class:`~surveys.models.LoginAttempt` (nothing deletes them) and every failure
and refusal is also in the audit trail.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Max
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from surveys.models import LoginAttempt

MAX_USERNAME = 150  # the length of auth.User.username: longer cannot be anybody


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    wait_seconds: int = 0
    scope: str = ""  # "account" (this username from this address) or "address"

    def message(self) -> str:
        """How long to wait, in the active language (the tablet's exit page may be in Spanish)."""
        wait = self.wait_seconds
        if wait < 120:
            when = ngettext("%(n)d second", "%(n)d seconds", wait) % {"n": wait}
        else:
            minutes = math.ceil(wait / 60)
            when = ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes}
        if self.scope == "address":
            return _("Too many failed logins from your network: try again in %(when)s.") % {
                "when": when
            }
        return _("Too many wrong passwords for this account here: try again in %(when)s.") % {
            "when": when
        }


def clean_username(username: object) -> str:
    return str(username or "")[:MAX_USERNAME]


def delay_after(failures: int) -> int:
    """Seconds to wait after the last of *failures* consecutive wrong passwords."""
    extra = failures - settings.LOGIN_FREE_FAILURES
    if extra < 0:
        return 0
    return int(
        min(settings.LOGIN_DELAY_SECONDS * 2 ** min(extra, 30), settings.LOGIN_DELAY_MAX_SECONDS)
    )


def login_verdict(*, username: str, ip: str, now: dt.datetime) -> Verdict:
    """May this username try a password from this address now?"""
    if not settings.LOGIN_THROTTLE_ENABLED:
        return Verdict(True)
    window = dt.timedelta(seconds=settings.LOGIN_ADDRESS_WINDOW_SECONDS)
    from_address = LoginAttempt.objects.filter(client_ip=ip, succeeded=False, at__gt=now - window)
    limit = settings.LOGIN_ADDRESS_FAILURE_LIMIT
    recent = list(from_address.order_by("-at").values_list("at", flat=True)[:limit])
    if len(recent) >= limit:
        # Allowed again once the oldest of the last `limit` failures leaves the window.
        wait = (recent[-1] + window - now).total_seconds()
        return Verdict(False, max(1, math.ceil(wait)), "address")

    username = clean_username(username)
    pair = LoginAttempt.objects.filter(username=username, client_ip=ip)
    since = now - dt.timedelta(seconds=settings.LOGIN_FAILURE_MEMORY_SECONDS)
    last_success = pair.filter(succeeded=True).aggregate(at=Max("at"))["at"]
    if last_success is not None and last_success > since:
        since = last_success
    failures = pair.filter(succeeded=False, at__gt=since)
    count = failures.count()
    delay = delay_after(count)
    if delay:
        last = failures.aggregate(at=Max("at"))["at"]
        wait = (last + dt.timedelta(seconds=delay) - now).total_seconds()
        if wait > 0:
            return Verdict(False, max(1, math.ceil(wait)), "account")
    return Verdict(True)


def login_attempt_record(*, username: str, ip: str, succeeded: bool, now: dt.datetime) -> None:
    LoginAttempt.objects.create(
        at=now, username=clean_username(username), client_ip=ip, succeeded=succeeded
    )
