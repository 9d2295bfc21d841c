"""Kiosk confinement: a tablet handed to a patient reaches her form and nothing else.

When a coordinator starts a hand-off (or she opens her home link with her
access code), the browser session carries the kiosk token and no staff login;
every request outside the tablet's own URLs, her links and static files is
sent back to her one form. A phone session is the exception: it runs on the
coordinator's own signed-in screen, which keeps its other pages (the tablet
views check that she is a coordinator of the participant's site). Tablet
pages are never stored by the browser (``Cache-Control: no-store``), so the
back button after the tablet was taken back shows no one's answers, and a
page reached with the back button is fetched again with the saved answers.
(The offline copies the tablet's service worker keeps are in the Cache API,
scoped to one kiosk session and dropped when it ends: ``docs/tablet.md``.)
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.cache import patch_cache_control

SESSION_KEY = "kiosk_token"
#: The session's mode (tablet, home, phone); a phone session runs on a coordinator's own
#: signed-in screen and is not confined.
MODE_KEY = "kiosk_mode"
TABLET_PREFIX = "/tablet/"
#: Home links (``/r/<token>``): opening another of her links decides for itself.
LINK_PREFIX = "/r/"
ALLOWED_PREFIXES = (
    TABLET_PREFIX,
    LINK_PREFIX,
    "/static/",
    "/healthz",
    "/i18n/",
    "/favicon.ico",
)
UNCACHED_EXEMPT = ("/static/", "/healthz", "/favicon.ico")


class KioskConfinementMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        in_kiosk = bool(request.session.get(SESSION_KEY))
        confined = in_kiosk and request.session.get(MODE_KEY) != "phone"
        if confined and not request.path.startswith(ALLOWED_PREFIXES):
            response: HttpResponse = redirect("tablet:form")
        else:
            response = self.get_response(request)
        if (
            in_kiosk or request.path.startswith((TABLET_PREFIX, LINK_PREFIX))
        ) and not request.path.startswith(UNCACHED_EXEMPT):
            patch_cache_control(response, no_store=True, no_cache=True, must_revalidate=True)
            response.headers.setdefault("X-Robots-Tag", "noindex")
        if not in_kiosk and request.path.startswith(TABLET_PREFIX):
            # No patient on this browser: the tablet's service worker drops any page it kept.
            response.headers.setdefault("X-Kiosk-State", "none")
        return response
