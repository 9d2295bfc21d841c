"""Who may see what. Roles are Django groups; trial admins are superusers.

| role         | sees                                   |
|--------------|----------------------------------------|
| coordinator  | participants of her own sites          |
| statistician | every site, read-only, exports, runs   |
| trial admin  | everything, through the Django admin   |
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import AccessMixin
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseBase

from surveys.models import Site

COORDINATOR = "coordinator"
STATISTICIAN = "statistician"


def has_group(user: Any, name: str) -> bool:
    if not user.is_authenticated:
        return False
    cache = getattr(user, "_ecogprom_groups", None)
    if cache is None:
        cache = set(user.groups.values_list("name", flat=True))
        user._ecogprom_groups = cache
    return name in cache


def signed_in(user: object) -> User:
    """The logged-in user behind a request (views that need one are behind a login check)."""
    if not isinstance(user, User) or not user.is_authenticated:
        raise PermissionDenied("log in first")
    return user


def is_coordinator(user: Any) -> bool:
    return has_group(user, COORDINATOR)


def is_statistician(user: Any) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or has_group(user, STATISTICIAN)))


def visible_sites(user: Any) -> QuerySet[Site]:
    """Sites whose participants *user* may see (coordinators: their own)."""
    if not user.is_authenticated:
        return Site.objects.none()
    if user.is_superuser or is_statistician(user):
        return Site.objects.all()
    if is_coordinator(user):
        return Site.objects.filter(coordinators=user)
    return Site.objects.none()


class CoordinatorRequiredMixin(AccessMixin):
    """Logged-in coordinators (and superusers); others get 403."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = request.user
        if not user.is_authenticated:
            return self.handle_no_permission()
        if not (user.is_superuser or is_coordinator(user)):
            raise PermissionDenied("coordinators only")
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]


class StatisticianRequiredMixin(AccessMixin):
    """Logged-in statisticians (and superusers); others get 403."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = request.user
        if not user.is_authenticated:
            return self.handle_no_permission()
        if not is_statistician(user):
            raise PermissionDenied("statisticians only")
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
