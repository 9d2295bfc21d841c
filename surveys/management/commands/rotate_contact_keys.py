"""Re-encrypt every stored contact detail with the first key of CONTACT_ENCRYPTION_KEYS.

Key rotation: put the new key first (``CONTACT_ENCRYPTION_KEYS=new,old``), restart,
run this command, then drop the old key. Values are read with any listed key and
written with the first (cryptography's MultiFernet).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from surveys.models import ContactDetails, OutboxMessage


class Command(BaseCommand):
    help = "Re-encrypt contact details (and the demo outbox) with the newest key."

    def handle(self, *args: Any, **options: Any) -> None:
        counts = {}
        for model, fields in (
            (ContactDetails, ["email", "mobile"]),
            (OutboxMessage, ["to", "body"]),
        ):
            n = 0
            with transaction.atomic():
                for row in model.objects.select_for_update().iterator(chunk_size=500):
                    row.save(update_fields=fields)
                    n += 1
            counts[model.__name__] = n
        self.stdout.write(", ".join(f"{name}: {n} re-encrypted" for name, n in counts.items()))
