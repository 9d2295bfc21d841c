"""The demo's outbox: email and text messages kept for a coordinator to read in the browser.

``EMAIL_BACKEND = "surveys.outreach.outbox.OutboxEmailBackend"`` (the default with
``DEBUG``) and ``SMS_BACKEND = "outbox"`` deliver here instead of to a mail server or
an SMS provider, so a person can follow a reminder's link end to end with no account
anywhere. Address and text are encrypted like the contact details. Production uses
SMTP and the SMS provider, and keeps no message text at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

from surveys.models import Channel, Message, OutboxMessage

#: The header by which a reminder email names its Message row (the outbox links the two).
MESSAGE_HEADER = "X-Ecogprom-Message"
OUTBOX_EMAIL_BACKEND = "surveys.outreach.outbox.OutboxEmailBackend"


def outbox_in_use() -> bool:
    return settings.EMAIL_BACKEND == OUTBOX_EMAIL_BACKEND or settings.SMS_BACKEND == "outbox"


def store(
    *, channel: str, to: str, subject: str, body: str, message: Message | None
) -> OutboxMessage:
    return OutboxMessage.objects.create(
        channel=channel,
        to=to,
        subject=subject[:300],
        body=body,
        created_at=timezone.now(),
        message=message,
        participant_id=message.participant_id if message else None,
    )


class OutboxEmailBackend(BaseEmailBackend):
    """A Django email backend that writes each message to the outbox table."""

    def send_messages(self, email_messages: Sequence[Any]) -> int:
        sent = 0
        for email in email_messages:
            if not isinstance(email, EmailMessage):
                continue
            message_id = email.extra_headers.get(MESSAGE_HEADER)
            message = Message.objects.filter(pk=message_id).first() if message_id else None
            store(
                channel=Channel.EMAIL,
                to=", ".join(email.recipients()),
                subject=str(email.subject),
                body=str(email.body),
                message=message,
            )
            sent += 1
        return sent
