"""Delivery through real interfaces: Django's email backend, and an SMS provider over HTTP.

Email goes through ``EMAIL_BACKEND`` (SMTP in production, configured by the
``EMAIL_*`` variables; the outbox in the demo). SMS goes to a Twilio-compatible
HTTP API (``POST {SMS_API_BASE_URL}/2010-04-01/Accounts/{sid}/Messages.json``, basic
auth, form-encoded ``To``/``From``/``Body``) or to the outbox (``SMS_BACKEND``).
Each call returns a :class:`Delivery`; a failure is a result, never an exception,
so one bad address cannot stop the others.
"""

from __future__ import annotations

import base64
import contextlib
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.utils import make_msgid
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage

from surveys.models import Channel, Message
from surveys.outreach.outbox import MESSAGE_HEADER, store


@dataclass(frozen=True)
class Delivery:
    ok: bool
    provider_id: str = ""
    error: str = ""


def send_email(
    *, to: str, subject: str, body: str, message: Message | None, connection: Any = None
) -> Delivery:
    message_id = make_msgid(domain=settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "ecogprom")
    headers = {"Message-ID": message_id}
    if message is not None:
        headers[MESSAGE_HEADER] = str(message.pk)
    email = EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers=headers,
        connection=connection,
    )
    try:
        sent = email.send(fail_silently=False)
    except Exception as exc:  # SMTP refusals, connection errors: recorded, not raised
        return Delivery(False, error=f"{type(exc).__name__}: {exc}"[:500])
    if not sent:
        return Delivery(False, error="the email backend sent nothing")
    return Delivery(True, provider_id=message_id[:100])


def twilio_send(*, to: str, body: str) -> Delivery:
    """POST one message to the Twilio-compatible API; the provider's ``sid`` comes back."""
    sid, token = settings.SMS_ACCOUNT_SID, settings.SMS_AUTH_TOKEN
    if not (sid and token and settings.SMS_FROM_NUMBER):
        return Delivery(
            False, error="SMS is not configured (SMS_ACCOUNT_SID, SMS_AUTH_TOKEN, SMS_FROM_NUMBER)"
        )
    url = (
        f"{settings.SMS_API_BASE_URL}/2010-04-01/Accounts/"
        f"{urllib.parse.quote(sid, safe='')}/Messages.json"
    )
    data = urllib.parse.urlencode({"To": to, "From": settings.SMS_FROM_NUMBER, "Body": body})
    credentials = base64.b64encode(f"{sid}:{token}".encode()).decode()
    request = urllib.request.Request(
        url,
        data=data.encode(),
        method="POST",
        headers={
            "Authorization": f"Basic {credentials}",
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.SMS_TIMEOUT_SECONDS) as response:
            payload = json.loads(response.read().decode() or "{}")
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:300]
        with contextlib.suppress(ValueError, AttributeError):
            detail = str(json.loads(detail).get("message") or detail)
        return Delivery(False, error=f"HTTP {exc.code}: {detail}"[:500])
    except (OSError, ValueError) as exc:  # refused, timed out, not JSON
        return Delivery(False, error=f"{type(exc).__name__}: {exc}"[:500])
    provider_id = str(payload.get("sid") or "") if isinstance(payload, dict) else ""
    return Delivery(True, provider_id=provider_id)


def send_sms(*, to: str, body: str, message: Message | None) -> Delivery:
    if settings.SMS_BACKEND == "outbox":
        kept = store(channel=Channel.SMS, to=to, subject="", body=body, message=message)
        return Delivery(True, provider_id=f"outbox-{kept.pk}")
    return twilio_send(to=to, body=body)
