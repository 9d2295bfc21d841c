"""What "nothing changed" means in the hostile-input tests: every stored row, hashed."""

from __future__ import annotations

import hashlib

from django.apps import apps

#: Rows a refused request may still leave: the session store and the login throttle's
#: bookkeeping (a refused login is recorded on purpose), and the audit trail's record of
#: a refused login or a page view. Everything else must be untouched.
BOOKKEEPING = {"sessions.session", "surveys.loginattempt", "surveys.auditevent"}


def data_fingerprint(*, include_bookkeeping: bool = False) -> dict[str, str]:
    """``{app_label.model: sha256 of its rows}`` for every concrete model."""
    out = {}
    for model in apps.get_models():
        label = model._meta.label_lower
        if label in BOOKKEEPING and not include_bookkeeping:
            continue
        rows = model._default_manager.order_by("pk").values_list()
        out[label] = hashlib.sha256(repr(list(rows)).encode()).hexdigest()
    return out


def changed_tables(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(label for label in before if before[label] != after.get(label))
