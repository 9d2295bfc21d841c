"""The daily email digest: windows opening and closing at each coordinator's sites."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.template.loader import render_to_string

from surveys.accounts.roles import COORDINATOR
from surveys.home.calls import contact_attempts_subquery, needs_call_q
from surveys.models import Assessment

DIGEST_DAYS = 7


def digest_for(user: User, *, now: dt.datetime) -> dict[str, list[Assessment]]:
    """Assessments at *user*'s sites opening or closing within the next week, missed
    without a reason, and open forms that need a call (``surveys.home.calls``)."""
    mine = Assessment.objects.filter(participant__site__coordinators=user).select_related(
        "participant__site", "visit"
    )
    return {
        "opening": list(mine.opening_within(now, DIGEST_DAYS).order_by("opens_at")),
        "closing": list(mine.closing_within(now, DIGEST_DAYS).order_by("closes_at")),
        "missed": list(mine.missing_reason().order_by("closes_at")),
        "needs_call": list(
            mine.filter(needs_call_q(now))
            .annotate(contact_attempts=contact_attempts_subquery())
            .order_by("closes_at")
        ),
    }


def send_coordinator_digests(*, now: dt.datetime) -> dict[str, int]:
    """Email each coordinator with something to act on; return counts."""
    sent = skipped = 0
    coordinators = (
        get_user_model().objects.filter(groups__name=COORDINATOR, is_active=True).exclude(email="")
    )
    for user in coordinators:
        digest = digest_for(user, now=now)
        if not any(digest.values()):
            skipped += 1
            continue
        body = render_to_string(
            "coordinator/digest_email.txt", {"user": user, "now": now, **digest}
        )
        send_mail(
            subject=(
                f"ecogprom: {len(digest['opening'])} opening, "
                f"{len(digest['closing'])} closing, "
                f"{len(digest['missed'])} missed without a reason, "
                f"{len(digest['needs_call'])} to call"
            ),
            message=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[user.email],
        )
        sent += 1
    return {"sent": sent, "skipped": skipped}
