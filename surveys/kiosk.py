"""Kiosk confinement: a tablet handed to a patient reaches her form and nothing else.

When a coordinator starts a hand-off, the browser session carries the kiosk
token and the staff login is dropped from that session; every request outside
the tablet's own URLs (and static files) is sent back to the form.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

SESSION_KEY = "kiosk_token"
ALLOWED_PREFIXES = ("/tablet/", "/static/", "/healthz", "/i18n/", "/favicon.ico")


class KioskConfinementMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.session.get(SESSION_KEY) and not request.path.startswith(ALLOWED_PREFIXES):
            return redirect("tablet:form")
        return self.get_response(request)
