"""Staff sessions end after 30 idle minutes (with a warning first); staff change passwords.

Before: a staff session lasted 8 hours whatever the activity, and nobody could
change her own password.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from surveys.models import AuditEvent
from tests.accounts.conftest import password_client
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
WORKLIST = reverse("coordinator:worklist")
SESSION = reverse("account:session")
PASSWORD_URL = reverse("account:password_change")


def test_a_staff_session_ends_after_the_idle_timeout(settings, coordinator_a, site_a):
    settings.STAFF_IDLE_TIMEOUT_SECONDS = 1800
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        client = password_client(coordinator_a)
        assert client.get(WORKLIST).status_code == 200
        clock.shift(dt.timedelta(minutes=29))
        assert client.get(WORKLIST).status_code == 200  # activity: the clock starts again
        clock.shift(dt.timedelta(minutes=29))
        assert client.get(WORKLIST).status_code == 200
        clock.shift(dt.timedelta(minutes=31))
        gone = client.get(WORKLIST)
    assert gone.status_code == 302 and gone["Location"].startswith(reverse("login"))
    assert "_auth_user_id" not in client.session
    expired = AuditEvent.objects.get(action="session_expired")
    assert expired.actor == coordinator_a
    page = client.get(gone["Location"]).content.decode()
    assert "signed out after 30 minutes without activity" in page


def test_the_api_answers_401_json_after_the_idle_timeout(coordinator_a, site_a):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        client = password_client(coordinator_a)
        assert client.get(reverse("api:participant-list")).status_code == 200
        clock.shift(dt.timedelta(minutes=31))
        response = client.get(reverse("api:participant-list"))
    assert response.status_code == 401 and response.json()["code"] == "session_expired"


def test_the_warning_asks_without_counting_and_stay_signed_in_counts(settings, coordinator_a):
    settings.STAFF_IDLE_TIMEOUT_SECONDS = 1800
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        client = password_client(coordinator_a)
        client.get(reverse("account:two_factor"))
        clock.shift(dt.timedelta(minutes=28))
        left = client.get(SESSION).json()
        assert left == {"signed_in": True, "remaining": 120}
        clock.shift(dt.timedelta(minutes=1))
        assert client.get(SESSION).json()["remaining"] == 60  # asking is not activity
        stay = client.post(SESSION)
        assert stay.json()["remaining"] == 1800
        clock.shift(dt.timedelta(minutes=20))
        assert client.get(reverse("account:two_factor")).status_code == 200


def test_staff_pages_carry_the_warning_and_its_script(coordinator_a, site_a):
    page = password_client(coordinator_a).get(WORKLIST).content.decode()
    assert 'data-idle-timeout="1800"' in page and 'data-idle-warning="120"' in page
    assert "js/staff.js" in page and "data-idle-dialog" in page


def test_a_staff_member_changes_her_password_with_the_validators(coordinator_a, site_a):
    client = password_client(coordinator_a)
    assert client.get(PASSWORD_URL).status_code == 200
    weak = client.post(
        PASSWORD_URL,
        {"old_password": PASSWORD, "new_password1": "password123", "new_password2": "password123"},
    )
    assert weak.status_code == 400 and "too common" in weak.content.decode()
    wrong_old = client.post(
        PASSWORD_URL,
        {
            "old_password": "nope",
            "new_password1": "a-Long-new-one-2026",
            "new_password2": "a-Long-new-one-2026",
        },
    )
    assert wrong_old.status_code == 400
    done = client.post(
        PASSWORD_URL,
        {
            "old_password": PASSWORD,
            "new_password1": "a-Long-new-one-2026",
            "new_password2": "a-Long-new-one-2026",
        },
    )
    assert done.status_code == 302
    assert client.get(WORKLIST).status_code == 200  # this session stays signed in
    coordinator_a.refresh_from_db()
    assert coordinator_a.check_password("a-Long-new-one-2026")
    assert AuditEvent.objects.filter(action="password_changed", actor=coordinator_a).count() == 1
    fresh = Client()
    assert fresh.login(username="coord_a", password="a-Long-new-one-2026")
