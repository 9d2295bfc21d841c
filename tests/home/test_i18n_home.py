"""Her link's pages speak her language: every text of them has a Spanish version."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone, translation

from surveys.home.links import issue_access_code, issue_link
from tests.tablet.conftest import open_assessment_for

PATIENT_TEMPLATES = [
    Path(settings.BASE_DIR) / "templates" / "home" / name for name in ("link.html", "refused.html")
]


@pytest.mark.parametrize("template", PATIENT_TEMPLATES, ids=lambda p: p.name)
def test_every_text_of_her_link_pages_is_translated(template):
    source = template.read_text(encoding="utf-8")
    messages = re.findall(r"""{%\s*translate\s+(["'])(.+?)\1""", source)
    assert messages
    with translation.override("es"):
        missing = [text for _, text in messages if translation.gettext(text) == text]
        assert translation.ngettext("%(counter)s try left.", "%(counter)s tries left.", 2) == (
            "Le quedan %(counter)s intentos."
        )
    assert missing == []
    bare = re.sub(r"{%\s*blocktranslate.*?%}.*?{%\s*endblocktranslate\s*%}", "", source, flags=re.S)
    bare = re.sub(r"{%.*?%}|{{.*?}}|<[^>]+>", " ", bare, flags=re.S)
    bare = re.sub(r'data-[\w-]+(="[^"]*")?', " ", bare)
    assert re.findall(r"[A-Za-z]{2,}", bare) == []


@pytest.mark.django_db
def test_a_spanish_speaking_participant_reads_her_link_in_spanish(client, trial, site_a):
    form = open_assessment_for(trial, site_a, language="es")
    now = timezone.now()
    issue_access_code(form.participant, actor=None, now=now, code="135790")
    url = issue_link(form, actor=None, now=now)
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert page["Content-Language"] == "es"
    assert "Su cuestionario" in page.content.decode()
    wrong = client.post(url, {"code": "000000"})
    assert "Ese código de acceso no es correcto." in wrong.content.decode()
    assert "Le quedan 4 intentos." in wrong.content.decode()
