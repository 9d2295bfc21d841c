"""``manage.py check_cdisc PACKAGE.zip``: the conformance self-check of a CDISC package.

Prints the findings table; exits 1 when any rule fails (2 for an unreadable file).
"""

from __future__ import annotations

import sys
import zipfile
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from surveys.statistician.exports.cdisc.check import check_package, findings_table


class Command(BaseCommand):
    help = "Check a CDISC package: schemas, define.xml vs data, SDTM rules, traceability."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("package", help="the package zip")
        parser.add_argument(
            "--no-database",
            action="store_true",
            help="skip the rules that compare with the database (SEQSTABLE, ANSWERS)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["package"])
        if not path.is_file() or not zipfile.is_zipfile(path):
            raise CommandError(f"{path}: not a zip file", returncode=2)
        findings = check_package(path, database=not options["no_database"])
        self.stdout.write(findings_table(findings))
        if any(f.failed for f in findings):
            sys.exit(1)
