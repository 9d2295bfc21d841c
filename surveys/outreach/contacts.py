"""Contact details: stored encrypted with her consent, audited when viewed or changed, erased.

Only coordinators of her site see them (``may_see``); they are erased at once when
she withdraws her consent to be contacted, and ``CONTACT_ERASE_AFTER_DAYS`` after
the erasure job first sees her off study (the grace period leaves room to undo an
off-study record made in error). Erasing blanks the encrypted columns; the row
keeps when and why, so her page can say so.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from surveys.accounts.roles import is_coordinator
from surveys.models import (
    Actor,
    AuditEvent,
    Channel,
    ContactDetails,
    Participant,
    actor_fields,
)

#: E.164: a plus, a country code that does not start with 0, at most 15 digits in all.
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
ERASE_ACTOR = "system:contact-erasure"
#: The fields a change is audited by (names only: the audit trail never holds an address).
FIELDS = (
    "email",
    "mobile",
    "preferred_channel",
    "language",
    "quiet_start",
    "quiet_end",
    "consent",
)


def validate_mobile(value: str) -> None:
    if value and not E164.match(value):
        raise ValidationError(
            "Enter the mobile number in international (E.164) form: a plus, the country "
            "code and the number, digits only, e.g. +15555550123."
        )


def may_see(user: Any, participant: Participant) -> bool:
    """Only coordinators of her site (not statisticians, not trial admins as such)."""
    return bool(
        user.is_authenticated
        and is_coordinator(user)
        and participant.site.coordinators.filter(pk=user.pk).exists()
    )


@dataclass(frozen=True)
class ContactInput:
    email: str
    mobile: str
    preferred_channel: str
    language: str
    quiet_start: dt.time | None
    quiet_end: dt.time | None
    consent: bool


def contact_problems(participant: Participant, data: ContactInput) -> dict[str, str]:
    """Why *data* cannot be stored for *participant* (empty when it can)."""
    problems: dict[str, str] = {}
    if not participant.on_study:
        problems["__all__"] = "She is off study: no contact details are kept for her."
    if not data.consent:
        problems["consent"] = (
            "Contact details are stored only with her consent to be contacted; to remove "
            "them, use 'She withdrew her consent'."
        )
    if not (data.email or data.mobile):
        problems["email"] = "Give an email address, a mobile number, or both."
    if data.preferred_channel == Channel.EMAIL and not data.email and data.mobile:
        problems["preferred_channel"] = "Email is preferred but no address is given."
    if data.preferred_channel == Channel.SMS and not data.mobile and data.email:
        problems["preferred_channel"] = "Text message is preferred but no number is given."
    if (data.quiet_start is None) != (data.quiet_end is None):
        problems["quiet_end"] = "Give both ends of the quiet hours, or neither."
    try:
        validate_mobile(data.mobile)
    except ValidationError as exc:
        problems["mobile"] = " ".join(exc.messages)
    return problems


def contact_view(
    *, participant: Participant, actor: Actor, now: dt.datetime
) -> ContactDetails | None:
    """Her contact details for a coordinator's screen; the view is audited."""
    contact = ContactDetails.objects.filter(participant=participant).first()
    AuditEvent.objects.create(
        at=now,
        action=AuditEvent.Action.CONTACT_VIEW,
        participant=participant,
        details={"fields": [f for f in ("email", "mobile") if contact and getattr(contact, f)]},
        **actor_fields(actor),
    )
    return contact


@transaction.atomic
def contact_save(
    *, participant: Participant, data: ContactInput, actor: User, now: dt.datetime
) -> ContactDetails:
    """Store (or change) her contact details; audited with the names of the changed fields.

    Raises :class:`ValidationError` on bad input and
    :class:`~surveys.models.crypto.ContactKeyMissing` when no encryption key is
    configured (nothing is stored either way).
    """
    participant = Participant.objects.select_for_update().get(pk=participant.pk)
    if problems := contact_problems(participant, data):
        raise ValidationError(problems)
    contact = ContactDetails.objects.filter(participant=participant).first()
    new = contact is None or contact.erased_at is not None
    if contact is None:
        contact = ContactDetails(participant=participant)
    changed = [f for f in FIELDS if new or getattr(contact, f) != getattr(data, f)]
    for field in FIELDS:
        setattr(contact, field, getattr(data, field))
    if new or contact.consent_at is None:
        contact.consent_at, contact.consent_by = now, actor
    contact.consent_withdrawn_at = None
    contact.erased_at, contact.erased_reason = None, ""
    contact.updated_at, contact.updated_by = now, actor
    contact.save()
    AuditEvent.objects.create(
        at=now,
        action=AuditEvent.Action.CONTACT_CHANGE,
        participant=participant,
        reason="registered with her consent" if new else "changed",
        details={"fields": changed},
        **actor_fields(actor),
    )
    return contact


def _erase(contact: ContactDetails, *, reason: str, actor: Actor, now: dt.datetime) -> None:
    contact.email = contact.mobile = ""
    contact.quiet_start = contact.quiet_end = None
    contact.consent = False
    contact.erased_at, contact.erased_reason = now, reason
    contact.updated_at = now
    contact.save()
    # The demo outbox keeps the text of what was sent: it goes too.
    contact.participant.outbox_messages.all().delete()
    AuditEvent.objects.create(
        at=now,
        action=AuditEvent.Action.CONTACT_ERASED,
        participant_id=contact.participant_id,
        reason=reason,
        details={"fields": ["email", "mobile", "quiet_start", "quiet_end"]},
        **actor_fields(actor),
    )


@transaction.atomic
def contact_withdraw_consent(*, participant: Participant, actor: User, now: dt.datetime) -> bool:
    """She withdrew her consent to be contacted: her details are erased at once."""
    contact = (
        ContactDetails.objects.select_for_update()
        .filter(participant=participant, erased_at__isnull=True)
        .first()
    )
    if contact is None:
        return False
    contact.consent_withdrawn_at = now
    _erase(contact, reason="consent to be contacted withdrawn", actor=actor, now=now)
    return True


def erase_contacts_after_off_study(*, now: dt.datetime, days: int | None = None) -> dict[str, Any]:
    """The periodic erasure: stamp who is newly off study, erase those past the grace period.

    The grace period runs from when this job first saw her off study (an
    off-study date entered late does not shorten it); back on study (an undo)
    clears the stamp. Safe to run concurrently: rows are claimed ``SKIP LOCKED``.
    """
    days = settings.CONTACT_ERASE_AFTER_DAYS if days is None else days
    live = ContactDetails.objects.filter(erased_at__isnull=True)
    with transaction.atomic():
        noticed = live.filter(
            participant__off_study_on__isnull=False, off_study_noticed_at__isnull=True
        ).update(off_study_noticed_at=now)
        back = live.filter(
            participant__off_study_on__isnull=True, off_study_noticed_at__isnull=False
        ).update(off_study_noticed_at=None)
    erased: list[int] = []
    with transaction.atomic():
        due = (
            live.filter(
                participant__off_study_on__isnull=False,
                off_study_noticed_at__lte=now - dt.timedelta(days=days),
            )
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("participant")
        )
        for contact in due:
            _erase(
                contact,
                reason=f"off study for {days} days (CONTACT_ERASE_AFTER_DAYS)",
                actor=ERASE_ACTOR,
                now=now,
            )
            erased.append(contact.participant_id)
    return {"noticed_off_study": noticed, "back_on_study": back, "erased": erased}
