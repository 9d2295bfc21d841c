"""Contact details: encrypted at rest (the raw column is read), seen only by coordinators of
her site, every view and change audited, erased at once when she withdraws consent and after
the grace period off study; no key, nothing stored."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.fernet import Fernet
from django.db import connection
from django.test import Client
from django.urls import reverse

from surveys.models import AuditEvent, ContactDetails
from surveys.models.crypto import ContactKeyMissing
from surveys.outreach.contacts import ContactInput, contact_save, erase_contacts_after_off_study
from surveys.trial.participants import participant_go_off_study, participant_undo_off_study
from tests.factories import SiteFactory, coordinator_of, statistician
from tests.outreach.conftest import ENROLLED_AT

pytestmark = pytest.mark.django_db
A = AuditEvent.Action


def raw_row(participant) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT email, mobile FROM surveys_contactdetails WHERE participant_id = %s",
            [participant.pk],
        )
        return cursor.fetchone()


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def form_data(**changes) -> dict[str, str]:
    data = {
        "email": "maria@example.org",
        "mobile": "+1 555 555 0199",
        "preferred_channel": "sms",
        "language": "es",
        "quiet_start": "21:00",
        "quiet_end": "08:00",
        "consent": "on",
    }
    data.update(changes)
    return data


def test_the_database_holds_no_plain_text(maria):
    email, mobile = raw_row(maria)
    assert "maria" not in email and "example.org" not in email
    assert "5555550123" not in mobile
    assert email.startswith("gAAAA") and mobile.startswith("gAAAA")  # Fernet tokens
    contact = ContactDetails.objects.get(participant=maria)
    assert (contact.email, contact.mobile) == ("maria@example.org", "+15555550123")


def test_a_rotated_key_still_reads_old_values_and_writes_with_the_new_one(maria, settings):
    old_email, _ = raw_row(maria)
    new_key = Fernet.generate_key().decode()
    settings.CONTACT_ENCRYPTION_KEYS = [new_key, *settings.CONTACT_ENCRYPTION_KEYS]
    contact = ContactDetails.objects.get(participant=maria)
    assert contact.email == "maria@example.org"  # the old key still decrypts
    contact.save()
    Fernet(new_key.encode()).decrypt(raw_row(maria)[0].encode())  # the new key encrypted it
    assert raw_row(maria)[0] != old_email


def test_without_a_key_nothing_is_stored_and_the_page_says_why(
    trial, chicago, coordinator_chi, settings
):
    from tests.outreach.conftest import enroll

    settings.CONTACT_ENCRYPTION_KEYS = []
    settings.DEBUG = False
    rosa = enroll(trial, chicago, study_id="E2108-0301")
    with pytest.raises(ContactKeyMissing, match="CONTACT_ENCRYPTION_KEYS"):
        contact_save(
            participant=rosa,
            data=ContactInput("rosa@example.org", "", "email", "en", None, None, True),
            actor=coordinator_chi,
            now=ENROLLED_AT,
        )
    response = client_for(coordinator_chi).post(
        reverse("outreach:contact", args=[rosa.pk]), form_data()
    )
    assert response.status_code == 503
    assert "set CONTACT_ENCRYPTION_KEYS" in response.content.decode()
    assert not ContactDetails.objects.exists()


def test_only_coordinators_of_her_site_see_them(maria, coordinator_chi, site_a, trial):
    url = reverse("outreach:contact", args=[maria.pk])
    other_site = coordinator_of(site_a, username="coord_elsewhere")
    admin = coordinator_of(username="admin_user", is_superuser=True, is_staff=True)
    assert client_for(other_site).get(url).status_code == 404  # her id is not disclosed
    assert client_for(statistician(username="stat2")).get(url).status_code == 403
    assert client_for(admin).get(url).status_code == 403
    assert Client().get(url).status_code == 302  # to the login page
    assert client_for(coordinator_chi).get(url).status_code == 200
    # her page itself shows no address, only that there is one
    page = client_for(coordinator_chi).get(reverse("coordinator:participant", args=[maria.pk]))
    assert "email" in page.content.decode() and "maria@example.org" not in page.content.decode()


def test_every_view_and_change_is_audited_without_the_values(maria, coordinator_chi):
    client = client_for(coordinator_chi)
    url = reverse("outreach:contact", args=[maria.pk])
    page = client.get(url)
    assert "maria@example.org" in page.content.decode()
    view = AuditEvent.objects.filter(action=A.CONTACT_VIEW).get()
    assert view.participant_id == maria.pk and view.actor_id == coordinator_chi.pk
    response = client.post(url, form_data())
    assert response.status_code == 302
    change = AuditEvent.objects.filter(action=A.CONTACT_CHANGE).latest("id")
    assert change.details["fields"] == [
        "mobile",
        "preferred_channel",
        "language",
        "quiet_start",
        "quiet_end",
    ]
    everything = " ".join(str(e.details) + e.reason for e in AuditEvent.objects.all())
    assert "example.org" not in everything and "555" not in everything
    contact = ContactDetails.objects.get(participant=maria)
    assert (contact.mobile, contact.language, contact.quiet_end) == (
        "+15555550199",
        "es",
        dt.time(8, 0),
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"mobile": "5555550199"}, "mobile"),  # no country code
        ({"mobile": "+0555555"}, "mobile"),
        ({"email": "not-an-address"}, "email"),
        ({"consent": ""}, "consent"),
        ({"email": "", "mobile": ""}, "email"),
        ({"quiet_end": ""}, "quiet_end"),
    ],
)
def test_bad_input_is_refused_and_nothing_changes(maria, coordinator_chi, changes, field):
    before = raw_row(maria)
    response = client_for(coordinator_chi).post(
        reverse("outreach:contact", args=[maria.pk]), form_data(**changes)
    )
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert raw_row(maria) == before


def test_withdrawing_consent_erases_at_once(maria, coordinator_chi):
    client = client_for(coordinator_chi)
    response = client.post(reverse("outreach:withdraw_consent", args=[maria.pk]))
    assert response.status_code == 302
    contact = ContactDetails.objects.get(participant=maria)
    assert raw_row(maria) == ("", "")
    assert contact.erased_at is not None and not contact.consent
    assert AuditEvent.objects.filter(action=A.CONTACT_ERASED, participant=maria).exists()


def test_erased_some_days_after_she_goes_off_study(maria, coordinator_chi, settings):
    settings.CONTACT_ERASE_AFTER_DAYS = 30
    off_at = ENROLLED_AT + dt.timedelta(days=2)
    participant_go_off_study(
        participant=maria,
        off_study_on=off_at.date(),
        reason="lost_to_follow_up",
        actor=coordinator_chi,
        now=off_at,
    )
    first = erase_contacts_after_off_study(now=off_at + dt.timedelta(hours=1))
    assert first["noticed_off_study"] == 1 and first["erased"] == []
    day_29 = off_at + dt.timedelta(days=29)
    assert erase_contacts_after_off_study(now=day_29)["erased"] == []
    assert raw_row(maria)[0] != ""
    day_30 = off_at + dt.timedelta(days=30, hours=2)
    assert erase_contacts_after_off_study(now=day_30)["erased"] == [maria.pk]
    assert raw_row(maria) == ("", "")
    event = AuditEvent.objects.get(action=A.CONTACT_ERASED)
    assert event.actor_label == "system:contact-erasure" and "30 days" in event.reason


def test_an_undone_off_study_record_stops_the_erasure_clock(maria, coordinator_chi, settings):
    settings.CONTACT_ERASE_AFTER_DAYS = 30
    off_at = ENROLLED_AT + dt.timedelta(days=1)
    participant_go_off_study(
        participant=maria,
        off_study_on=off_at.date(),
        reason="lost_to_follow_up",
        actor=coordinator_chi,
        now=off_at,
    )
    erase_contacts_after_off_study(now=off_at)
    participant_undo_off_study(
        participant=maria,
        reason="recorded in error",
        actor=coordinator_chi,
        now=off_at + dt.timedelta(days=1),
    )
    assert erase_contacts_after_off_study(now=off_at + dt.timedelta(days=2))["back_on_study"] == 1
    assert erase_contacts_after_off_study(now=off_at + dt.timedelta(days=40))["erased"] == []
    assert ContactDetails.objects.get(participant=maria).email == "maria@example.org"


def test_no_contact_details_for_someone_off_study(maria, coordinator_chi):
    participant_go_off_study(
        participant=maria,
        off_study_on=ENROLLED_AT.date(),
        reason="death",
        actor=coordinator_chi,
        now=ENROLLED_AT,
    )
    response = client_for(coordinator_chi).post(
        reverse("outreach:contact", args=[maria.pk]), form_data()
    )
    assert response.status_code == 400
    assert "off study" in response.content.decode()


def test_another_site_in_the_same_trial_is_not_reachable(maria, trial):
    elsewhere = SiteFactory(code="ELS", name="Elsewhere")
    coord = coordinator_of(elsewhere, username="coord_els")
    response = client_for(coord).post(reverse("outreach:withdraw_consent", args=[maria.pk]))
    assert response.status_code == 404
    assert ContactDetails.objects.get(participant=maria).erased_at is None


def test_rotate_contact_keys_re_encrypts_with_the_new_key_so_the_old_one_can_go(maria, settings):
    from django.core.management import call_command

    old = list(settings.CONTACT_ENCRYPTION_KEYS)
    new_key = Fernet.generate_key().decode()
    settings.CONTACT_ENCRYPTION_KEYS = [new_key, *old]
    call_command("rotate_contact_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115
    settings.CONTACT_ENCRYPTION_KEYS = [new_key]  # the old key is gone
    assert ContactDetails.objects.get(participant=maria).email == "maria@example.org"
    settings.CONTACT_ENCRYPTION_KEYS = old  # and the old one alone no longer reads it
    with pytest.raises(ContactKeyMissing, match="cannot be decrypted"):
        ContactDetails.objects.get(participant=maria)
