"""Content-Security-Policy, Permissions-Policy, self-hosted Swagger UI, JSON-only API.

Before: no CSP and no Permissions-Policy; /api/docs/ loaded Swagger UI from a
CDN at @latest with no integrity check, inside the authenticated origin; the
browsable API was on in production.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("url", ["/accounts/login/", "/healthz", "/api/participants/"])
def test_every_response_carries_the_policies(db, url):
    response = Client().get(url)
    csp = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["worker-src"] == "'self'"  # the tablet's service worker, from /tablet/
    assert directives["img-src"] == "'self' data:"  # the two-factor QR code
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    policy = response["Permissions-Policy"]
    for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()"):
        assert feature in policy


def test_no_template_has_inline_script_style_or_event_handlers():
    """What the policy would block: <script> without src, style attributes and elements, on…=."""
    problems = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        text = path.read_text()
        for pattern in (
            r"<script(?![^>]*\bsrc=)[^>]*>",
            r"\sstyle=",
            r"<style\b",
            r"\son[a-z]+=",
            r"javascript:",
        ):
            for match in re.finditer(pattern, text):
                problems.append(f"{path.relative_to(ROOT)}: {match.group()}")
    assert problems == []


def test_the_api_docs_page_is_off_unless_enabled(stat_user):
    assert signed_in(stat_user).get(reverse("api-docs")).status_code == 404


def test_swagger_ui_is_served_from_this_server_without_inline_script(settings, stat_user):
    settings.API_DOCS_ENABLED = True
    client = signed_in(stat_user)
    page = client.get(reverse("api-docs"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "cdn" not in html.lower() and "@latest" not in html and "unpkg" not in html
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None
    scripts = re.findall(r'<script src="([^"]+)"', html)
    styles = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
    assert any("drf_spectacular_sidecar/swagger-ui-dist" in s for s in scripts + styles)
    assert all(s.startswith("/") for s in scripts + styles)  # this origin only
    init = client.get(next(s for s in scripts if "script" in s and "sidecar" not in s))
    assert init.status_code == 200 and "SwaggerUIBundle" in init.content.decode()


def test_the_browsable_api_is_off_when_debug_is_off(stat_user):
    response = signed_in(stat_user).get(reverse("api:participant-list"), HTTP_ACCEPT="text/html")
    assert response["Content-Type"] == "application/json"
