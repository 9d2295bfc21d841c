"""Run the assessment sweep now (the beat schedule runs it hourly)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from surveys.jobs import dispatch
from surveys.jobs.periodic import run_recorded
from surveys.trial.sweep import sweep_assessments

#: The stable name of the periodic task (beat's schedule uses it too).
TASK_NAME = "surveys.sweep_assessments"


class Command(BaseCommand):
    help = "Open windows that have opened and mark closed windows missed; prints the counts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--async",
            dest="run_async",
            action="store_true",
            help="send the task to the Celery workers instead of running it here",
        )

    def handle(self, *args: Any, run_async: bool = False, **options: Any) -> None:
        if run_async:
            self.stdout.write(f"queued task {dispatch.send(TASK_NAME)}")
            return
        result = run_recorded(TASK_NAME, lambda: sweep_assessments(now=timezone.now()))
        self.stdout.write(json.dumps(result))
