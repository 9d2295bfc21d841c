"""Reminders in her language: every patient-facing string of the reminder templates has its
Spanish text in the catalogue, and the rendered messages are Spanish through and through."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from surveys.models import Assessment, Participant, Site
from surveys.outreach.reminders import render_reminder

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "outreach"


def assessment() -> Assessment:
    site = Site(code="X", timezone="America/Chicago")
    participant = Participant(study_id="E2108-0001", site=site)
    return Assessment(
        participant=participant,
        window_end=dt.date(2027, 1, 12),
        closes_at=dt.datetime(2027, 1, 13, 6, tzinfo=dt.UTC),
    )


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_a_spanish_reminder_has_no_english_left(channel):
    subject, body = render_reminder(
        assessment=assessment(), channel=channel, language="es", link="https://x.example/r/T"
    )
    english = ["questionnaire", "open until", "access code", "study team", "Hello", "link"]
    text = subject + body.replace("https://x.example/r/T", "")
    assert [word for word in english if word in text] == []
    assert "12 de enero de 2027" in body and "https://x.example/r/T" in body
    if channel == "email":
        assert subject == "Su cuestionario del estudio está abierto"


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_an_english_reminder(channel):
    subject, body = render_reminder(
        assessment=assessment(), channel=channel, language="en", link="https://x.example/r/T"
    )
    assert "Jan. 12, 2027" in body and "access code" in body
    assert subject == ("Your study questionnaire is open" if channel == "email" else "")


def test_an_sms_fits_in_one_message_with_a_20_character_token():
    link = "https://prom.example.org/r/" + "A" * 20
    for language in ("en", "es"):
        _, body = render_reminder(
            assessment=assessment(), channel="sms", language=language, link=link
        )
        assert len(body.strip()) <= 160, (language, len(body))
