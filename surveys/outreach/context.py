"""Template context: whether the demo's outbox exists (the coordinator's menu links it)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from surveys.outreach.outbox import outbox_in_use


def outbox(request: HttpRequest) -> dict[str, Any]:
    return {"outbox_in_use": outbox_in_use()}
