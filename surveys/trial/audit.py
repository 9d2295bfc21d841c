"""The audit trail in words: what each event means, for people and for the CSV.

Events store codes (``in_progress``, ``missed_appointment``, ``read_aloud``)
and details as JSON; every page and file that shows the trail (her page, the
site's audit log, its CSV export) describes an event with :func:`describe`,
so a coordinator reads "In progress → Not expected" and "Items read aloud",
never a code. Pure: reads only the event (and the visit label its page
selected with it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import models

from scoring.instruments import ITEMS, RESPONSE_SCALE
from surveys.models import (
    Assessment,
    AuditEvent,
    CallAttempt,
    KioskSession,
    Participant,
    ResponseCorrection,
)

A = AuditEvent.Action

_ANSWER_LABELS = {option.value: option.label_en for option in RESPONSE_SCALE}
_LANGUAGES = dict(Participant.Language.choices)
#: Reasons the system writes for a status change, as a coordinator reads them.
_SYSTEM_REASONS = {
    "window opened": "The window opened",
    "window closed": "The window closed",
    "first answer saved": "Her first answer was saved",
    "submitted": "Submitted on the tablet",
    "submitted at home": "Submitted at home (secure link)",
    "submitted by phone": "Submitted by phone (answers recorded by staff)",
}


def label_of(choices: type[models.TextChoices], code: str, empty: str = "") -> str:
    """The label of *code* in *choices*; the code itself when unknown (old data), *empty* if ''."""
    if not code:
        return empty
    try:
        return str(choices(code).label)
    except ValueError:
        return code.replace("_", " ").capitalize()


def status_label(code: str) -> str:
    return label_of(Assessment.Status, code)


def answer_label(value: Any, declined: Any = False) -> str:
    """An answer as a coordinator reads it: "3 (Quite a bit)", "Prefer not to answer"."""
    if declined:
        return "Prefer not to answer"
    if value is None or value == "":
        return "No answer"
    try:
        number = int(value)
    except (TypeError, ValueError):
        return str(value)
    label = _ANSWER_LABELS.get(number)
    return f"{number} ({label})" if label else str(number)


def item_label(code: str) -> str:
    item = ITEMS.get(code)
    return f"{code} ({item.label_en})" if item else code


@dataclass(frozen=True)
class EventText:
    """One audit event in words."""

    #: the action, e.g. "Status change", "Answer corrected"
    what: str
    #: what changed, e.g. "In progress → Not expected", "GP1 (…): 3 (Quite a bit) → 1 (…)"
    change: str
    #: why, or what else the event records, in words
    detail: str


def _join(*parts: str) -> str:
    return "; ".join(part for part in parts if part)


def _status_change(event: AuditEvent, details: Mapping[str, Any]) -> tuple[str, str]:
    change = f"{status_label(event.from_status)} → {status_label(event.to_status)}"
    reason = _SYSTEM_REASONS.get(event.reason, event.reason)
    notes = []
    if details.get("submitted_as_answered"):
        notes.append(
            f"submitted as answered by staff with {details.get('answered', '?')} of "
            f"{details.get('items', '?')} questions answered"
        )
    if details.get("reversal"):
        notes.append("a correction of the record (reversal)")
    return change, _join(reason, *notes)


def _scored(event: AuditEvent, details: Mapping[str, Any]) -> tuple[str, str]:
    version = details.get("scoring_version") or ""
    toi = details.get("toi")
    if details.get("rescored"):
        before = details.get("before") or {}
        after = details.get("after") or {}
        change = ", ".join(
            f"{name.upper()} {_score(before.get(name))} → {_score(after.get(name))}"
            for name in ("toi", "factb")
            if before.get(name) != after.get(name)
        )
        previous = details.get("previous_scoring_version")
        kept = f"previous scores kept (scoring {previous})" if previous else ""
        return change or "Scores unchanged", _join(
            f"Rescored after a corrected answer with scoring {version}", kept
        )
    status = status_label(details.get("status") or "")
    return (f"TOI {_score(toi)}" if "toi" in details else ""), _join(
        f"Scoring {version}" if version else "", f"form {status.lower()}" if status else ""
    )


def _score(value: Any) -> str:
    if value is None:
        return "—"
    try:
        return f"{float(value):.1f}"
    except (TypeError, ValueError):
        return str(value)


def describe(event: AuditEvent) -> EventText:
    """*event* in words: what happened, what changed, and why."""
    details: Mapping[str, Any] = event.details if isinstance(event.details, dict) else {}
    what = label_of(A, event.action)
    change, detail = "", event.reason
    if event.action == A.STATUS_CHANGE:
        change, detail = _status_change(event, details)
    elif event.action == A.MISSED_REASON:
        previous = label_of(Assessment.MissedReason, details.get("previous") or "", "none")
        change = f"{previous} → {label_of(Assessment.MissedReason, event.reason)}"
        detail = details.get("text") or ""
    elif event.action == A.OFF_STUDY:
        reason = label_of(Participant.OffStudyReason, event.reason)
        change = f"Off study from {details.get('off_study_on', '?')}: {reason}"
        detail = _join(details.get("note") or "", _changed_forms(details))
    elif event.action == A.OFF_STUDY_UNDONE:
        reason = label_of(Participant.OffStudyReason, details.get("off_study_reason") or "")
        change = f"On study again (record of {details.get('off_study_on', '?')}: {reason} undone)"
        detail = _join(event.reason, _changed_forms(details))
    elif event.action == A.RANDOMIZED:
        change = f"Arm {details.get('arm', '?')}, randomized {details.get('randomized_on', '?')}"
    elif event.action == A.RANDOMIZATION_CORRECTED:
        change = f"Randomization date {details.get('from', '?')} → {details.get('to', '?')}"
        detail = _join(event.reason, _changed_forms(details))
    elif event.action == A.RESPONSE_CORRECTION:
        old = answer_label(details.get("old"), details.get("old_declined"))
        new = answer_label(details.get("new"), details.get("new_declined"))
        change = f"{item_label(str(details.get('item', '?')))}: {old} → {new}"
        detail = event.reason or label_of(
            ResponseCorrection.Reason, str(details.get("reason_code") or "")
        )
    elif event.action == A.KIOSK_START:
        assistance = label_of(Assessment.Assistance, details.get("assistance") or "")
        language = _LANGUAGES.get(details.get("language") or "", "")
        change = {
            "home": "Opened at home (secure link and access code)",
            "phone": "Phone session started (staff records her answers)",
        }.get(details.get("mode") or "", "Tablet handed over")
        detail = _join(
            f"assistance: {assistance}" if assistance else "",
            f"language: {language}" if language else "",
        )
    elif event.action == A.KIOSK_END:
        change = label_of(KioskSession.EndReason, details.get("end_reason") or "")
        detail = event.reason
    elif event.action == A.SCORED:
        change, detail = _scored(event, details)
    elif event.action == A.HOME_CODE_FAILED:
        change = f"Wrong access code ({details.get('failed_attempts', '?')} in a row)"
    elif event.action == A.HOME_LINKS_REVOKED:
        n = len(details.get("home_links") or [])
        change = f"{n} link{'s' if n != 1 else ''} revoked"
    elif event.action == A.CALL_RECORDED:
        change = label_of(CallAttempt.Outcome, str(details.get("outcome") or ""))
        call_back = details.get("call_back_on")
        detail = _join(f"call back on {call_back}" if call_back else "", event.reason)
    elif event.action == A.AUDIT_EXPORT:
        change = f"{details.get('rows', '?')} events exported"
        detail = _filters(details.get("filters") or {})
    elif event.action in (A.EXPORT, A.ANALYSIS):
        detail = _join(event.reason, str(details.get("kind") or ""))
    elif event.action in (A.CONTACT_CHANGE, A.CONTACT_VIEW):
        # Which fields, never their values: the audit trail holds no address.
        fields = details.get("fields") or []
        change = ", ".join(str(f) for f in fields) if fields else ""
        detail = event.reason
    elif event.action == A.REMINDER:
        change = f"{details.get('channel', '?')}: {details.get('rule', '?')}"
        detail = _join(str(details.get("result") or ""), str(details.get("error") or ""))
    return EventText(what=what, change=change, detail=detail)


def _changed_forms(details: Mapping[str, Any]) -> str:
    changes = details.get("changes") or {}
    n = len(changes)
    return f"{n} form{'s' if n != 1 else ''} changed status" if n else ""


def _filters(filters: Mapping[str, Any]) -> str:
    shown = [f"{key} = {value}" for key, value in filters.items() if value]
    return "filters: " + ", ".join(shown) if shown else "no filters"


def local_time(at: dt.datetime) -> str:
    """An instant as the staff pages show it (the project's display time zone)."""
    from django.utils import timezone

    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M")
