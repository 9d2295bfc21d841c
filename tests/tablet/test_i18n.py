"""English and Spanish: the catalogue covers the tablet, labels agree with the instrument data."""

from __future__ import annotations

import gettext
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from scoring.instruments import E2108_FORM, RESPONSE_SCALE
from surveys.tablet import pages

ROOT = Path(settings.BASE_DIR)
PO = ROOT / "locale" / "es" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
TEMPLATES = sorted((ROOT / "templates" / "tablet").glob("*.html"))


def test_the_committed_mo_file_is_the_compiled_po_file(tmp_path):
    """Django reads the .mo: it must hold exactly what the .po says."""
    assert MO.exists(), "compile locale/es (msgfmt -o django.mo django.po)"
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        pytest.skip("msgfmt (Debian package gettext) is not installed")
    fresh = tmp_path / "django.mo"
    subprocess.run([msgfmt, "--check", "-o", str(fresh), str(PO)], check=True)
    with MO.open("rb") as committed, fresh.open("rb") as compiled:
        assert (
            gettext.GNUTranslations(committed)._catalog
            == gettext.GNUTranslations(compiled)._catalog
        )


def test_every_spanish_message_is_translated():
    text = PO.read_text(encoding="utf-8")
    entries = text.split("\n\n")[1:]
    untranslated = [e for e in entries if re.search(r'^msgstr(\[\d\])? ""$', e, re.M)]
    assert not [e for e in entries if "#, fuzzy" in e]
    assert untranslated == []


@pytest.mark.parametrize("instrument", E2108_FORM, ids=lambda i: i.code)
def test_short_labels_in_spanish_are_the_instruments_own(instrument):
    with translation.override("es"):
        for item in instrument.items:
            assert pages.item_label(item) == item.label_es
        for section in instrument.sections:
            assert pages.section_title(section) == section.title_es
    with translation.override("en"):
        assert [pages.item_label(i) for i in instrument.items] == [
            i.label_en for i in instrument.items
        ]


def test_the_catalogue_itself_holds_every_label():
    """The fallback to ``label_es`` must not hide a catalogue that lost its entries."""
    text = PO.read_text(encoding="utf-8")
    for instrument in E2108_FORM:
        for item in instrument.items:
            entry = f'msgid "{item.label_en}"\nmsgstr "{item.label_es}"'
            assert f'msgctxt "instrument short label"\n{entry}' in text
    for option in RESPONSE_SCALE:
        assert (
            f'msgctxt "response scale"\nmsgid "{option.label_en}"\nmsgstr "{option.label_es}"'
            in text
        )


def test_the_scale_labels_follow_the_language():
    with translation.override("es"):
        assert [o.label for o in pages.response_scale()] == [o.label_es for o in RESPONSE_SCALE]
    with translation.override("en"):
        assert [o.label for o in pages.response_scale()] == [o.label_en for o in RESPONSE_SCALE]


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_patient_templates_have_no_untranslated_words(template):
    """Text between tags in the patient's templates goes through {% translate %}."""
    if template.name == "start.html":
        pytest.skip("the hand-off page is for staff (English)")
    if template.name == "_kiosk_attrs.html":
        pytest.skip("attributes for the script, no text")
    source = template.read_text(encoding="utf-8")
    source = re.sub(
        r"{%\s*blocktranslate.*?%}.*?{%\s*endblocktranslate\s*%}", "", source, flags=re.S
    )
    source = re.sub(r"{%.*?%}|{{.*?}}|<svg.*?</svg>|<[^>]+>", " ", source, flags=re.S)
    source = re.sub(r'data-[\w-]+(="[^"]*")?', " ", source)  # attributes in {% block main_attrs %}
    leftovers = re.findall(r"[A-Za-z]{2,}", source)
    assert leftovers == []


def test_the_pinned_spanish_page_uses_the_catalogue(client):
    with translation.override("es"):
        assert translation.gettext("Next") == "Siguiente"
        assert translation.pgettext("response scale", "Very much") == "Muchísimo"


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_every_translate_tag_of_the_patient_pages_has_a_spanish_text(template):
    if template.name == "start.html":
        pytest.skip("the hand-off page is for staff (English)")
    source = template.read_text(encoding="utf-8")
    messages = re.findall(r"""{%\s*translate\s+(["'])(.+?)\1""", source)
    with translation.override("es"):
        missing = [text for _, text in messages if translation.gettext(text) == text]
    assert missing == []
