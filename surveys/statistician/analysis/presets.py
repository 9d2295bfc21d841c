"""Saved analysis presets, and the "E2108 paper (JCO 2022)" preset with the paper's figures.

A preset is a name, run parameters (checked like a run's: against the trial)
and, optionally, *reference* figures from a publication that a run of the
preset shows beside its own (docs/analysis-runs.md describes the keys).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from surveys.models import AnalysisPreset, Trial
from surveys.statistician.analysis.parameters import PAPER_MEASURES, RunParameters, for_trial

E2108_PAPER = "E2108 paper (JCO 2022)"

#: The figures of the E2108 quality-of-life analysis that the paper gives. Figures it does
#: not give are absent (``None``, and ``reported: False``), never made up.
E2108_PAPER_REFERENCE: dict[str, Any] = {
    "source": (
        "Khan SA, Zhao F, Goldstein LJ, et al. Early local therapy for the primary site in "
        "de novo stage IV breast cancer: results of a randomized clinical trial (EA2108). "
        "J Clin Oncol 2022;40:978-987."
    ),
    "measure": "TOI",
    "test": "Wilcoxon rank-sum, two-sided, unadjusted (significance 5%)",
    "randomized": {"A": 131, "B": 125},
    "visits": {
        "baseline": {"reported": False, "significant": False},
        "m6": {"reported": False, "significant": False},
        "m18": {
            "reported": True,
            "significant": True,
            "mean_a": 74.2,
            "sd_a": 11.5,
            "mean_b": 68.0,
            "sd_b": 13.7,
            "p_value": 0.01,
            "scored_fraction": 0.5,
            "scored_text": "about half of the 256 randomized women completed the 18-month form",
        },
        "m30": {"reported": False, "significant": False},
    },
    "items": {
        "measures": [f"LR{i}" for i in range(1, 10)],
        "significant": False,
        "text": "no significant differences between the arms in the locoregional items",
    },
    "survival": {
        "hazard_ratio": 1.11,
        "hazard_ratio_of": "B / A",
        "survival_36_months": {"A": 0.684, "B": 0.679},
        "text": "overall survival: hazard ratio 1.11 (early locoregional therapy vs "
        "continued systemic therapy); 3-year OS 68.4% vs 67.9%",
    },
    #: How close a reproduction of the paper (the demo) has to come (see tests/demo/).
    "bounds": {"mean": 1.5, "sd": 2.0, "p_value": [0.005, 0.02], "scored_fraction": [0.45, 0.55]},
}

#: The paper's analysis: its four scores and nine items, its 18-month sensitivity analyses.
E2108_PAPER_PARAMETERS: dict[str, Any] = {
    "trial": "E2108",
    "measures": list(PAPER_MEASURES),
    "baseline": "baseline",
    "plot_measure": "TOI",
    "sensitivity_measure": "TOI",
    "sensitivity_visits": ["m18"],
}

_REFERENCE_KEYS = {
    "source",
    "measure",
    "test",
    "randomized",
    "visits",
    "items",
    "survival",
    "bounds",
    "note",
}
_VISIT_NUMBERS = ("mean_a", "sd_a", "mean_b", "sd_b", "p_value", "scored_fraction")


def _number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def check_reference(reference: Any) -> dict[str, Any]:
    """The reference figures, checked: a source, and numbers where numbers belong."""
    if reference in (None, {}):
        return {}
    if not isinstance(reference, Mapping):
        raise ValidationError({"reference": "an object (see docs/analysis-runs.md)"})
    unknown = sorted(set(reference) - _REFERENCE_KEYS)
    if unknown:
        raise ValidationError({"reference": f"unknown key(s): {', '.join(unknown)}"})
    if not isinstance(reference.get("source"), str) or not reference["source"].strip():
        raise ValidationError({"reference": "give the source of the figures"})
    visits = reference.get("visits", {})
    if not isinstance(visits, Mapping):
        raise ValidationError({"reference": "visits: an object keyed by visit code"})
    for code, figures in visits.items():
        if not isinstance(figures, Mapping):
            raise ValidationError({"reference": f"visits.{code}: an object"})
        for key in _VISIT_NUMBERS:
            if figures.get(key) is not None and not _number(figures[key]):
                raise ValidationError({"reference": f"visits.{code}.{key}: a number"})
    return dict(reference)


@transaction.atomic
def preset_save(
    *,
    name: str,
    parameters: Mapping[str, Any],
    reference: Any = None,
    description: str = "",
    user: Any = None,
) -> AnalysisPreset:
    """Create or replace the preset called *name* (parameters checked against the trial)."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "give the preset a name"})
    params = for_trial(RunParameters.from_dict(parameters))
    if params.snapshot_of is not None:
        raise ValidationError({"parameters": "a preset cannot re-run a frozen snapshot"})
    stored = params.as_dict()
    stored.pop("snapshot_of", None)
    preset, _ = AnalysisPreset.objects.update_or_create(
        name=name,
        defaults={
            "parameters": stored,
            "reference": check_reference(reference),
            "description": description.strip(),
            "trial": Trial.objects.get(protocol_id=params.trial),
            "created_by": user,
        },
    )
    return preset


def e2108_paper_preset(
    *, trial: Trial, cutoff: dt.date | None = None, note: str = ""
) -> AnalysisPreset:
    """The "E2108 paper (JCO 2022)" preset for *trial*, with the paper's figures.

    *cutoff* is the data cut-off of the paper's analysis in this database
    (the demo passes the last day of its paper cohort's data).
    """
    parameters = {**E2108_PAPER_PARAMETERS, "trial": trial.protocol_id}
    if cutoff is not None:
        parameters["cutoff"] = cutoff.isoformat()
    reference = dict(E2108_PAPER_REFERENCE)
    if note:
        reference["note"] = note
    return preset_save(
        name=E2108_PAPER,
        parameters=parameters,
        reference=reference,
        description=(
            "The published E2108 quality-of-life analysis: FACT-B TOI, FACT-B, FACT-G and BCS "
            "and the nine locoregional items by visit (Wilcoxon) and change from baseline "
            "(t tests), unadjusted as in the paper, with the SISAQOL analyses; the paper's "
            "figures are shown beside the run's."
        ),
    )
