"""API permissions by role (surveys/accounts/roles.py): who may read, who may write."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from surveys.accounts.roles import is_coordinator, is_statistician
from surveys.models import ApiToken


class TokenScope(BasePermission):
    """A read-only API token reads (GET, HEAD, OPTIONS) and writes nothing."""

    message = "This API token is read-only."

    def has_permission(self, request: Request, view: Any) -> bool:
        token = request.auth
        if isinstance(token, ApiToken) and token.read_only:
            return request.method in SAFE_METHODS
        return True


class TrialDataPermission(BasePermission):
    """Trial data: coordinators (their sites), statisticians (all sites, read-only), superusers.

    Reads need one of the roles; writes need the coordinator role or a superuser.
    Which rows each one sees is the viewset's queryset (``visible_sites``).
    """

    message = "Coordinators, statisticians (read-only) and trial admins only."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if user.is_superuser:
            return True
        if request.method in SAFE_METHODS:
            return is_coordinator(user) or is_statistician(user)
        return is_coordinator(user)


class StatisticianPermission(BasePermission):
    """Exports and analysis runs: statisticians and superusers."""

    message = "Statisticians only."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and is_statistician(request.user))
