"""Home links and access codes: unguessable, stored hashed, refused for every wrong reason."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.contrib.auth.hashers import check_password
from django.utils import timezone

from surveys.home.links import (
    MAX_CODE_FAILURES,
    LinkAlreadySubmitted,
    LinkLocked,
    LinkNotOpen,
    LinkRefused,
    LinkRevoked,
    LinkUnknown,
    LinkWindowClosed,
    check_access_code,
    issue_access_code,
    issue_link,
    resolve_link,
    revoke_links,
)
from surveys.models import Assessment, AuditEvent, HomeAccess, HomeLink
from surveys.tablet.answers import assessment_submit, response_save
from tests.home.conftest import CODE, token_of

pytestmark = pytest.mark.django_db
A = AuditEvent.Action


def test_a_link_is_short_unguessable_and_stored_only_as_a_hash(assessment, coordinator_a):
    now = timezone.now()
    urls = {issue_link(assessment, actor=coordinator_a, now=now) for _ in range(20)}
    assert len(urls) == 20
    for url in urls:
        token = token_of(url)
        assert url.startswith("/r/") and 16 <= len(token) <= 22
        assert token.replace("-", "").replace("_", "").isalnum()
        stored = HomeLink.objects.get(token_hash=hashlib.sha256(token.encode()).hexdigest())
        assert token not in str(HomeLink.objects.filter(pk=stored.pk).values().get())
    events = AuditEvent.objects.filter(action=A.HOME_LINK_ISSUED, assessment=assessment)
    assert events.count() == 20
    assert all(token_of(u) not in str(e.details) for e in events for u in urls)


def test_every_issued_link_stays_valid_until_revoked(assessment, access_code, coordinator_a):
    now = timezone.now()
    first = token_of(issue_link(assessment, actor=coordinator_a, now=now))
    second = token_of(issue_link(assessment, actor=None, now=now))
    assert resolve_link(first, now=now).assessment == assessment
    assert resolve_link(second, now=now).assessment == assessment
    assert revoke_links(assessment, actor=coordinator_a, now=now) == 2
    for token in (first, second):
        with pytest.raises(LinkRevoked):
            resolve_link(token, now=now)
    assert revoke_links(assessment, actor=coordinator_a, now=now) == 0
    assert AuditEvent.objects.filter(action=A.HOME_LINKS_REVOKED).count() == 1
    third = token_of(issue_link(assessment, actor=coordinator_a, now=now))
    assert resolve_link(third, now=now).revoked_at is None


@pytest.mark.parametrize(
    "token",
    ["", "short", "x" * 5000, "abc\x00defghijklmnopq", "../../etc/passwd/aaaaaaa", "é" * 20],
)
def test_malformed_tokens_are_unknown(token, link_url):
    with pytest.raises(LinkUnknown):
        resolve_link(token, now=timezone.now())


def test_a_tampered_token_is_unknown(link_url):
    token = token_of(link_url)
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(LinkUnknown) as refused:
        resolve_link(tampered, now=timezone.now())
    assert refused.value.status == 404


def test_a_link_after_submission_is_refused(assessment, link_url):
    now = timezone.now()
    response_save(assessment_id=assessment.pk, item_code="GP1", value=2, now=now)
    assessment_submit(assessment_id=assessment.pk, now=now)
    with pytest.raises(LinkAlreadySubmitted) as refused:
        resolve_link(token_of(link_url), now=now)
    assert refused.value.status == 410


def test_a_link_after_the_window_closed_is_refused(assessment, link_url):
    later = assessment.closes_at + dt.timedelta(seconds=1)
    with pytest.raises(LinkWindowClosed):
        resolve_link(token_of(link_url), now=later)


def test_a_link_before_the_window_opens_is_refused(assessment, link_url):
    Assessment.objects.filter(pk=assessment.pk).update(
        status=Assessment.Status.SCHEDULED, opens_at=timezone.now() + dt.timedelta(days=3)
    )
    with pytest.raises(LinkNotOpen):
        resolve_link(token_of(link_url), now=timezone.now())


def test_without_an_access_code_a_link_opens_nothing(assessment, coordinator_a):
    url = issue_link(assessment, actor=coordinator_a, now=timezone.now())
    with pytest.raises(LinkLocked):
        resolve_link(token_of(url), now=timezone.now())


def test_the_access_code_is_hashed_and_checked(assessment, link_url):
    access = HomeAccess.objects.get(participant=assessment.participant)
    assert CODE not in access.code_hash and check_password(CODE, access.code_hash)
    link = resolve_link(token_of(link_url), now=timezone.now())
    assert check_access_code(link, CODE, now=timezone.now())
    assert not check_access_code(link, "000000", now=timezone.now())
    assert not check_access_code(link, "abc", now=timezone.now())
    assert HomeAccess.objects.get(pk=access.pk).failed_attempts == 2
    assert check_access_code(link, CODE, now=timezone.now())
    assert HomeAccess.objects.get(pk=access.pk).failed_attempts == 0


def test_too_many_wrong_codes_lock_her_home_access_until_a_new_code(
    assessment, link_url, coordinator_a
):
    now = timezone.now()
    link = resolve_link(token_of(link_url), now=now)
    for _ in range(MAX_CODE_FAILURES - 1):
        assert not check_access_code(link, "999999", now=now)
    with pytest.raises(LinkLocked):
        check_access_code(link, "999999", now=now)
    assert HomeAccess.objects.get(participant=assessment.participant).locked_at == now
    assert AuditEvent.objects.filter(action=A.HOME_LOCKED, assessment=assessment).count() == 1
    assert AuditEvent.objects.filter(action=A.HOME_CODE_FAILED).count() == MAX_CODE_FAILURES
    # Locked: even the right code no longer opens it, and the link itself is refused.
    with pytest.raises(LinkLocked):
        check_access_code(link, CODE, now=now)
    with pytest.raises(LinkLocked):
        resolve_link(token_of(link_url), now=now)
    # Her coordinator issues a new code: unlocked, the old code no longer works.
    new = issue_access_code(assessment.participant, actor=coordinator_a, now=now)
    assert len(new) == 6 and new.isdigit()
    link = resolve_link(token_of(link_url), now=now)
    if new != CODE:
        assert not check_access_code(link, CODE, now=now)
    assert check_access_code(link, new, now=now)
    event = AuditEvent.objects.filter(action=A.HOME_CODE_ISSUED).last()
    assert event is not None and new not in str(event.details) and new not in event.reason


def test_refusals_are_one_family_with_an_http_status():
    for cls in (LinkUnknown, LinkRevoked, LinkNotOpen, LinkWindowClosed, LinkAlreadySubmitted):
        assert issubclass(cls, LinkRefused) and 400 <= cls.status < 500
