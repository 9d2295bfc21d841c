"""``manage.py export_cdisc --out DIR``: build the CDISC package (or the ODM file) now.

The same plain function as the ``cdisc_package`` export job, run synchronously:
the zip (and, with ``--unzipped``, its folder) is written to DIR.
"""

from __future__ import annotations

import tempfile
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from surveys.statistician.exports.cdisc.odm import write_odm_export
from surveys.statistician.exports.cdisc.package import build_package, write_package_folder
from surveys.statistician.exports.filters import ExportFilters


class Command(BaseCommand):
    help = "Write the CDISC submission package (SDTM, ADaM, define.xml, ODM) to a folder."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--out", required=True, help="folder to write into")
        parser.add_argument("--trial", default="", help="protocol id (default: every trial)")
        parser.add_argument("--visits", default="", help="comma-separated visit codes")
        parser.add_argument("--sites", default="", help="comma-separated site codes")
        parser.add_argument("--arms", default="", help="comma-separated arm codes")
        parser.add_argument("--cutoff", default="", help="data cut-off date, YYYY-MM-DD")
        parser.add_argument(
            "--odm", action="store_true", help="write the ODM 1.3.2 file instead of the package"
        )
        parser.add_argument(
            "--unzipped", action="store_true", help="also leave the package's folder in OUT"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            filters = ExportFilters.from_dict(
                {key: options[key] for key in ("trial", "visits", "sites", "arms", "cutoff")}
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        out = Path(options["out"])
        out.mkdir(parents=True, exist_ok=True)
        if options["odm"]:
            result = write_odm_export(filters, out)
            self.stdout.write(f"{result.path} ({result.rows:,} ItemData)")
            return
        if options["unzipped"]:
            write_package_folder(filters, out / "package")
        with tempfile.TemporaryDirectory() as tmp:
            result = build_package(filters, Path(tmp))
            target = out / result.path.name
            result.path.replace(target)
        self.stdout.write(f"{target} ({result.rows:,} dataset rows)")
