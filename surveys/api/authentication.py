"""``Authorization: Token ecp_…`` (or ``Bearer``): personal API tokens, audited on every use."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from surveys.accounts.tokens import TokenRefused, api_token_check, api_token_used
from surveys.security.client import client_ip

KEYWORDS = (b"token", b"bearer")


class ApiTokenAuthentication(BaseAuthentication):
    """The token's owner, with the token as ``request.auth`` (its scope is checked by
    :class:`surveys.api.permissions.TokenScope`). Refusals answer 401 with the reason."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in KEYWORDS:
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("Invalid token header: 'Token <token>'.")
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed("Invalid token.") from None
        now = timezone.now()
        try:
            token = api_token_check(raw=raw, now=now)
        except TokenRefused as exc:
            raise AuthenticationFailed(exc.message) from None
        api_token_used(
            token=token,
            method=request.method or "",
            path=request.get_full_path(),
            ip=client_ip(request._request),
            now=now,
        )
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Token realm="api"'


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes the token (Swagger UI's "Authorize" box)."""

    target_class = "surveys.api.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A personal API token (Account, API tokens): `Token ecp_…`.",
        }
