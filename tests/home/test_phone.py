"""Phone mode: only a coordinator of her site opens it; mode and staff member are recorded,
audited, and carried into every export (read back from the written files)."""

from __future__ import annotations

import json

import pandas as pd
import pyreadstat
import pytest
from django.test import Client
from django.urls import reverse

from surveys.models import Assessment, AuditEvent, KioskSession
from surveys.statistician.exports import build_dataset, codebook, write_dataset
from surveys.statistician.exports.cdisc.sdtm import suppqs
from surveys.statistician.exports.cdisc.source import load
from surveys.statistician.exports.filters import ExportFilters
from surveys.tablet.middleware import MODE_KEY, SESSION_KEY
from tests.factories import UserFactory, statistician

pytestmark = pytest.mark.django_db


def phone_url(assessment: Assessment) -> str:
    return reverse("athome:phone", args=[assessment.pk])


def complete_by_phone(client: Client, assessment: Assessment, *, start: bool = True) -> None:
    if start:
        assert client.post(phone_url(assessment)).status_code == 302
    answer = client.post(
        reverse("tablet:answer"),
        json.dumps({"assessment": assessment.pk, "item": "GP1", "value": 2, "key": "p1"}),
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.content
    assert client.post(reverse("tablet:submit")).status_code == 302
    assert client.get(reverse("tablet:done")).status_code == 200


def test_only_a_coordinator_of_her_site_may_complete_by_phone(client, assessment, coordinator_b):
    assert client.post(phone_url(assessment)).status_code == 302  # to the login page
    client.force_login(coordinator_b)  # another site's: not even told it exists
    assert client.post(phone_url(assessment)).status_code == 404
    client.force_login(statistician())
    assert client.post(phone_url(assessment)).status_code == 403
    client.force_login(UserFactory())
    assert client.post(phone_url(assessment)).status_code == 403
    assert not KioskSession.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.KIOSK_START).exists()


def test_phone_mode_records_the_mode_and_the_staff_member(client, assessment, coordinator_a):
    client.force_login(coordinator_a)
    assert client.post(phone_url(assessment)).status_code == 302
    session = KioskSession.objects.get()
    assert session.mode == "phone" and session.started_by == coordinator_a
    assert client.session[MODE_KEY] == "phone"
    # The coordinator's screen is not confined: her own pages still open.
    assert client.get(reverse("coordinator:worklist")).status_code == 200
    page = client.get(reverse("tablet:intro"))
    assert page.status_code == 200 and 'data-mode="phone"' in page.content.decode()
    complete_by_phone(client, assessment, start=False)
    assessment.refresh_from_db()
    assert assessment.status == Assessment.Status.COMPLETED
    assert assessment.mode == Assessment.Mode.PHONE
    assert assessment.phone_staff == coordinator_a
    assert assessment.assistance == Assessment.Assistance.STAFF_RECORDED
    assert SESSION_KEY not in client.session  # her screen is hers again
    start = AuditEvent.objects.get(action=AuditEvent.Action.KIOSK_START)
    assert start.actor == coordinator_a and start.details["mode"] == "phone"
    done = AuditEvent.objects.get(action=AuditEvent.Action.STATUS_CHANGE, to_status="completed")
    assert done.actor == coordinator_a and done.reason == "submitted by phone"
    page = client.get(reverse("coordinator:participant", args=[assessment.participant_id]))
    assert 'data-mode="phone"' in page.content.decode()


def test_a_phone_session_is_refused_to_anyone_else_with_its_token(
    client, assessment, coordinator_a, coordinator_b
):
    client.force_login(coordinator_a)
    client.post(phone_url(assessment))
    token = client.session[SESSION_KEY]
    other = Client()
    other.force_login(coordinator_b)
    store = other.session
    store[SESSION_KEY], store[MODE_KEY] = token, "phone"
    store.save()
    assert other.get(reverse("tablet:intro")).status_code == 403
    answer = other.post(
        reverse("tablet:answer"),
        json.dumps({"assessment": assessment.pk, "item": "GP1", "value": 2}),
        content_type="application/json",
    )
    assert answer.status_code == 403
    assert not assessment.responses.exists()


def test_stopping_a_phone_session_keeps_the_answers_and_frees_the_screen(
    client, assessment, coordinator_a
):
    client.force_login(coordinator_a)
    client.post(phone_url(assessment))
    client.post(
        reverse("tablet:answer"),
        json.dumps({"assessment": assessment.pk, "item": "GP1", "value": 2, "key": "s1"}),
        content_type="application/json",
    )
    stopped = client.post(reverse("tablet:exit"), {"method": "phone"})
    assert stopped.status_code == 302
    assert stopped["Location"] == reverse(
        "coordinator:participant", args=[assessment.participant_id]
    )
    assert not KioskSession.objects.get().is_live
    assert SESSION_KEY not in client.session
    assessment.refresh_from_db()
    assert assessment.status == Assessment.Status.IN_PROGRESS and assessment.mode == "phone"


def test_exports_carry_the_mode_and_the_staff_member(client, assessment, coordinator_a, tmp_path):
    coordinator_a.username = "nurse.ruiz"
    coordinator_a.save()
    client.force_login(coordinator_a)
    complete_by_phone(client, assessment)
    for kind in ("scored", "items_wide"):
        frame = build_dataset(kind)
        row = frame.loc[frame["SUBJID"] == assessment.participant.study_id].iloc[0]
        assert row["MODE"] == "phone" and row["MODESTAF"] == "nurse.ruiz"
        book = codebook(kind, frame)
        assert "MODESTAF" in set(book["variable"])
        for fmt in ("csv", "parquet", "xpt"):
            path = tmp_path / f"{kind}.{fmt}"
            write_dataset(frame, fmt, path, kind=kind)
            if fmt == "csv":
                back = pd.read_csv(path, dtype=str, keep_default_na=False)
            elif fmt == "parquet":
                back = pd.read_parquet(path)
            else:
                back, _ = pyreadstat.read_xport(str(path))
            mine = back.loc[back["SUBJID"] == assessment.participant.study_id].iloc[0]
            assert (mine["MODE"], mine["MODESTAF"]) == ("phone", "nurse.ruiz"), (kind, fmt)
    supp = suppqs(load(ExportFilters()))
    qualifiers = dict(zip(supp["QNAM"], supp["QVAL"], strict=True))
    assert qualifiers["QSMODE"] == "PHONE" and qualifiers["QSMODSTF"] == "nurse.ruiz"
    assert qualifiers["QSASSIST"] == "STAFF RECORDED"
