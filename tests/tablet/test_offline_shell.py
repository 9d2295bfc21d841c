"""What the server does for the tablet's offline shell: the service worker, the offline page,
the headers that scope the worker's copies to one kiosk session, pages fetched ahead."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from surveys.models import AnswerTap, KioskSession
from tests.tablet.conftest import hand_over, tablet_client

pytestmark = pytest.mark.django_db
ROOT = Path(settings.BASE_DIR)


def test_the_service_worker_is_served_at_the_root_of_the_tablet_pages(client):
    response = client.get("/tablet/sw.js")
    assert reverse("tablet:service_worker") == "/tablet/sw.js"
    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert response["Service-Worker-Allowed"] == "/tablet/"
    assert "no-store" in response["Cache-Control"]  # the browser always checks for a new one
    source = response.content.decode()
    assert re.match(r'self\.ECOGPROM_TABLET_VERSION = "[0-9a-f]{16}";\n', source)
    assert source.endswith((ROOT / "static/js/tablet-sw.js").read_text())


def test_the_workers_version_follows_the_tablets_assets(client, monkeypatch):
    from surveys.tablet import views

    first = client.get("/tablet/sw.js").content.splitlines()[0]
    real = views.finders.find

    def changed(name: str, *args, **kwargs):
        found = real(name, *args, **kwargs)
        if name == "css/tablet.css":
            changed_css = ROOT / "var" / "test-tablet.css"
            changed_css.parent.mkdir(exist_ok=True)
            changed_css.write_bytes(Path(found).read_bytes() + b"\n/* changed */\n")
            return str(changed_css)
        return found

    monkeypatch.setattr(views.finders, "find", changed)
    assert client.get("/tablet/sw.js").content.splitlines()[0] != first


def test_the_offline_page_needs_no_session_and_shows_no_answer(client):
    response = client.get("/tablet/offline/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "This page needs the network" in html
    assert "data-kiosk " not in html and "data-ping-url" in html
    assert response["X-Kiosk-State"] == "none"
    assert response["X-Kiosk-Offline"] == "cache"


def test_the_offline_page_of_a_session_is_in_her_language(trial, site_a, coordinator_a):
    from tests.tablet.conftest import open_assessment_for

    assessment = open_assessment_for(trial, site_a, language="es")
    kiosk = hand_over(assessment, coordinator_a)
    tablet = tablet_client(kiosk)
    response = tablet.get("/tablet/offline/", HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert '<html lang="es" ' in html and "Esta página necesita la red" in html
    assert f'data-kiosk-session="{kiosk.pk}"' in html
    assert (response["X-Kiosk-Session"], response["X-Kiosk-State"]) == (str(kiosk.pk), "live")


def test_pages_say_which_session_they_belong_to_and_which_may_be_kept(tablet, kiosk):
    for path in ("/tablet/intro/", "/tablet/page/PWB/", "/tablet/page/LR/"):
        response = tablet.get(path)
        assert response["X-Kiosk-Session"] == str(kiosk.pk), path
        assert response["X-Kiosk-State"] == "live", path
        assert response["X-Kiosk-Offline"] == "cache", path
        assert "no-store" in response["Cache-Control"], path  # the HTTP cache keeps nothing
    review = tablet.get("/tablet/review/")
    assert review["X-Kiosk-State"] == "live" and "X-Kiosk-Offline" not in review
    exit_page = tablet.get("/tablet/exit/")
    assert "X-Kiosk-Offline" not in exit_page


def test_a_browser_without_a_patient_tells_the_worker_to_drop_its_copies(client):
    response = client.get("/tablet/page/PWB/")
    assert response.status_code == 403
    assert response["X-Kiosk-State"] == "none"


def test_ended_and_submitted_sessions_tell_the_worker_too(assessment, coordinator_a, kiosk):
    tablet = tablet_client(kiosk)
    tablet.post("/tablet/page/PWB/", {"GP1": "2"})
    hand_over(assessment, coordinator_a)
    assert tablet.get("/tablet/page/PWB/")["X-Kiosk-State"] == "ended"
    live = KioskSession.objects.get(ended_at__isnull=True)
    second = tablet_client(live)
    second.post("/tablet/submit/")
    assert second.get("/tablet/done/")["X-Kiosk-State"] == "submitted"


def test_a_page_fetched_ahead_is_not_counted_as_a_visit(tablet, kiosk, assessment):
    tablet.get("/tablet/page/PWB/")
    ahead = tablet.get("/tablet/page/FWB/", HTTP_X_KIOSK_PREFETCH="1")
    assert ahead.status_code == 200 and ahead["X-Kiosk-Offline"] == "cache"
    assert tablet.session["kiosk_page"]["code"] == "PWB"  # she is still on PWB
    assert tablet.get("/tablet/")["Location"] == "/tablet/page/PWB/"
    tablet.get("/tablet/page/SWB/")
    assessment.refresh_from_db()
    assert "FWB" not in assessment.page_seconds


def test_section_pages_carry_what_the_script_needs_offline(tablet, assessment):
    tablet.post(
        "/tablet/answer/",
        data=json.dumps({"assessment": assessment.pk, "item": "GS2", "value": 3, "key": "k"}),
        content_type="application/json",
    )
    html = tablet.get("/tablet/page/SWB/").content.decode()
    assert 'data-next-url="/tablet/page/EWB/"' in html
    assert 'data-back-url="/tablet/page/PWB/"' in html
    assert 'data-answered-items="GS2"' in html
    stored = AnswerTap.objects.get().tapped_at
    assert f'data-tapped-at="{int(stored.timestamp() * 1000)}"' in html
    assert 'name="GS2_shown" value="3"' in html and 'name="GS1_shown" value=""' in html
    urls = re.search(r'data-offline-urls="([^"]*)"', html).group(1).split()
    assert urls == [
        "/tablet/intro/",
        *(f"/tablet/page/{c}/" for c in ("PWB", "SWB", "EWB", "FWB", "BCS", "LR")),
        "/tablet/offline/",
    ]
    last = tablet.get("/tablet/page/LR/").content.decode()
    assert "data-next-needs-network" in last and 'data-next-url="/tablet/review/"' in last


TABLET_TEMPLATES = sorted((ROOT / "templates" / "tablet").glob("*.html"))


@pytest.mark.parametrize("template", TABLET_TEMPLATES, ids=lambda p: p.name)
def test_no_inline_script_or_event_handler(template):
    """The content security policy forbids them: everything comes from static/js/."""
    source = template.read_text(encoding="utf-8")
    scripts = re.findall(r"<script\b[^>]*>", source, re.I)
    assert all(re.search(r"\bsrc=", tag) for tag in scripts), scripts
    assert not re.findall(r"<script\b[^>]*>\s*[^<\s]", source, re.I)
    assert not re.findall(r"\son[a-z]+\s*=", source, re.I)
    assert "javascript:" not in source.lower()


def test_the_rendered_pages_have_no_inline_script(tablet):
    for path in ("/tablet/intro/", "/tablet/page/PWB/", "/tablet/review/", "/tablet/exit/"):
        html = tablet.get(path).content.decode()
        assert not re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert not re.findall(r"\son[a-z]+\s*=", html, re.I), path


def test_the_script_and_the_worker_are_static_files():
    from django.contrib.staticfiles import finders

    assert finders.find("js/tablet.js") and finders.find("js/tablet-sw.js")
