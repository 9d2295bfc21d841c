"""Personal API tokens: made, listed and revoked by their owner; checked on every API call.

* A token is ``ecp_`` + 43 random URL-safe characters (256 bits); only its
  SHA-256 digest is stored (a high-entropy secret needs no slow hash), with
  its first characters for recognising it in a list.
* It expires (at most ``API_TOKEN_DAYS`` days, 90 by default), may be read-only
  (GET, HEAD, OPTIONS), and is revoked by its owner or a trial admin.
* It is made from a session verified with a second factor (the pages refuse
  otherwise); ``created_verified`` records that. An account that must use a
  second factor (:func:`~surveys.accounts.two_factor.requires_second_factor`)
  cannot use a token made without one (e.g. by ``manage.py issue_api_token``).
* Every creation, revocation and use is in the audit trail (who, when, which
  token, which endpoint).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from surveys.accounts.two_factor import requires_second_factor
from surveys.models import ApiToken, AuditEvent, actor_fields

PREFIX = "ecp_"
SHOWN = 12  # characters of the token kept in clear (the "ecp_" prefix and 8 more)
TOKEN_FORMAT = re.compile(r"ecp_[A-Za-z0-9_-]{43}")


class TokenRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("ascii")).hexdigest()


@transaction.atomic
def api_token_create(
    *,
    user: Any,
    name: str,
    days: int,
    read_only: bool,
    verified: bool,
    now: dt.datetime,
) -> tuple[ApiToken, str]:
    """Make a token for *user*; returns it and the secret, which is never shown again."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Say what the token is for."})
    if not 1 <= days <= settings.API_TOKEN_DAYS:
        raise ValidationError({"days": f"Between 1 and {settings.API_TOKEN_DAYS} days."})
    raw = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name[:100],
        prefix=raw[:SHOWN],
        digest=digest(raw),
        read_only=read_only,
        created_verified=verified,
        created_at=now,
        expires_at=now + dt.timedelta(days=days),
    )
    AuditEvent.objects.create(
        at=now,
        action=AuditEvent.Action.API_TOKEN_CREATED,
        details={
            "token": token.pk,
            "prefix": token.prefix,
            "name": token.name,
            "read_only": read_only,
            "expires_at": token.expires_at.isoformat(),
            "verified": verified,
        },
        **actor_fields(user),
    )
    return token, raw


@transaction.atomic
def api_token_revoke(*, token_id: int, actor: Any, now: dt.datetime) -> ApiToken:
    """Revoke a token: its owner's or, for a trial admin, anyone's. Idempotent."""
    token = ApiToken.objects.select_for_update().filter(pk=token_id).first()
    if token is None or not (token.user_id == actor.pk or actor.is_superuser):
        raise PermissionDenied("no such token")
    if token.revoked_at is None:
        token.revoked_at = now
        token.save(update_fields=["revoked_at"])
        AuditEvent.objects.create(
            at=now,
            action=AuditEvent.Action.API_TOKEN_REVOKED,
            details={"token": token.pk, "prefix": token.prefix, "owner": token.user_id},
            **actor_fields(actor),
        )
    return token


def api_token_check(*, raw: str, now: dt.datetime) -> ApiToken:
    """The live token *raw* names, or :class:`TokenRefused` saying why not."""
    if not TOKEN_FORMAT.fullmatch(raw):
        raise TokenRefused("Invalid token.")
    token = ApiToken.objects.select_related("user").filter(digest=digest(raw)).first()
    if token is None:
        raise TokenRefused("Invalid token.")
    if token.revoked_at is not None:
        raise TokenRefused("This token was revoked.")
    if not token.is_active(now):
        raise TokenRefused("This token has expired: make a new one.")
    if not token.user.is_active:
        raise TokenRefused("This account is disabled.")
    if not token.created_verified and requires_second_factor(token.user):
        raise TokenRefused(
            "This account uses two-factor authentication: use a token made from a "
            "verified session (Account, API tokens)."
        )
    return token


def api_token_used(*, token: ApiToken, method: str, path: str, ip: str, now: dt.datetime) -> None:
    """Record a use: ``last_used_at`` on the token and an audit event (who, when, endpoint)."""
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    AuditEvent.objects.create(
        at=now,
        action=AuditEvent.Action.API_TOKEN_USED,
        reason=f"{method} {path}"[:500],
        details={
            "token": token.pk,
            "prefix": token.prefix,
            "method": method,
            "path": path[:300],
            "ip": ip,
        },
        **actor_fields(token.user),
    )
