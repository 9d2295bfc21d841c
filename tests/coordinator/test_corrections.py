"""Correcting an answer of a completed form: a new audited record with a coded reason.

The defect (issue 17): completed answers could not be corrected; the rule
existed only as an unreached service function. Now her page links to the
form's answers, a coordinator of the site corrects one with a coded reason,
the old value and the old scores are kept (with their scoring version), the
scores are recomputed through ``scoring/``, and the change is in the audit
trail, the item export (CORRECTD) and the ODM audit records.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from scoring.facit import SCORING_VERSION
from surveys.models import AuditEvent, Response, ResponseCorrection, Score, ScoreRevision
from surveys.statistician.exports.cdisc.odm import build_odm
from surveys.statistician.exports.cdisc.source import load
from surveys.statistician.exports.datasets import items_long
from surveys.statistician.exports.filters import ExportFilters
from surveys.tablet.answers import AnswerRejected, response_correct
from tests.clinic import build_clinic
from tests.conftest import as_owner

NOW = dt.datetime(2025, 3, 1, 17, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(hours=2)

#: Every answer 2, hand-worked: PWB 7 reversed items (4 - 2) = 14, SWB 7 x 2 = 14,
#: EWB 6 x 2 = 12, FWB 7 x 2 = 14, BCS 10 x 2 = 20; FACT-G = 54, FACT-B = 74,
#: TOI = PWB + FWB + BCS = 48. GP1 (reversed) corrected from 2 to 0 scores 4: +2 each.
BEFORE = {"pwb": 14, "factg": 54, "factb": 74, "toi": 48}
AFTER = {"pwb": 16, "factg": 56, "factb": 76, "toi": 50}


@pytest.fixture
def clock():
    with time_machine.travel(LATER, tick=False):
        yield LATER


@pytest.fixture
def clinic(trial, site_a):
    return build_clinic(trial, site_a, now=NOW)


@pytest.fixture
def done(clinic):
    return clinic.form("done", "baseline")


def correct(done, coordinator, **changes):
    args = {
        "assessment_id": done.pk,
        "item_code": "GP1",
        "value": 0,
        "reason_code": "transcription_error",
        "reason_text": "read from the wrong row",
        "actor": coordinator,
        "now": LATER,
    }
    args.update(changes)
    return response_correct(**args)


@pytest.mark.django_db
def test_a_correction_keeps_the_old_value_and_scores_and_recomputes(done, coordinator_a):
    score = Score.objects.get(assessment=done)
    assert {k: getattr(score, k) for k in BEFORE} == BEFORE
    correction = correct(done, coordinator_a)
    answer = Response.objects.get(assessment=done, item_code="GP1")
    assert (answer.value, answer.revision) == (0, 2)
    assert (correction.old_value, correction.new_value) == (2, 0)
    assert correction.reason_code == "transcription_error"
    assert correction.reason == "Transcription error: read from the wrong row"
    score.refresh_from_db()
    assert {k: getattr(score, k) for k in AFTER} == AFTER
    (old,) = ScoreRevision.objects.filter(assessment=done)
    assert {k: getattr(old, k) for k in BEFORE} == BEFORE
    assert old.scoring_version == SCORING_VERSION and old.superseded_by == correction
    assert old.superseded_at == LATER and old.computed_at == NOW
    audit = AuditEvent.objects.get(action="response_correction", assessment=done)
    assert audit.actor == coordinator_a and audit.reason == correction.reason
    assert audit.details["item"] == "GP1" and audit.details["reason_code"] == "transcription_error"
    rescored = AuditEvent.objects.filter(action="scored", assessment=done).order_by("-id").first()
    assert rescored is not None and rescored.details["rescored"] is True
    assert rescored.details["before"]["toi"] == 48 and rescored.details["after"]["toi"] == 50


@pytest.mark.django_db
def test_a_second_correction_keeps_both_previous_versions(done, coordinator_a):
    correct(done, coordinator_a)
    correct(done, coordinator_a, value=None, declined=False, reason_code="changed_at_review")
    answer = Response.objects.get(assessment=done, item_code="GP1")
    assert answer.value is None and answer.corrections.count() == 2
    assert ScoreRevision.objects.filter(assessment=done).count() == 2
    score = Score.objects.get(assessment=done)
    assert score.items_answered == 45


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"reason_code": ""}, "choose why"),
        ({"reason_code": "because"}, "choose why"),
        ({"reason_code": "other", "reason_text": "  "}, "describe the reason"),
        ({"value": 2}, "already the answer"),
        ({"value": 5}, "not an answer"),
        ({"value": True}, "not an answer"),
        ({"item_code": "ZZ9"}, "not an item"),
        ({"value": None, "declined": True}, "no 'prefer not to answer'"),
        ({"expected_revision": 7}, "changed by someone else"),
        ({"reason_text": "x" * 600}, "under 500"),
    ],
)
def test_refused_corrections_change_nothing(done, coordinator_a, changes, message):
    with pytest.raises(AnswerRejected) as refused:
        correct(done, coordinator_a, **changes)
    assert message in " ".join(refused.value.messages)
    assert not ResponseCorrection.objects.exists() and not ScoreRevision.objects.exists()
    assert Response.objects.get(assessment=done, item_code="GP1").value == 2


@pytest.mark.django_db
def test_only_a_completed_form_is_corrected(clinic, coordinator_a):
    started = clinic.form("started", "m6")
    with pytest.raises(AnswerRejected, match="completed"):
        correct(started, coordinator_a)


APPEND_ONLY_STATEMENTS = [
    "UPDATE surveys_responsecorrection SET reason = 'x'",
    "DELETE FROM surveys_responsecorrection",
    "UPDATE surveys_scorerevision SET toi = 0",
    "DELETE FROM surveys_scorerevision",
]


def refused(sql: str, match: str) -> None:
    with (
        pytest.raises(DatabaseError, match=match),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)


@pytest.mark.django_db
def test_the_application_role_cannot_change_corrections_or_old_scores(done, coordinator_a):
    if connection.vendor != "postgresql":
        pytest.skip("the database roles are PostgreSQL's")
    correct(done, coordinator_a)
    for sql in APPEND_ONLY_STATEMENTS:  # only SELECT and INSERT are granted (grant_app_role)
        refused(sql, "permission denied")


@pytest.mark.django_db(transaction=True)
def test_even_the_owner_cannot_change_corrections_or_old_scores(done, coordinator_a):
    if connection.vendor != "postgresql":
        pytest.skip("the append-only triggers are PostgreSQL's")
    correct(done, coordinator_a)
    with as_owner():
        for sql in APPEND_ONLY_STATEMENTS:
            refused(sql, "append-only")


@pytest.mark.django_db
def test_the_item_export_flags_the_corrected_answer_and_odm_says_why(done, coordinator_a):
    correct(done, coordinator_a)
    items = items_long(ExportFilters(trial="E2108"))
    mine = items[(items["SUBJID"] == done.participant.study_id) & (items["VISITCD"] == "baseline")]
    gp1 = mine[mine["ITEMCD"] == "GP1"].iloc[0]
    assert (gp1["VALUE"], gp1["CORRECTD"]) == (0, 1)
    assert set(mine.loc[mine["ITEMCD"] != "GP1", "CORRECTD"]) == {0}
    odm = build_odm(load(ExportFilters(trial="E2108")), created=LATER, software="test")
    reasons = [e.text for e in odm.iter("{*}ReasonForChange")]
    assert reasons == ["Transcription error: read from the wrong row"]


# ------------------------------------------------------------------------------ the pages


@pytest.fixture
def logged_in(client, coordinator_a, clock):
    client.force_login(coordinator_a)
    return client


@pytest.mark.django_db
def test_her_page_links_to_corrections_for_completed_forms_only(logged_in, clinic):
    done = clinic.form("done", "baseline")
    html = logged_in.get(reverse("coordinator:participant", args=[done.participant_id])).content
    assert reverse("coordinator:answers", args=[done.pk]).encode() in html
    started = clinic.form("started", "m6")
    page = logged_in.get(reverse("coordinator:participant", args=[started.participant_id]))
    assert b"/answers/" not in page.content
    refused = logged_in.get(reverse("coordinator:answers", args=[started.pk]))
    assert refused.status_code == 302  # back to her page, with a message
    post = logged_in.post(
        reverse("coordinator:correct_answer", args=[started.pk, "GP1"]),
        {"value": "0", "reason_code": "transcription_error", "confirm": "1"},
    )
    assert post.status_code == 409
    assert not ResponseCorrection.objects.exists()


@pytest.mark.django_db
def test_another_sites_form_is_not_found(client, coordinator_b, done):
    client.force_login(coordinator_b)
    with time_machine.travel(LATER, tick=False):
        assert client.get(reverse("coordinator:answers", args=[done.pk])).status_code == 404
        url = reverse("coordinator:correct_answer", args=[done.pk, "GP1"])
        assert client.get(url).status_code == 404
        post = client.post(url, {"value": "0", "reason_code": "other", "reason_text": "x"})
        assert post.status_code == 404
    assert not ResponseCorrection.objects.exists()


@pytest.mark.django_db
def test_correcting_through_the_pages_shows_what_changes_first(logged_in, done):
    url = reverse("coordinator:correct_answer", args=[done.pk, "GP1"])
    form = logged_in.get(url)
    assert form.status_code == 200
    html = form.content.decode()
    assert "checked" not in html  # nothing pre-selected
    review = logged_in.post(
        url, {"value": "0", "reason_code": "other", "reason_text": "she pointed at 0"}
    )
    assert review.status_code == 200
    assert not ResponseCorrection.objects.exists()  # nothing saved yet
    preview = {s["name"]: (s["before"], s["after"]) for s in review.context["scores"]}
    assert preview["TOI"] == (48, 50) and preview["FACTB"] == (74, 76)
    done_ = logged_in.post(
        url,
        {"value": "0", "reason_code": "other", "reason_text": "she pointed at 0", "confirm": "1"},
    )
    assert done_.status_code == 302 and done_.url == reverse("coordinator:answers", args=[done.pk])
    correction = ResponseCorrection.objects.get()
    assert correction.reason == "Other: she pointed at 0"
    answers = logged_in.get(done_.url).content.decode()
    assert "Other: she pointed at 0" in answers and 'id="score-current"' in answers
    trail = logged_in.get(reverse("coordinator:participant", args=[done.participant_id]))
    text = trail.content.decode()
    assert "GP1 (" in text and "2 (Somewhat) → 0 (Not at all)" in text


@pytest.mark.django_db
def test_a_confirmation_made_stale_by_another_correction_is_shown_again(
    logged_in, done, coordinator_a
):
    url = reverse("coordinator:correct_answer", args=[done.pk, "GP1"])
    form = {"value": "0", "reason_code": "transcription_error", "reason_text": ""}
    review = logged_in.post(url, form)
    revision = review.context["revision"]
    correct(done, coordinator_a, value=3)  # someone else, meanwhile
    stale = logged_in.post(url, {**form, "confirm": str(revision)})
    assert stale.status_code == 409
    assert "changed by someone else" in stale.content.decode()
    assert ResponseCorrection.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "form",
    [
        {},
        {"value": "9", "reason_code": "transcription_error"},
        {"value": "0", "reason_code": "nope"},
        {"value": "0", "reason_code": "other", "reason_text": ""},
        {"value": "2", "reason_code": "transcription_error"},
        {"value": "0", "reason_code": "transcription_error", "confirm": "abc"},
        {"value": "declined", "reason_code": "transcription_error"},
    ],
)
def test_bad_input_is_a_400_and_changes_nothing(logged_in, done, form):
    url = reverse("coordinator:correct_answer", args=[done.pk, "GP1"])
    assert logged_in.post(url, form).status_code == 400
    assert not ResponseCorrection.objects.exists()
    assert (
        logged_in.get(reverse("coordinator:correct_answer", args=[done.pk, "NOPE"])).status_code
        == 404
    )
