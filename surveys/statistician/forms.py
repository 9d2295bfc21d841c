"""Forms of the statistician workspace (validation only; services do the work)."""

from __future__ import annotations

from typing import Any

from django import forms

from scoring.deterioration import MID_RANGES
from scoring.instruments import get_score
from surveys.models import AnalysisPreset, Arm, ExportJob, Site, Trial, Visit
from surveys.security.dates import BoundedDateField
from surveys.statistician.analysis.parameters import (
    SCALE_MEASURES,
    RunParameters,
    collected_measures,
    deterioration_name,
)


def _choice_field(form: forms.Form, name: str) -> forms.ChoiceField:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    return field


def _visit_choices() -> list[tuple[str, str]]:
    return list(Visit.objects.order_by("number").values_list("code", "label").distinct())


class ExportForm(forms.Form):
    kind = forms.ChoiceField(choices=ExportJob.Kind.choices, label="Dataset")
    format = forms.ChoiceField(
        choices=ExportJob.Format.choices,
        required=False,
        help_text="The CDISC package is always a zip, the ODM export an XML file.",
    )
    visits = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, help_text="None ticked: every visit."
    )
    sites = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, help_text="None ticked: every site."
    )
    arms = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, help_text="None ticked: both arms."
    )
    cutoff = BoundedDateField(
        required=False,
        label="Data cut-off date",
        help_text="Forms completed on or before this day (site-local); blank: everything.",
    )
    include_dates = forms.BooleanField(
        required=False,
        label="Include calendar dates",
        help_text="Off: study ids and study days only. The CDISC package always has dates.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice_field(self, "visits").choices = _visit_choices()
        _choice_field(self, "sites").choices = list(Site.objects.values_list("code", "code"))
        _choice_field(self, "arms").choices = [
            (code, f"{code}: {label}")
            for code, label in Arm.objects.order_by("code").values_list("code", "label").distinct()
        ]

    def filters(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "visits": data["visits"],
            "sites": data["sites"],
            "arms": data["arms"],
            "cutoff": data["cutoff"].isoformat() if data["cutoff"] else None,
            "include_dates": bool(data["include_dates"]),
        }


def _trial(code: str | None) -> Trial | None:
    trials = Trial.objects.order_by("protocol_id")
    return (trials.filter(protocol_id=code).first() if code else None) or trials.first()


def _deterioration_choices(measures: tuple[str, ...]) -> list[tuple[str, list[tuple[str, str]]]]:
    """Named definitions grouped by measure: MID at both ends of Eton's range, confirmed or
    not, death censored or an event."""
    groups = []
    for measure in (m for m in MID_RANGES if m in measures):
        low, high = MID_RANGES[measure]
        options = []
        for threshold in (low, high):
            for confirmed in (False, True):
                for death in (False, True):
                    name = deterioration_name(measure, threshold, confirmed=confirmed, death=death)
                    words = [f"{threshold:g} points", "confirmed" if confirmed else "unconfirmed"]
                    words.append("death = event" if death else "death censored")
                    options.append((name, f"{name}: {', '.join(words)}"))
        groups.append((get_score(measure).label_en, options))
    return groups


class RunForm(forms.Form):
    """A run's parameters, offered from what the trial collects (its visits and measures)."""

    trial = forms.ChoiceField(label="Trial", required=False, help_text="Blank: the only trial.")
    cutoff = BoundedDateField(
        required=False,
        label="Data cut-off date",
        help_text="Participants randomized and forms completed on or before this day "
        "(site-local), each assessment in its state as of that day; blank: everything now.",
    )
    sites = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, help_text="None ticked: every site."
    )
    measures = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple,
        help_text="Compared at each visit (Wilcoxon) and on change from baseline (t tests).",
    )
    baseline = forms.ChoiceField(label="Baseline visit")
    plot_measure = forms.ChoiceField(label="Plotted measure")
    mmrm = forms.BooleanField(
        required=False,
        initial=True,
        label="Repeated-measures model (MMRM) of change from baseline: TOI, FACT-B, FACT-G, BCS",
    )
    sensitivity_measure = forms.ChoiceField(
        required=False, label="Missing-data sensitivity analyses: measure"
    )
    sensitivity_visits = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Sensitivity analyses: visits",
        help_text="MMRM (MAR) and delta-adjusted multiple imputation with its tipping point; "
        "none ticked: every follow-up visit.",
    )
    deterioration = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Time to deterioration: definitions",
        help_text="A decline from baseline of at least the MID (Eton et al. 2004), "
        "unconfirmed or confirmed at the next assessment, death censored or an event.",
    )
    mid_responders = forms.BooleanField(
        required=False, initial=True, label="MID responder analysis (Eton et al. 2004)"
    )
    mixed_model = forms.BooleanField(
        required=False,
        initial=True,
        label="Random-intercept mixed model (TOI, FACT-B, FACT-G, BCS; assumes missing at random)",
    )
    save_as = forms.CharField(
        required=False,
        max_length=120,
        label="Save these parameters as a preset named",
        help_text="Optional; a preset of that name is replaced.",
    )

    def __init__(self, *args: Any, trial: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        chosen = _trial(self.data.get("trial") if self.is_bound else trial)
        _choice_field(self, "trial").choices = list(
            Trial.objects.order_by("protocol_id").values_list("protocol_id", "title")
        )
        collected = collected_measures(chosen) if chosen else ()
        measures = [(code, f"{code}: {get_score(code).label_en}") for code in collected]
        visits = (
            list(chosen.visits.order_by("number").values_list("code", "label")) if chosen else []
        )
        baseline = chosen.visits.filter(is_baseline=True).first() if chosen else None
        _choice_field(self, "measures").choices = measures
        _choice_field(self, "plot_measure").choices = measures
        _choice_field(self, "sensitivity_measure").choices = [
            m for m in measures if m[0] in SCALE_MEASURES
        ]
        _choice_field(self, "sites").choices = list(Site.objects.values_list("code", "code"))
        _choice_field(self, "baseline").choices = visits
        _choice_field(self, "sensitivity_visits").choices = [
            v for v in visits if baseline is None or v[0] != baseline.code
        ]
        _choice_field(self, "deterioration").choices = _deterioration_choices(collected)
        defaults = RunParameters()
        self.initial.setdefault("trial", chosen.protocol_id if chosen else "")
        self.initial.setdefault("measures", [m for m in defaults.measures if m in collected])
        self.initial.setdefault("plot_measure", defaults.plot_measure)
        self.initial.setdefault("baseline", baseline.code if baseline else "baseline")
        self.initial.setdefault("sensitivity_measure", defaults.sensitivity_measure)
        self.initial.setdefault(
            "deterioration", [d for d in defaults.deterioration if d.split("-")[0] in collected]
        )

    @classmethod
    def from_preset(cls, preset: AnalysisPreset) -> RunForm:
        params = RunParameters.from_dict(preset.parameters)
        initial = {
            **params.as_dict(),
            "cutoff": params.cutoff,
            "sites": list(params.sites),
            "sensitivity_visits": list(params.sensitivity_visits),
        }
        return cls(initial=initial, trial=params.trial)

    def parameters(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "trial": data["trial"],
            "cutoff": data["cutoff"].isoformat() if data["cutoff"] else None,
            "sites": data["sites"],
            "measures": data["measures"],
            "baseline": data["baseline"],
            "plot_measure": data["plot_measure"],
            "mmrm": bool(data["mmrm"]),
            "sensitivity_measure": data["sensitivity_measure"] or None,
            "sensitivity_visits": data["sensitivity_visits"],
            "deterioration": data["deterioration"],
            "mid_responders": bool(data["mid_responders"]),
            "mixed_model": bool(data["mixed_model"]),
        }
