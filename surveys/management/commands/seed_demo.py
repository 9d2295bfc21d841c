"""Create the synthetic E2108 demo trial (once), as of a date, and queue the paper's analysis."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from surveys.demo.home import DEMO_ACCESS_CODE, demo_home_link
from surveys.demo.outreach import demo_reminders
from surveys.demo.seed import DEMO_LOGINS, create_users, seed_demo
from surveys.models import AnalysisPreset, Trial
from surveys.statistician.analysis.presets import E2108_PAPER
from surveys.statistician.analysis.runs import run_start


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--as-of {value!r} is not a date (YYYY-MM-DD)") from None


class Command(BaseCommand):
    help = (
        "Seed the synthetic E2108 trial (256 randomized women and a few recent ones) so that "
        "its last data are just before the as-of date, with the 'E2108 paper (JCO 2022)' "
        "analysis preset; the same trial whatever the date."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--as-of",
            type=_date,
            default=None,
            metavar="YYYY-MM-DD",
            help="the demo's 'today': its last data are just before it (default: today)",
        )
        parser.add_argument(
            "--no-run",
            action="store_true",
            help="do not queue a run of the E2108 paper preset",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if Trial.objects.filter(protocol_id="E2108").exists():
            create_users()  # make sure the printed logins work
            self.stdout.write("The demo trial exists already; logins refreshed.")
            if not AnalysisPreset.objects.filter(name=E2108_PAPER).exists():
                self.stdout.write(
                    "It was seeded by an earlier version (no 'E2108 paper (JCO 2022)' preset): "
                    "`make clean` (which removes var/) and `make demo` seed the current one."
                )
        else:
            as_of = options["as_of"] or timezone.localdate()
            started = time.perf_counter()
            trial, preset = seed_demo(as_of=as_of)
            self.stdout.write(
                f"Seeded {trial.protocol_id} as of {as_of.isoformat()}: "
                f"{trial.participants.count()} participants in "
                f"{time.perf_counter() - started:.1f} s; preset '{preset.name}' "
                f"(data cut-off {preset.parameters.get('cutoff')})."
            )
            # The demo's reminders at its clock: now, or noon (UTC) of a given as-of date.
            at = (
                timezone.now()
                if options["as_of"] is None
                else dt.datetime.combine(as_of, dt.time(12), tzinfo=dt.UTC)
            )
            reminded = demo_reminders(now=at)
            self.stdout.write(
                f"Contact details for {', '.join(reminded['contacts']) or 'nobody'}; "
                f"{reminded.get('sent', 0)} reminders in the outbox (/coordinator/outbox/)."
            )
            if not options["no_run"]:
                run = run_start(user=get_user_model().objects.get(username="stat"), preset=preset)
                self.stdout.write(f"Analysis run {run.pk} of the preset queued for the worker.")
        for login in DEMO_LOGINS:
            self.stdout.write(f"  {login.username:<11} {login.password:<16} {login.role}")
        home = demo_home_link(now=timezone.now())
        if home is not None:
            study_id, url = home
            self.stdout.write(
                f"Home link for {study_id} (open it on a phone-sized window): {url}\n"
                f"  her access code: {DEMO_ACCESS_CODE} (demo only; a real code is random)"
            )
