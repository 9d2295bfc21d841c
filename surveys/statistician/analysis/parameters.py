"""What a statistician asks of an analysis run (stored as ``AnalysisRun.parameters``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

from scoring.compare import DEFAULT_MEASURES
from scoring.extras import ETON_MIDS
from surveys.statistician.exports.filters import MAX_CODE, ExportFilters

#: The paper's four scores, then the nine E2108 items compared one by one.
PAPER_MEASURES: tuple[str, ...] = (
    "TOI",
    "FACTB",
    "FACTG",
    "BCS",
    *(f"LR{i}" for i in range(1, 10)),
)
#: Scores the mixed model is fitted to by default (one model per score).
MIXED_MODEL_MEASURES: tuple[str, ...] = ("TOI", "FACTB", "FACTG", "BCS")
KEYS = (
    "trial",
    "cutoff",
    "sites",
    "measures",
    "baseline",
    "plot_measure",
    "mid_responders",
    "mixed_model",
    "snapshot_of",
)


@dataclass(frozen=True)
class RunParameters:
    trial: str = ""
    cutoff: dt.date | None = None
    sites: tuple[str, ...] = ()
    measures: tuple[str, ...] = PAPER_MEASURES
    baseline: str = "baseline"
    plot_measure: str = "TOI"
    mid_responders: bool = True
    mixed_model: bool = True
    snapshot_of: int | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> RunParameters:
        data = dict(data or {})
        unknown = sorted(set(data) - set(KEYS))
        if unknown:
            raise ValidationError(f"unknown parameter(s): {', '.join(unknown)}")
        scope = ExportFilters.from_dict(
            {k: data[k] for k in ("trial", "cutoff", "sites") if data.get(k) not in (None, "")}
        )
        measures = data.get("measures") or PAPER_MEASURES
        if isinstance(measures, str):
            measures = measures.split(",")
        measures = tuple(dict.fromkeys(str(m).strip().upper() for m in measures if str(m).strip()))
        bad = [m for m in measures if m not in DEFAULT_MEASURES]
        if bad:
            raise ValidationError(
                {
                    "measures": f"unknown measure(s) {', '.join(bad)}; "
                    f"choose from {', '.join(DEFAULT_MEASURES)}"
                }
            )
        plot_measure = str(data.get("plot_measure") or "TOI").upper()
        if plot_measure not in DEFAULT_MEASURES:
            raise ValidationError({"plot_measure": f"unknown measure {plot_measure}"})
        flags = {}
        for key in ("mid_responders", "mixed_model"):
            value = data.get(key, True)
            if not isinstance(value, bool):
                raise ValidationError({key: "true or false"})
            flags[key] = value
        snapshot_of = data.get("snapshot_of")
        if snapshot_of is not None and (
            not isinstance(snapshot_of, int) or isinstance(snapshot_of, bool)
        ):
            raise ValidationError({"snapshot_of": "an analysis run id"})
        baseline = data.get("baseline") or "baseline"
        if not isinstance(baseline, str) or len(baseline.strip()) > MAX_CODE:
            raise ValidationError({"baseline": f"a visit code (at most {MAX_CODE} characters)"})
        baseline = baseline.strip()
        return cls(
            trial=scope.trial,
            cutoff=scope.cutoff,
            sites=scope.sites,
            measures=measures,
            baseline=baseline,
            plot_measure=plot_measure,
            snapshot_of=snapshot_of,
            **flags,
        )

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "measures": list(self.measures),
            "baseline": self.baseline,
            "plot_measure": self.plot_measure,
            "mid_responders": self.mid_responders,
            "mixed_model": self.mixed_model,
        }
        if self.trial:
            out["trial"] = self.trial
        if self.cutoff:
            out["cutoff"] = self.cutoff.isoformat()
        if self.sites:
            out["sites"] = list(self.sites)
        if self.snapshot_of is not None:
            out["snapshot_of"] = self.snapshot_of
        return out

    @property
    def filters(self) -> ExportFilters:
        return ExportFilters(trial=self.trial, cutoff=self.cutoff, sites=self.sites)

    @property
    def mid_measures(self) -> tuple[str, ...]:
        return tuple(m for m in self.measures if m in ETON_MIDS)

    @property
    def mixed_measures(self) -> tuple[str, ...]:
        return tuple(m for m in self.measures if m in MIXED_MODEL_MEASURES)
