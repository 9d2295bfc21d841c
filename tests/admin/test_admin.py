"""The Django admin cannot bypass the trial's services or its audit trail.

The defect (issue 12, defect 6): changing a participant's arm, randomization
date or off-study status in the admin wrote no audit event, recomputed no
window, and left an assessment open for a participant recorded as dead. Now
those fields are read-only (the admin links to the audited services), a
participant cannot be added or deleted there, assessments cannot be changed,
study ids are checked against the trial's pattern, and the trial's own start
date and pattern cannot be set so that registered participants break them.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.urls import reverse

from surveys.models import Assessment, AuditEvent, Participant
from tests.factories import randomize

D = dt.date
NOW = dt.datetime(2025, 3, 1, 17, 0, tzinfo=dt.UTC)


@pytest.fixture
def admin_client(client, db):
    user = get_user_model().objects.create_superuser("root", "root@example.org", "x" * 20)
    client.force_login(user)
    return client


@pytest.fixture
def participant(trial, site_a):
    with time_machine.travel(NOW, tick=False):
        return randomize(trial, site_a, randomized_on=D(2025, 2, 20), now=NOW)


def change_url(obj) -> str:
    return reverse(f"admin:surveys_{obj._meta.model_name}_change", args=[obj.pk])


def snapshot(participant: Participant) -> tuple:
    participant.refresh_from_db()
    return (
        participant.arm_id,
        participant.site_id,
        participant.randomized_on,
        participant.off_study_on,
        participant.off_study_reason,
        list(participant.assessments.values_list("status", "window_start", "window_end")),
    )


@pytest.mark.django_db
def test_arm_date_and_off_study_are_read_only_in_the_admin(admin_client, trial, participant):
    before = snapshot(participant)
    events = AuditEvent.objects.count()
    page = admin_client.get(change_url(participant))
    assert page.status_code == 200
    form = page.context["adminform"].form
    assert set(form.fields) == {"study_id", "language"}
    html = page.content.decode()
    assert reverse("coordinator:correct_randomization", args=[participant.pk]) in html
    response = admin_client.post(
        change_url(participant),
        {
            "study_id": participant.study_id,
            "language": "es",
            # what the old admin let through, ignored now:
            "arm": trial.arms.get(code="B").pk,
            "randomized_on": "1990-01-01",
            "off_study_on": "2025-02-25",
            "off_study_reason": "death",
        },
    )
    assert response.status_code == 302
    after = snapshot(participant)
    assert after == before
    assert participant.language == "es"  # the one field that may change here
    assert AuditEvent.objects.count() == events
    baseline = participant.assessments.get(visit__code="baseline")
    assert baseline.status == Assessment.Status.OPEN and participant.on_study


@pytest.mark.django_db
@pytest.mark.parametrize("study_id", ["Jane Doe", "E2108-12", "e2108-0001", "E2108-0001\x00"])
def test_a_study_id_outside_the_pattern_is_refused_in_the_admin(
    admin_client, participant, study_id
):
    response = admin_client.post(
        change_url(participant), {"study_id": study_id, "language": participant.language}
    )
    if "\x00" in study_id:  # refused before any view by the request guard (docs/security.md)
        assert response.status_code == 400
    else:
        assert response.status_code == 200  # the form again, with the error
        errors = response.context["adminform"].form.errors
        assert "study_id" in errors
    participant.refresh_from_db()
    assert participant.study_id == "E2108-0001"


@pytest.mark.django_db
def test_a_taken_study_id_is_refused_in_the_admin(admin_client, trial, site_a, participant):
    with time_machine.travel(NOW, tick=False):
        other = randomize(
            trial, site_a, study_id="E2108-0002", randomized_on=D(2025, 2, 1), now=NOW
        )
    response = admin_client.post(change_url(other), {"study_id": "E2108-0001", "language": "en"})
    assert response.status_code == 200
    assert "study_id" in response.context["adminform"].form.errors or (
        response.context["adminform"].form.non_field_errors()
    )
    other.refresh_from_db()
    assert other.study_id == "E2108-0002"


@pytest.mark.django_db
def test_participants_cannot_be_added_or_deleted_in_the_admin(admin_client, participant):
    assert admin_client.get(reverse("admin:surveys_participant_add")).status_code == 403
    delete = reverse("admin:surveys_participant_delete", args=[participant.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    bulk = admin_client.post(
        reverse("admin:surveys_participant_changelist"),
        {"action": "delete_selected", "_selected_action": [participant.pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302)
    assert Participant.objects.filter(pk=participant.pk).exists()


@pytest.mark.django_db
def test_assessments_cannot_be_changed_in_the_admin(admin_client, participant):
    baseline = participant.assessments.get(visit__code="baseline")
    assert admin_client.get(change_url(baseline)).status_code == 200  # view only
    response = admin_client.post(
        change_url(baseline), {"status": "completed", "window_end": "2030-01-01"}
    )
    assert response.status_code == 403
    listing = admin_client.post(
        reverse("admin:surveys_assessment_changelist"),
        {"action": "delete_selected", "_selected_action": [baseline.pk], "post": "yes"},
    )
    assert listing.status_code in (200, 302)
    baseline.refresh_from_db()
    assert baseline.status == Assessment.Status.OPEN and baseline.window_end == D(2025, 3, 6)
    assert admin_client.get(reverse("admin:surveys_assessment_add")).status_code == 403


def trial_form(trial, **changes) -> dict:
    data = {
        "protocol_id": trial.protocol_id,
        "title": trial.title,
        "start_date": trial.start_date.isoformat(),
        "study_id_pattern": trial.study_id_pattern,
        "instrument_codes": '["FACT-B", "E2108-LR"]',
        "instrument_version": trial.instrument_version,
        "sponsor": trial.sponsor,
        "registry_id": trial.registry_id,
        "participants_sex": trial.participants_sex,
        "study_day_reference": trial.study_day_reference,
        "needs_call_days": trial.needs_call_days,
        # the ODM OID inline (empty)
        "odm_oids-TOTAL_FORMS": 0,
        "odm_oids-INITIAL_FORMS": 0,
        "odm_oids-MIN_NUM_FORMS": 0,
        "odm_oids-MAX_NUM_FORMS": 1000,
        **changes,
    }
    for prefix, model in (("arms", "arm"), ("visits", "visit")):
        rows = list(getattr(trial, prefix).order_by("pk"))
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": len(rows),
                f"{prefix}-INITIAL_FORMS": len(rows),
                f"{prefix}-MIN_NUM_FORMS": 0,
                f"{prefix}-MAX_NUM_FORMS": 1000,
            }
        )
        for i, row in enumerate(rows):
            data[f"{prefix}-{i}-id"] = row.pk
            data[f"{prefix}-{i}-trial"] = trial.pk
            if model == "arm":
                data.update({f"{prefix}-{i}-code": row.code, f"{prefix}-{i}-label": row.label})
            else:
                for name in (
                    "number",
                    "code",
                    "label",
                    "months_after_randomization",
                    "window_before_days",
                    "window_after_days",
                ):
                    data[f"{prefix}-{i}-{name}"] = getattr(row, name)
                if row.is_baseline:
                    data[f"{prefix}-{i}-is_baseline"] = "on"
    return data


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"study_id_pattern": r"^E2108-\d{5}$"}, "study_id_pattern", "do not match it"),
        ({"study_id_pattern": "(unclosed"}, "study_id_pattern", "not a regular expression"),
        ({"study_id_pattern": ".*"}, "study_id_pattern", "empty study id"),
        ({"start_date": "2025-02-21"}, "start_date", "randomized before this date"),
    ],
)
def test_the_trial_start_date_and_pattern_cannot_strand_her(
    admin_client, trial, participant, changes, field, message
):
    response = admin_client.post(change_url(trial), trial_form(trial, **changes))
    assert response.status_code == 200, response.content[:500]
    errors = response.context["adminform"].form.errors
    assert message in " ".join(errors[field])
    trial.refresh_from_db()
    assert (trial.start_date, trial.study_id_pattern) == (D(2011, 2, 1), r"^E2108-\d{4}$")


@pytest.mark.django_db
def test_the_trial_start_date_and_pattern_are_editable(admin_client, trial, participant):
    response = admin_client.post(
        change_url(trial),
        trial_form(trial, start_date="2025-01-01", study_id_pattern=r"^E2108-\d{4,5}$"),
    )
    assert response.status_code == 302
    trial.refresh_from_db()
    assert trial.start_date == D(2025, 1, 1)


@pytest.mark.django_db
def test_the_needs_a_call_days_are_editable(admin_client, trial, participant):
    response = admin_client.post(change_url(trial), trial_form(trial, needs_call_days=3))
    assert response.status_code == 302
    trial.refresh_from_db()
    assert trial.needs_call_days == 3


@pytest.mark.django_db
def test_a_visit_edited_on_the_trial_page_moves_scheduled_windows(admin_client, trial, participant):
    data = trial_form(trial)
    m6 = next(k for k, v in data.items() if k.endswith("-code") and v == "m6")
    data[m6.replace("-code", "-window_before_days")] = 10
    response = admin_client.post(change_url(trial), data)
    assert response.status_code == 302
    assert participant.assessments.get(visit__code="m6").window_start == D(2025, 8, 10)
