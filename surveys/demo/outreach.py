"""The demo's contact details and reminders: a few recent participants can be reminded.

After ``seed_demo``, the most recently randomized women with an open form (two at each
coordinator's sites) get fake contact details (``@example.org``, ``+1555...`` numbers),
consent, and the demo access code; the trial's reminder policy keeps a reminder for 30
days after it fell due (the product's default is 24 hours), so that the reminder job,
run once by the command and then by beat every 15 minutes, puts reminders in the outbox
(``/coordinator/outbox/``) straight away. Demo only: real contact details are entered by
her coordinator, with her.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.models import User

from surveys.demo.home import DEMO_ACCESS_CODE
from surveys.home.links import issue_access_code
from surveys.models import Assessment, Participant, Trial
from surveys.outreach.contacts import ContactInput, contact_save
from surveys.outreach.policy import policy_for
from surveys.outreach.reminders import send_due_reminders

#: A late reminder is still sent within this many hours of falling due (demo policy).
DEMO_STALE_AFTER_HOURS = 30 * 24
PER_COORDINATOR = 2


def demo_contacts(*, now: dt.datetime) -> list[Participant]:
    """Register the demo contacts (idempotent: women who have some are skipped)."""
    trial = Trial.objects.get(protocol_id="E2108")
    policy = policy_for(trial)
    policy.stale_after_hours = DEMO_STALE_AFTER_HOURS
    policy.save(update_fields=["stale_after_hours"])
    chosen: list[Participant] = []
    for username in ("coord_east", "coord_west"):
        coordinator = User.objects.get(username=username)
        open_forms = (
            Assessment.objects.answerable(now)
            .filter(
                participant__site__coordinators=coordinator,
                participant__off_study_on__isnull=True,
            )
            .select_related("participant")
            .order_by("-participant__randomized_on", "pk")
        )
        mine: list[Participant] = []
        for form in open_forms:
            participant = form.participant
            if participant in mine or hasattr(participant, "contact"):
                continue
            n = participant.pk
            sms = len(mine) % 2 == 1
            contact_save(
                participant=participant,
                data=ContactInput(
                    email=f"{participant.study_id.lower()}@example.org",
                    mobile=f"+1555010{n % 10000:04d}",
                    preferred_channel="sms" if sms else "email",
                    language=participant.language,
                    quiet_start=None,
                    quiet_end=None,
                    consent=True,
                ),
                actor=coordinator,
                now=now,
            )
            issue_access_code(participant, actor=coordinator, now=now, code=DEMO_ACCESS_CODE)
            mine.append(participant)
            if len(mine) == PER_COORDINATOR:
                break
        chosen += mine
    return chosen


def demo_reminders(*, now: dt.datetime) -> dict[str, Any]:
    """Contacts, then one run of the reminder job (beat runs it every 15 minutes after)."""
    chosen = demo_contacts(now=now)
    result = send_due_reminders(now=now)
    return {"contacts": [p.study_id for p in chosen], **result}
