"""Create the synthetic E2108-like demo trial (once)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from surveys.demo import DEMO_LOGINS, create_users, seed_demo
from surveys.models import Trial


class Command(BaseCommand):
    help = "Seed a synthetic E2108-like trial with 256 participants and demo logins."

    def handle(self, *args: Any, **options: Any) -> None:
        if Trial.objects.filter(protocol_id="E2108").exists():
            create_users()  # make sure the printed logins work
            self.stdout.write("The demo trial exists already; logins refreshed.")
        else:
            trial = seed_demo(now=timezone.now())
            self.stdout.write(
                f"Seeded {trial.protocol_id}: {trial.participants.count()} participants."
            )
        for login in DEMO_LOGINS:
            self.stdout.write(f"  {login.username:<11} {login.password:<16} {login.role}")
