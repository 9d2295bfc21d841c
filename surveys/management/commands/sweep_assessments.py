"""Run the assessment sweep now (the beat schedule runs it hourly)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand

from surveys.tasks import sweep_assessments_task


class Command(BaseCommand):
    help = "Open windows that have opened and mark closed windows missed; prints the counts."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--async",
            dest="run_async",
            action="store_true",
            help="send the task to the Celery workers instead of running it here",
        )

    def handle(self, *args: Any, run_async: bool = False, **options: Any) -> None:
        if run_async:
            result = sweep_assessments_task.delay()
            self.stdout.write(f"queued task {result.id}")
            return
        self.stdout.write(json.dumps(sweep_assessments_task()))
