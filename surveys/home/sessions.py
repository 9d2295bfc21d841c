"""Opening her one form away from the clinic tablet: at home (link + code) or by phone.

Both are kiosk sessions (``surveys.tablet.kiosk``) in another mode, so the
same pages, autosave, offline queue, languages and scoring serve all three
modes; the session's mode is written on the assessment when it is submitted
(and, for the phone, the staff member).
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import User

from surveys.home.links import check_access_code
from surveys.models import Assessment, HomeLink, KioskSession
from surveys.tablet.kiosk import kiosk_start

Mode = Assessment.Mode


def home_start(link: HomeLink, *, code: str, now: dt.datetime) -> KioskSession | None:
    """Open a home session for *link* when *code* is her access code; None when it is not.

    The caller resolved the link (:func:`~surveys.home.links.resolve_link`);
    a wrong code counts towards her lock-out (LinkLocked when it locks).
    Any earlier live session of the form ends (she continues where the
    answers left off). Audited as a hand-off in mode "home". Not one
    transaction: a wrong code stays counted whatever happens next.
    """
    if not check_access_code(link, code, now=now):
        return None
    session = kiosk_start(
        assessment_id=link.assessment_id,
        started_by=None,
        pin=code,
        assistance=Assessment.Assistance.NONE,
        now=now,
        mode=Mode.HOME,
        home_link=link,
    )
    HomeLink.objects.filter(pk=link.pk).update(opened_at=now)
    return session


def phone_start(assessment: Assessment, *, staff: User, now: dt.datetime) -> KioskSession:
    """Open a phone session: *staff* reads the items and records her answers (audited)."""
    return kiosk_start(
        assessment_id=assessment.pk,
        started_by=staff,
        pin=None,
        assistance=Assessment.Assistance.STAFF_RECORDED,
        now=now,
        mode=Mode.PHONE,
    )
