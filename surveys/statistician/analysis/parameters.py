"""What a statistician asks of an analysis run (stored as ``AnalysisRun.parameters``).

Two steps of validation, both before a run is queued:

* :meth:`RunParameters.from_dict` checks the shape (known keys, types, known
  measure codes, deterioration definitions that parse);
* :func:`for_trial` checks the parameters against the trial they analyse:
  the baseline is one of its visits, the measures are ones it collects, the
  sites exist. Errors name the parameter and say what the trial has, so a
  run never fails later in the worker for a reason the request could show.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from django.core.exceptions import ValidationError

from scoring.compare import DEFAULT_MEASURES, ITEM_MEASURES
from scoring.deterioration import MID_RANGES, Deterioration, definition
from scoring.extras import ETON_MIDS
from surveys import instrumentation
from surveys.models import Site, Trial
from surveys.statistician.exports.filters import MAX_CODE, ExportFilters

#: The paper's four scores, then the nine E2108 items compared one by one.
PAPER_MEASURES: tuple[str, ...] = (
    "TOI",
    "FACTB",
    "FACTG",
    "BCS",
    *(f"LR{i}" for i in range(1, 10)),
)
#: Scores the longitudinal models are fitted to (one model per score).
MIXED_MODEL_MEASURES: tuple[str, ...] = ("TOI", "FACTB", "FACTG", "BCS")
#: Time-to-deterioration definitions of every run unless asked otherwise (docs/statistics.md §8).
DEFAULT_DETERIORATION: tuple[str, ...] = (
    "TOI-5",
    "TOI-5-confirmed",
    "TOI-5-or-death",
    "FACTB-7",
    "FACTG-5",
    "BCS-2",
)
#: Scale scores a sensitivity analysis can be run on (not the single items).
SCALE_MEASURES: tuple[str, ...] = tuple(m for m in DEFAULT_MEASURES if m not in ITEM_MEASURES)
KEYS = (
    "trial",
    "cutoff",
    "sites",
    "measures",
    "baseline",
    "plot_measure",
    "mid_responders",
    "mixed_model",
    "mmrm",
    "deterioration",
    "sensitivity_measure",
    "sensitivity_visits",
    "snapshot_of",
)
FLAGS = ("mid_responders", "mixed_model", "mmrm")

_DEFINITION = re.compile(
    r"(?P<measure>[A-Z]+)-(?P<threshold>\d+(?:\.\d+)?)(?P<confirmed>-confirmed)?(?P<death>-or-death)?"
)


def parse_deterioration(name: str) -> Deterioration:
    """A definition from its name: ``MEASURE-THRESHOLD[-confirmed][-or-death]``.

    ``TOI-5`` is a decline of 5 points from baseline, unconfirmed, death
    censored; ``TOI-6-confirmed-or-death`` a 6-point decline confirmed at the
    next assessment, death counted as an event. Raises ``ValueError``.
    """
    match = _DEFINITION.fullmatch(name.strip())
    if match is None:
        raise ValueError(
            f"{name!r} is not a deterioration definition; write MEASURE-POINTS"
            "[-confirmed][-or-death], e.g. TOI-5 or TOI-6-confirmed-or-death"
        )
    measure = match["measure"]
    if measure not in MID_RANGES:
        raise ValueError(f"{name!r}: no MID for {measure}; choose from {', '.join(MID_RANGES)}")
    threshold = float(match["threshold"])
    if not 0 < threshold <= 50:
        raise ValueError(f"{name!r}: the threshold must be between 0 and 50 points")
    return definition(
        measure,
        threshold=threshold,
        confirmed=bool(match["confirmed"]),
        death="event" if match["death"] else "censor",
        name=deterioration_name(
            measure, threshold, confirmed=bool(match["confirmed"]), death=bool(match["death"])
        ),
    )


def deterioration_name(measure: str, threshold: float, *, confirmed: bool, death: bool) -> str:
    return (
        f"{measure}-{threshold:g}"
        + ("-confirmed" if confirmed else "")
        + ("-or-death" if death else "")
    )


def _codes(value: Any, name: str) -> tuple[str, ...]:
    if value in (None, ""):
        return ()
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple):
        raise ValidationError({name: "give a list"})
    out = []
    for item in value:
        if not isinstance(item, str):
            raise ValidationError({name: f"{item!r} is not a code"})
        if item.strip():
            out.append(item.strip())
    return tuple(dict.fromkeys(out))


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
    mmrm: bool = True
    deterioration: tuple[str, ...] = DEFAULT_DETERIORATION
    sensitivity_measure: str = "TOI"
    #: Follow-up visits of the missing-data sensitivity analyses; empty: every follow-up visit.
    sensitivity_visits: tuple[str, ...] = ()
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
        measures = tuple(m.upper() for m in _codes(data.get("measures"), "measures"))
        measures = tuple(dict.fromkeys(measures)) or PAPER_MEASURES
        bad = [m for m in measures if m not in DEFAULT_MEASURES]
        if bad:
            raise ValidationError(
                {
                    "measures": f"unknown measure(s) {', '.join(bad)}; "
                    f"choose from {', '.join(DEFAULT_MEASURES)}"
                }
            )
        plot_measure = str(data.get("plot_measure") or "TOI").strip().upper()
        if plot_measure not in DEFAULT_MEASURES:
            raise ValidationError({"plot_measure": f"unknown measure {plot_measure}"})
        flags = {}
        for key in FLAGS:
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
        deterioration = DEFAULT_DETERIORATION
        if "deterioration" in data:
            names = _codes(data["deterioration"], "deterioration")
            try:
                deterioration = tuple(dict.fromkeys(parse_deterioration(n).name for n in names))
            except ValueError as exc:
                raise ValidationError({"deterioration": str(exc)}) from None
        sensitivity_measure = data.get("sensitivity_measure") or "TOI"
        if not isinstance(sensitivity_measure, str) or (
            sensitivity_measure.strip().upper() not in SCALE_MEASURES
        ):
            raise ValidationError(
                {"sensitivity_measure": f"one of {', '.join(SCALE_MEASURES)} (a scale score)"}
            )
        return cls(
            trial=scope.trial,
            cutoff=scope.cutoff,
            sites=scope.sites,
            measures=measures,
            baseline=baseline.strip(),
            plot_measure=plot_measure,
            deterioration=deterioration,
            sensitivity_measure=sensitivity_measure.strip().upper(),
            sensitivity_visits=_codes(data.get("sensitivity_visits"), "sensitivity_visits"),
            snapshot_of=snapshot_of,
            **flags,
        )

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "measures": list(self.measures),
            "baseline": self.baseline,
            "plot_measure": self.plot_measure,
            **{flag: getattr(self, flag) for flag in FLAGS},
            "deterioration": list(self.deterioration),
            "sensitivity_measure": self.sensitivity_measure,
        }
        if self.sensitivity_visits:
            out["sensitivity_visits"] = list(self.sensitivity_visits)
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

    @property
    def deterioration_definitions(self) -> tuple[Deterioration, ...]:
        return tuple(parse_deterioration(name) for name in self.deterioration)


# --------------------------------------------------------------------------- the trial's say


def collected_measures(trial: Trial) -> tuple[str, ...]:
    """The measures the trial's instruments give, in the analysis order."""
    scores = {
        score.code
        for instrument in instrumentation.instruments(trial.instrument_version)
        for score in instrument.scores
    }
    return tuple(m for m in DEFAULT_MEASURES if m in scores)


def resolve_trial(code: str) -> Trial:
    """The trial a run analyses: the one named, or the only one there is."""
    if code:
        trial = Trial.objects.filter(protocol_id=code).first()
        if trial is None:
            known = ", ".join(Trial.objects.values_list("protocol_id", flat=True)) or "none yet"
            raise ValidationError({"trial": f"no trial {code!r} (trials: {known})"})
        return trial
    trials = list(Trial.objects.all()[:2])
    if not trials:
        raise ValidationError({"trial": "there is no trial to analyse yet"})
    if len(trials) > 1:
        raise ValidationError({"trial": "several trials: name the one to analyse"})
    return trials[0]


def for_trial(params: RunParameters) -> RunParameters:
    """The parameters checked against their trial, with the trial named.

    Raises ``ValidationError`` keyed by parameter: a baseline that is not one
    of the trial's visits, a measure the trial does not collect, an unknown
    site, a sensitivity visit that is not a follow-up visit.
    """
    trial = resolve_trial(params.trial)
    errors: dict[str, str] = {}
    visits = list(trial.visits.order_by("number").values_list("code", flat=True))
    if params.baseline not in visits:
        errors["baseline"] = (
            f"{params.baseline!r} is not a visit of {trial.protocol_id}; "
            f"its visits are {', '.join(visits)}"
        )
    collected = collected_measures(trial)
    instruments = ", ".join(trial.instrument_codes) or trial.instrument_version

    def not_collected(codes: tuple[str, ...]) -> str | None:
        missing = [m for m in codes if m not in collected]
        if not missing:
            return None
        return (
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not collected in "
            f"{trial.protocol_id} (instruments {instruments}); it collects {', '.join(collected)}"
        )

    for key, codes in (
        ("measures", params.measures),
        ("plot_measure", (params.plot_measure,)),
        ("sensitivity_measure", (params.sensitivity_measure,)),
        ("deterioration", tuple(d.measure for d in params.deterioration_definitions)),
    ):
        if (message := not_collected(codes)) is not None:
            errors[key] = message
    follow_up = [v for v in visits if v != params.baseline]
    wrong = [v for v in params.sensitivity_visits if v not in follow_up]
    if wrong:
        errors["sensitivity_visits"] = (
            f"{', '.join(wrong)}: not a follow-up visit of {trial.protocol_id} "
            f"({', '.join(follow_up)})"
        )
    if params.sites:
        known = set(Site.objects.filter(code__in=params.sites).values_list("code", flat=True))
        unknown = [s for s in params.sites if s not in known]
        if unknown:
            errors["sites"] = f"no site {', '.join(unknown)}"
    if errors:
        raise ValidationError(errors)
    return replace(params, trial=trial.protocol_id)
