"""Login throttling (django-axes), session expiry and password rules for staff."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.urls import reverse

from tests.factories import PASSWORD


@pytest.mark.django_db
def test_repeated_wrong_passwords_lock_the_account_even_for_the_right_one(client, coordinator_a):
    url = reverse("login")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = client.post(url, {"username": coordinator_a.username, "password": "wrong"})
        assert response.status_code in (200, 429)
    locked = client.post(url, {"username": coordinator_a.username, "password": PASSWORD})
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_the_right_password_logs_in_before_the_limit(client, coordinator_a):
    response = client.post(
        reverse("login"), {"username": coordinator_a.username, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(coordinator_a.pk)


def test_staff_sessions_expire():
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True
    assert settings.SESSION_COOKIE_AGE <= 8 * 3600
    assert settings.SESSION_COOKIE_HTTPONLY is True


@pytest.mark.django_db
@pytest.mark.parametrize("weak", ["short1", "password123", "1234567890123"])
def test_weak_passwords_are_refused(weak):
    with pytest.raises(ValidationError):
        validate_password(weak)
