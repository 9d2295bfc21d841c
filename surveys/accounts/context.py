"""Template context: the idle sign-out times the staff pages' warning script reads."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def staff_idle(request: HttpRequest) -> dict[str, dict[str, int]]:
    return {
        "staff_idle": {
            "timeout": settings.STAFF_IDLE_TIMEOUT_SECONDS,
            "warning": settings.STAFF_IDLE_WARNING_SECONDS,
        }
    }
