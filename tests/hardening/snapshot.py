"""What "nothing changed" means in the hostile-input tests: every stored row, hashed."""

from __future__ import annotations

import hashlib

from django.apps import apps

#: Rows a refused request may still leave: the session store and the login throttle's
#: bookkeeping (a refused login is recorded on purpose), and the audit trail's record of
#: a refused login or a page view. Everything else must be untouched.
BOOKKEEPING = {"sessions.session", "surveys.loginattempt", "surveys.auditevent"}
#: Columns that count activity, not data: the tablet's clock and time per page, a token's
#: last use, a login's time, a second factor's failure counter.
BOOKKEEPING_COLUMNS = {
    "surveys.assessment": {"page_seconds", "updated_at"},
    "surveys.kiosksession": {"last_activity_at"},
    "surveys.apitoken": {"last_used_at"},
    "auth.user": {"last_login"},
    "otp_totp.totpdevice": {"throttling_failure_timestamp", "throttling_failure_count"},
    "otp_static.staticdevice": {"throttling_failure_timestamp", "throttling_failure_count"},
}


def data_fingerprint(*, include_bookkeeping: bool = False) -> dict[str, str]:
    """``{app_label.model: sha256 of its rows}`` for every concrete model."""
    out = {}
    for model in apps.get_models():
        label = model._meta.label_lower
        if label in BOOKKEEPING and not include_bookkeeping:
            continue
        skip = set() if include_bookkeeping else BOOKKEEPING_COLUMNS.get(label, set())
        columns = [f.attname for f in model._meta.concrete_fields if f.attname not in skip]
        rows = model._default_manager.order_by("pk").values_list(*columns)
        out[label] = hashlib.sha256(repr(list(rows)).encode()).hexdigest()
    return out


def changed_tables(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(label for label in before if before[label] != after.get(label))
