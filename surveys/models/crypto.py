"""Encryption at rest for personal contact details (Fernet, keys from the environment).

``CONTACT_ENCRYPTION_KEYS`` holds one or more Fernet keys, comma-separated,
newest first (or ``CONTACT_ENCRYPTION_KEYS_FILE``): values are encrypted with
the first and decrypted with any of them (:class:`~cryptography.fernet.MultiFernet`),
so a key is rotated by putting the new one in front and running
``manage.py rotate_contact_keys``. With ``DEBUG`` and no key, a key is made once
under ``var/`` (the demo). Without a key otherwise, nothing can be stored:
:class:`ContactKeyMissing` says so.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

DEMO_KEY_FILE = "contact-encryption.key"


class ContactKeyMissing(ImproperlyConfigured):
    """No encryption key is configured: contact details cannot be stored or read."""


def _demo_key() -> str:
    path = Path(settings.VAR_DIR) / DEMO_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(Fernet.generate_key().decode())
    return path.read_text().strip()


@functools.cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ContactKeyMissing(
            "CONTACT_ENCRYPTION_KEYS holds a value that is not a Fernet key "
            "(32 url-safe base64-encoded bytes; make one with "
            '`python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())"`)'
        ) from exc


def fernet() -> MultiFernet:
    """The configured keys (the first encrypts); :class:`ContactKeyMissing` when none."""
    keys = tuple(settings.CONTACT_ENCRYPTION_KEYS)
    if not keys and settings.DEBUG:
        keys = (_demo_key(),)
    if not keys:
        raise ContactKeyMissing(
            "Contact details are encrypted at rest and no key is configured: set "
            "CONTACT_ENCRYPTION_KEYS (or CONTACT_ENCRYPTION_KEYS_FILE) to a Fernet key. "
            "Nothing was stored."
        )
    return _fernet(keys)


def encrypt(value: str) -> str:
    return fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ContactKeyMissing(
            "a stored contact detail cannot be decrypted with CONTACT_ENCRYPTION_KEYS "
            "(was a key removed before `manage.py rotate_contact_keys` ran?)"
        ) from exc


class EncryptedTextField(models.TextField):
    """Text stored as a Fernet token; Python code sees the plain text.

    The empty string is stored as itself (nothing to hide, and "no value" stays
    queryable); any other value is encrypted on the way in, decrypted on the way out.
    The column can be filtered only on emptiness: two tokens of one value differ.
    """

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return encrypt(str(value))

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value in (None, ""):
            return value
        return decrypt(value)
