"""Shared helpers of the outreach tests: in-memory forms and contacts, a loopback SMTP server
(aiosmtpd) and a loopback SMS provider (http.server) that record what they receive."""

from __future__ import annotations

import base64
import datetime as dt
import json
import socket
import threading
import urllib.parse
import zoneinfo
from dataclasses import dataclass, field
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message as EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from surveys.models import Assessment, ContactDetails, ReminderPolicy, ReminderRule

CHICAGO = zoneinfo.ZoneInfo("America/Chicago")


def form(window_start: dt.date, window_end: dt.date, tz: dt.tzinfo, status: str) -> Assessment:
    """An unsaved assessment with the window's instants as the trial computes them."""
    return Assessment(
        status=status,
        window_start=window_start,
        window_end=window_end,
        opens_at=dt.datetime.combine(window_start, dt.time(0), tzinfo=tz),
        closes_at=dt.datetime.combine(window_end + dt.timedelta(days=1), dt.time(0), tzinfo=tz),
    )


def contact(**kwargs: Any) -> ContactDetails:
    values: dict[str, Any] = {
        "email": "maria@example.org",
        "mobile": "+15555550123",
        "preferred_channel": "email",
        "language": "en",
        "consent": True,
    }
    values.update(kwargs)
    return ContactDetails(**values)


def policy(send_at: dt.time = dt.time(10, 0), stale_after_hours: int = 24) -> ReminderPolicy:
    return ReminderPolicy(enabled=True, send_at=send_at, stale_after_hours=stale_after_hours)


def rule(kind: str, days: int = 0, **kwargs: Any) -> ReminderRule:
    return ReminderRule(kind=kind, days=days, **kwargs)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Mailbox:
    """What an aiosmtpd server on loopback received."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content))
        return "250 Message accepted for delivery"

    def subjects(self) -> list[str]:
        return [str(make_header(decode_header(m["Subject"]))) for m in self.messages]

    def bodies(self) -> list[str]:
        out = []
        for message in self.messages:
            payload = message.get_payload(decode=True)
            out.append(payload.decode(message.get_content_charset() or "utf-8"))
        return out


class SmtpServer:
    def __init__(self, port: int | None = None) -> None:
        self.mailbox = Mailbox()
        self.port = port or free_port()
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


@dataclass
class SmsRequest:
    path: str
    authorization: str
    form: dict[str, str]

    def credentials(self) -> tuple[str, str]:
        decoded = base64.b64decode(self.authorization.removeprefix("Basic ")).decode()
        user, _, password = decoded.partition(":")
        return user, password


class SmsProvider:
    """A local Twilio-compatible API: records each POST, answers 201 with a sid (or *fail*)."""

    def __init__(self, fail_with: tuple[int, str] | None = None) -> None:
        self.requests: list[SmsRequest] = []
        self.fail_with = fail_with
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                provider.requests.append(
                    SmsRequest(
                        path=self.path,
                        authorization=self.headers.get("Authorization", ""),
                        form=dict(urllib.parse.parse_qsl(body)),
                    )
                )
                if provider.fail_with:
                    status, text = provider.fail_with
                    payload = {"code": 21211, "message": text, "status": status}
                else:
                    status, payload = 201, {"sid": f"SM{len(provider.requests):032d}"}
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> SmsProvider:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
