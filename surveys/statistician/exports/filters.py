"""What an export (or an analysis run) covers: visits, sites, arms, a data cut-off.

Stored as JSON on ``ExportJob.filters`` and ``AnalysisRun.parameters``; empty
lists mean "all". The cut-off date is inclusive and site-local: a form
completed on the cut-off day (in its site's time zone) is in the data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

from surveys.security.dates import parse_date

#: Protocol ids and site, visit and arm codes are at most 32 characters (the models' fields):
#: a longer one names nothing and is refused rather than stored.
MAX_CODE = 32
#: More codes than any trial has sites or visits.
MAX_CODES = 500


def _codes(value: Any, name: str) -> tuple[str, ...]:
    if value in (None, ""):
        return ()
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple):
        raise ValidationError({name: "give a list of codes"})
    if len(value) > MAX_CODES:
        raise ValidationError({name: f"at most {MAX_CODES} codes"})
    codes = []
    for item in value:
        if not isinstance(item, str | int) or isinstance(item, bool):
            raise ValidationError({name: f"{item!r} is not a code"})
        text = str(item).strip()
        if len(text) > MAX_CODE:
            raise ValidationError({name: f"a code is at most {MAX_CODE} characters"})
        if text:
            codes.append(text)
    return tuple(dict.fromkeys(codes))


FILTER_KEYS = ("trial", "visits", "sites", "arms", "cutoff", "include_dates")


@dataclass(frozen=True)
class ExportFilters:
    """Rows to include. ``include_dates`` adds calendar dates (off by default:
    exports carry study ids and study days relative to randomization only)."""

    trial: str = ""
    visits: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    arms: tuple[str, ...] = ()
    cutoff: dt.date | None = None
    include_dates: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ExportFilters:
        """Parse and validate; raises ``ValidationError`` naming the bad key."""
        data = dict(data or {})
        unknown = sorted(set(data) - set(FILTER_KEYS))
        if unknown:
            raise ValidationError(f"unknown filter(s): {', '.join(unknown)}")
        trial = data.get("trial") or ""
        if not isinstance(trial, str) or len(trial.strip()) > MAX_CODE:
            raise ValidationError({"trial": f"give a protocol id (at most {MAX_CODE} characters)"})
        include_dates = data.get("include_dates", False)
        if not isinstance(include_dates, bool):
            raise ValidationError({"include_dates": "true or false"})
        return cls(
            trial=trial.strip(),
            visits=_codes(data.get("visits"), "visits"),
            sites=_codes(data.get("sites"), "sites"),
            arms=_codes(data.get("arms"), "arms"),
            cutoff=parse_date(data.get("cutoff"), "cutoff"),
            include_dates=include_dates,
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with only the keys that restrict something."""
        out: dict[str, Any] = {}
        if self.trial:
            out["trial"] = self.trial
        for key in ("visits", "sites", "arms"):
            if getattr(self, key):
                out[key] = list(getattr(self, key))
        if self.cutoff:
            out["cutoff"] = self.cutoff.isoformat()
        if self.include_dates:
            out["include_dates"] = True
        return out

    def describe(self) -> str:
        parts = [
            f"{label}: {', '.join(values)}"
            for label, values in (
                ("visits", self.visits),
                ("sites", self.sites),
                ("arms", self.arms),
            )
            if values
        ]
        if self.trial:
            parts.insert(0, f"trial {self.trial}")
        if self.cutoff:
            parts.append(f"data cut-off {self.cutoff.isoformat()}")
        if self.include_dates:
            parts.append("with calendar dates")
        return "; ".join(parts) or "everything"
