"""Issue an API token from the command line (for a service account, e.g. a nightly R job).

A token made here was not made from a session verified with a second factor:
it works only for an account that does not have to use one (no authenticator
enrolled and, with ``OTP_REQUIRED_FOR_STAFF``, no staff role). Staff make
their own tokens on ``/accounts/tokens/``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from surveys.accounts.tokens import api_token_create
from surveys.accounts.two_factor import requires_second_factor


class Command(BaseCommand):
    help = "Make an API token for USERNAME and print it once (service accounts)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", required=True, help="what the token is for")
        parser.add_argument("--days", type=int, default=settings.API_TOKEN_DAYS)
        parser.add_argument(
            "--read-write", action="store_true", help="allow writes (default: read-only)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user {options['username']!r}")
        if requires_second_factor(user):
            raise CommandError(
                f"{user} must use two-factor authentication: a token made here would be "
                "refused. Make it from a verified session on /accounts/tokens/ instead."
            )
        token, raw = api_token_create(
            user=user,
            name=options["name"],
            days=options["days"],
            read_only=not options["read_write"],
            verified=False,
            now=timezone.now(),
        )
        self.stderr.write(f"token {token.prefix}… for {user}, expires {token.expires_at:%Y-%m-%d}")
        self.stdout.write(raw)
