"""Refuse control characters before any view runs; send Permissions-Policy with every page.

:class:`RequestGuardMiddleware` answers 400 when the path, a query parameter
(name or value), a urlencoded form field or a cookie holds a NUL byte, another
control character or an unpaired surrogate: PostgreSQL cannot store a NUL and
nothing a person types contains the others. Form text may hold tabs and line
breaks; single-line places (path, query, cookies, field names) hold none. JSON bodies are
checked by the JSON parsers (:func:`surveys.security.inputs.loads_json`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

from surveys.security.inputs import text_problem

log = logging.getLogger(__name__)

JSON_PREFIXES = ("/api/", "/tablet/answer/")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _problem(request: HttpRequest) -> str | None:
    problem = text_problem(request.path_info, multiline=False)
    if problem:
        return f"the path {problem}"
    for key, values in request.GET.lists():
        for text in (key, *values):
            problem = text_problem(text, multiline=False)
            if problem:
                return f"the query parameter {key[:40]!r} {problem}"
    for name, value in request.COOKIES.items():
        problem = text_problem(name, multiline=False) or text_problem(value, multiline=False)
        if problem:
            return f"a cookie {problem}"
    if request.method == "POST" and request.content_type in FORM_TYPES:
        for key, values in request.POST.lists():
            problem = text_problem(key, multiline=False)
            for text in values:
                problem = problem or text_problem(text)
            if problem:
                return f"the form field {key[:40]!r} {problem}"
    return None


def bad_request(request: HttpRequest, message: str, code: str = "bad_character") -> HttpResponse:
    if request.path_info.startswith(JSON_PREFIXES):
        return JsonResponse({"detail": message, "code": code, "ok": False}, status=400)
    return HttpResponseBadRequest(
        f"Bad request: {message}.", content_type="text/plain; charset=utf-8"
    )


class RequestGuardMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        problem = _problem(request)
        if problem:
            path = request.path_info[:80].encode("unicode_escape")
            log.warning("refused %s %s: %s", request.method, path, problem)
            return bad_request(request, problem)
        return self.get_response(request)


class PermissionsPolicyMiddleware:
    """``Permissions-Policy`` (settings.PERMISSIONS_POLICY): no camera, microphone, location …"""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        policy: dict[str, list[str]] = settings.PERMISSIONS_POLICY
        self.header = ", ".join(
            f"{feature}=({' '.join(origins)})" for feature, origins in sorted(policy.items())
        )

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.header:
            response.headers.setdefault("Permissions-Policy", self.header)
        return response
