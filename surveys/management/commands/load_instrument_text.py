"""Load the licensed item wording a licensee supplies (FACIT.org, the trial's protocol).

    python manage.py load_instrument_text wording.csv [--source "licence 2026-123"] [--dry-run]

The CSV (UTF-8, a header row) has the columns ``instrument, version,
language, item_code, text``, e.g. ``FACT-B,4,es,GP1,<the licensed Spanish
wording of GP1>``. Every row is checked before anything is written: the
instrument and version must be shipped (``scoring.instruments``), the
language one of the site's languages, the item an item of that instrument,
the text present; each instrument/version/language must be complete (every
item once). Any problem: all of them are listed, with line numbers, and
nothing is loaded. Otherwise each instrument/version/language in the file
replaces what was loaded for it before, in one transaction. The tablet shows
the loaded wording from then on instead of the demonstration labels.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from scoring.instruments import INSTRUMENTS, get_instrument
from surveys.models import InstrumentText

COLUMNS = ("instrument", "version", "language", "item_code", "text")
MAX_TEXT = 2000
MAX_LISTED = 50

Group = tuple[str, str, str]  # instrument, version, language


class Command(BaseCommand):
    help = "Load licensed item wording (instrument, version, language, item_code, text) from a CSV."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("csv_path", help="UTF-8 CSV file with a header row")
        parser.add_argument(
            "--source",
            default="",
            help="Where the wording comes from (licence reference); default: the file name",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Check the file and report; write nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["csv_path"])
        rows = read_rows(path)
        texts, problems = validate(rows)
        if problems:
            for problem in problems[:MAX_LISTED]:
                self.stderr.write(f"  {problem}")
            if len(problems) > MAX_LISTED:
                self.stderr.write(f"  … and {len(problems) - MAX_LISTED} more")
            raise CommandError(f"{path}: {len(problems)} problem(s); nothing was loaded.")
        source = (options["source"] or path.name)[:200]
        if options["dry_run"]:
            for (instrument, version, language), items in sorted(texts.items()):
                self.stdout.write(
                    f"would load {len(items)} texts for {instrument} {version} ({language})"
                )
            self.stdout.write("Dry run: nothing was written.")
            return
        for line in store(texts, source=source):
            self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS(f"Loaded {path}."))


def read_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) for every data row; CommandError when the file cannot be read."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CommandError(f"{path}: cannot read the file ({exc.strerror}).") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CommandError(
            f"{path}: not UTF-8 (byte {exc.start}); save the file as UTF-8 CSV."
        ) from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise CommandError(f"{path}: the file is empty.") from None
    names = [h.strip().lower() for h in header]
    missing = [c for c in COLUMNS if c not in names]
    unknown = [h for h in names if h not in COLUMNS]
    if missing or unknown or len(set(names)) != len(names):
        raise CommandError(
            f"{path}: the header must be exactly {', '.join(COLUMNS)} "
            f"(missing: {', '.join(missing) or 'none'}; "
            f"unexpected: {', '.join(unknown) or 'none'})."
        )
    rows = []
    try:
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            line = reader.line_num
            if len(record) != len(names):
                row = {"__width__": str(len(record))}
            else:
                row = dict(zip(names, record, strict=True))
            rows.append((line, row))
    except csv.Error as exc:
        raise CommandError(f"{path}: line {reader.line_num}: {exc}") from exc
    if not rows:
        raise CommandError(f"{path}: no rows after the header.")
    return rows


def validate(
    rows: list[tuple[int, dict[str, str]]],
) -> tuple[dict[Group, dict[str, str]], list[str]]:
    """Group the rows by instrument/version/language; list every problem found."""
    languages = [code for code, _ in settings.LANGUAGES]
    problems: list[str] = []
    texts: dict[Group, dict[str, str]] = defaultdict(dict)
    first_line: dict[tuple[Group, str], int] = {}
    for line, row in rows:
        if "__width__" in row:
            problems.append(
                f"line {line}: {row['__width__']} columns, expected {len(COLUMNS)} "
                "(quote a text that contains commas)"
            )
            continue
        instrument, version = row["instrument"].strip(), row["version"].strip()
        language, code = row["language"].strip().lower(), row["item_code"].strip().upper()
        text = row["text"].strip()
        where = f"line {line}"
        if instrument not in INSTRUMENTS:
            problems.append(
                f"{where}: unknown instrument {instrument!r} (known: {', '.join(INSTRUMENTS)})"
            )
            continue
        try:
            definition = get_instrument(instrument, version)
        except KeyError:
            shipped = INSTRUMENTS[instrument].version
            problems.append(
                f"{where}: {instrument} version {version!r} is not the shipped one ({shipped!r})"
            )
            continue
        if language not in languages:
            problems.append(f"{where}: unknown language {language!r} (use {', '.join(languages)})")
            continue
        if code not in definition.item_codes:
            problems.append(f"{where}: {code!r} is not an item of {instrument} {version}")
            continue
        if not text:
            problems.append(f"{where}: the text of {code} is empty")
            continue
        if len(text) > MAX_TEXT:
            problems.append(f"{where}: the text of {code} is longer than {MAX_TEXT} characters")
            continue
        if any(ord(ch) < 32 and ch not in "\n\t" for ch in text):
            problems.append(f"{where}: the text of {code} contains control characters")
            continue
        group = (instrument, version, language)
        if (group, code) in first_line:
            problems.append(
                f"{where}: {instrument} {version} {language} {code} is already on line "
                f"{first_line[(group, code)]}"
            )
            continue
        first_line[(group, code)] = line
        texts[group][code] = text
    for (instrument, version, language), items in sorted(texts.items()):
        absent = [c for c in get_instrument(instrument, version).item_codes if c not in items]
        if absent:
            problems.append(
                f"{instrument} {version} ({language}) is incomplete: no text for "
                f"{', '.join(absent)} (a form never mixes licensed and demonstration wording)"
            )
    return dict(texts), problems


@transaction.atomic
def store(texts: dict[Group, dict[str, str]], *, source: str) -> list[str]:
    """Replace the wording of each instrument/version/language in *texts*; one line per group."""
    now = timezone.now()
    report = []
    for (instrument, version, language), items in sorted(texts.items()):
        previous = InstrumentText.objects.filter(
            instrument=instrument, version=version, language=language
        )
        replaced = previous.count()
        previous.delete()
        InstrumentText.objects.bulk_create(
            InstrumentText(
                instrument=instrument,
                version=version,
                language=language,
                item_code=code,
                text=text,
                loaded_at=now,
                source=source,
            )
            for code, text in items.items()
        )
        report.append(
            f"{instrument} {version} ({language}): {len(items)} texts loaded"
            + (f", {replaced} replaced" if replaced else "")
        )
    return report
