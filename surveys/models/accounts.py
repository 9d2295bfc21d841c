"""Who signs in and how: API tokens, and the record of every login attempt.

Both are written by :mod:`surveys.accounts` (``tokens`` and ``throttle``); the
status rule of a token is written once in Python and once in SQL, side by side.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q


def active_token_q(now: dt.datetime) -> Q:
    """SQL twin of :meth:`ApiToken.is_active`."""
    return Q(revoked_at__isnull=True, expires_at__gt=now)


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def active(self, now: dt.datetime) -> ApiTokenQuerySet:
        return self.filter(active_token_q(now))


class ApiToken(models.Model):
    """A personal API token: only its SHA-256 digest is stored; it expires; it may be revoked.

    ``created_verified`` says the token was made from a session verified with a
    second factor: only such tokens work for an account that must use one.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. 'R scripts'.")
    prefix = models.CharField(max_length=16, help_text="The token's first characters (shown).")
    digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the token.")
    read_only = models.BooleanField(default=True, help_text="GET, HEAD and OPTIONS only.")
    created_verified = models.BooleanField(
        default=False, help_text="Created from a session verified with a second factor."
    )
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.prefix}… {self.name} ({self.user_id})"

    def is_active(self, now: dt.datetime) -> bool:
        """Not revoked and not expired (SQL twin: :func:`active_token_q`)."""
        return self.revoked_at is None and self.expires_at > now


class LoginAttempt(models.Model):
    """One password login attempt, kept (the throttle counts them; nothing deletes them)."""

    at = models.DateTimeField()
    username = models.CharField(max_length=150, help_text="As typed (cut to 150 characters).")
    client_ip = models.GenericIPAddressField()
    succeeded = models.BooleanField()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["username", "client_ip", "at"], name="login_attempt_pair"),
            models.Index(fields=["client_ip", "at"], name="login_attempt_address"),
        ]

    def __str__(self) -> str:
        outcome = "ok" if self.succeeded else "failed"
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username} {self.client_ip} {outcome}"
