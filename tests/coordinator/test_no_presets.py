"""No staff form comes with a reason, a date or a choice already picked.

The defect (issue 12, defect 4): the missed reason came pre-set to "Patient
refused" and the off-study form to "Death" with today's date, so a hurried
click recorded a fact nobody had checked. This test walks every staff form
that records something about a participant, parses its HTML and fails on any
pre-selected option, checked radio button or pre-filled date, reason or note.
The only values a form may show are her own record's (the questionnaire
language of the hand-off is the language she registered with), listed below.
"""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser

import pytest
import time_machine
from django.urls import reverse

from surveys.tablet.answers import response_save
from surveys.trial.participants import participant_go_off_study
from surveys.trial.sweep import sweep_assessments
from tests.clinic import complete
from tests.factories import randomize

D = dt.date
NOW = dt.datetime(2025, 3, 1, 17, 0, tzinfo=dt.UTC)
#: (page, field): values a form may show because they are her own record, not a guess.
HER_RECORD = {("tablet:start", "language")}
FREE_TEXT = {"text", "note", "reason", "study_id", "reason_text", "q"}


class FormWalker(HTMLParser):
    """Collects, per POST form, every value a person would submit without touching it."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, list[str]]] = []
        self.in_post_form = False
        self.select: str | None = None
        self.first_option: dict[str, str] = {}
        self.textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.in_post_form = a.get("method", "get").lower() == "post"
            if self.in_post_form:
                self.forms.append({"presets": [], "fields": []})
            return
        if not self.in_post_form:
            return
        form = self.forms[-1]
        name = a.get("name", "")
        if tag == "select":
            self.select = name
            form["fields"].append(name)
        elif tag == "option" and self.select is not None:
            self.first_option.setdefault(self.select, a.get("value", ""))
            if "selected" in a and a.get("value", ""):
                form["presets"].append(f"{self.select}={a['value']}")
        elif tag == "textarea":
            self.textarea = name
            form["fields"].append(name)
        elif tag == "input":
            kind = a.get("type", "text")
            form["fields"].append(name)
            if kind == "radio" and "checked" in a:
                form["presets"].append(f"{name}={a.get('value')}")
            if kind == "date" and a.get("value"):
                form["presets"].append(f"{name}={a['value']}")
            if kind == "text" and name in FREE_TEXT and a.get("value"):
                form["presets"].append(f"{name}={a['value']}")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.in_post_form = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None

    def handle_data(self, data: str) -> None:
        if self.textarea and data.strip():
            self.forms[-1]["presets"].append(f"{self.textarea}={data.strip()}")


def walk(html: str) -> FormWalker:
    walker = FormWalker()
    walker.feed(html)
    return walker


@pytest.fixture
def world(trial, site_a, coordinator_a):
    with time_machine.travel(NOW, tick=False):
        missed = randomize(trial, site_a, randomized_on=D(2024, 12, 1), now=NOW)
        started = randomize(trial, site_a, randomized_on=D(2025, 2, 20), now=NOW)
        baseline = started.assessments.get(visit__code="baseline")
        response_save(assessment_id=baseline.pk, item_code="GP1", value=1, now=NOW)
        gone = randomize(trial, site_a, randomized_on=D(2025, 2, 1), now=NOW)
        participant_go_off_study(
            participant=gone, off_study_on=D(2025, 2, 5), reason="death", actor="t", now=NOW
        )
        sweep_assessments(now=NOW)
        answered = randomize(trial, site_a, randomized_on=D(2025, 2, 25), now=NOW)
        done = answered.assessments.get(visit__code="baseline")
        complete(done, NOW)
    assert missed.assessments.get(visit__code="baseline").needs_missed_reason
    return {
        "missed": missed,
        "started": started,
        "baseline": baseline,
        "gone": gone,
        "done": done,
    }


def pages(world) -> list[tuple[str, str]]:
    """(page name, url) of every staff page with a form that records something."""
    return [
        ("coordinator:randomize", reverse("coordinator:randomize")),
        ("coordinator:participant", reverse("coordinator:participant", args=[world["missed"].pk])),
        ("coordinator:participant", reverse("coordinator:participant", args=[world["started"].pk])),
        (
            "coordinator:correct_randomization",
            reverse("coordinator:correct_randomization", args=[world["started"].pk]),
        ),
        (
            "coordinator:off_study_undo",
            reverse("coordinator:off_study_undo", args=[world["gone"].pk]),
        ),
        (
            "coordinator:submit_as_answered",
            reverse("coordinator:submit_as_answered", args=[world["baseline"].pk]),
        ),
        ("tablet:start", reverse("tablet:start", args=[world["baseline"].pk])),
        ("coordinator:worklist", reverse("coordinator:worklist") + "?view=missed"),
        (
            "coordinator:correct_answer",
            reverse("coordinator:correct_answer", args=[world["done"].pk, "GP1"]),
        ),
        (
            "coordinator:correct_answer",
            reverse("coordinator:correct_answer", args=[world["done"].pk, "GS7"]),
        ),
    ]


@pytest.mark.django_db
def test_no_staff_form_comes_with_a_choice_made(client, coordinator_a, world):
    client.force_login(coordinator_a)
    seen: set[str] = set()
    with time_machine.travel(NOW, tick=False):
        for name, url in pages(world):
            response = client.get(url)
            assert response.status_code == 200, (name, url)
            walker = walk(response.content.decode())
            staff_forms = [f for f in walker.forms if set(f["fields"]) - {"csrfmiddlewaretoken"}]
            assert staff_forms, f"{name}: no form found"
            for form in staff_forms:
                allowed = {p for p in form["presets"] if (name, p.split("=")[0]) in HER_RECORD}
                assert set(form["presets"]) - allowed == set(), (name, form["presets"])
                seen.update(form["fields"])
            for select, first in walker.first_option.items():
                if (name, select) not in HER_RECORD:
                    assert first == "", f"{name}: the first choice of {select} is {first!r}"
    # The forms the issue names were among those walked.
    assert {"reason", "off_study_on", "randomized_on", "assistance", "language"} <= seen
    assert {"value", "reason_code", "reason_text"} <= seen  # an answer's correction


@pytest.mark.django_db
def test_a_form_posted_without_a_choice_is_refused(client, coordinator_a, world):
    client.force_login(coordinator_a)
    with time_machine.travel(NOW, tick=False):
        baseline = world["missed"].assessments.get(visit__code="baseline")
        missed = client.post(reverse("coordinator:missed_reason", args=[baseline.pk]), {})
        assert missed.status_code == 400
        off = client.post(reverse("coordinator:off_study", args=[world["started"].pk]), {})
        assert off.status_code == 400
        assert "This field is required." in off.content.decode()
    baseline.refresh_from_db()
    world["started"].refresh_from_db()
    assert baseline.missed_reason == "" and world["started"].on_study


def test_the_walker_sees_presets():
    """The check can fail: the old forms' HTML is flagged."""
    old = (
        '<form method="post"><select name="reason"><option value="death" selected>Death'
        '</option></select><input type="date" name="off_study_on" value="2025-03-01">'
        '<input type="radio" name="assistance" value="none" checked></form>'
    )
    (form,) = walk(old).forms
    assert form["presets"] == ["reason=death", "off_study_on=2025-03-01", "assistance=none"]
    assert walk(old).first_option == {"reason": "death"}
