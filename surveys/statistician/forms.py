"""Forms of the statistician workspace (validation only; services do the work)."""

from __future__ import annotations

from typing import Any

from django import forms

from scoring.compare import DEFAULT_MEASURES
from scoring.instruments import get_score
from surveys.models import Arm, ExportJob, Site, Visit
from surveys.security.dates import BoundedDateField
from surveys.statistician.analysis.parameters import PAPER_MEASURES


def _choice_field(form: forms.Form, name: str) -> forms.ChoiceField:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    return field


def _visit_choices() -> list[tuple[str, str]]:
    return list(Visit.objects.order_by("number").values_list("code", "label").distinct())


def _measure_choices() -> list[tuple[str, str]]:
    return [(code, f"{code}: {get_score(code).label_en}") for code in DEFAULT_MEASURES]


class ExportForm(forms.Form):
    kind = forms.ChoiceField(choices=ExportJob.Kind.choices, label="Dataset")
    format = forms.ChoiceField(choices=ExportJob.Format.choices)
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
        help_text="Off: study ids and study days only (QSDTC blank).",
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


class RunForm(forms.Form):
    cutoff = BoundedDateField(
        required=False,
        label="Data cut-off date",
        help_text="Forms completed on or before this day (site-local); blank: everything.",
    )
    sites = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, help_text="None ticked: every site."
    )
    measures = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple,
        initial=list(PAPER_MEASURES),
        help_text="Compared at each visit (Wilcoxon) and on change from baseline (t tests).",
    )
    baseline = forms.ChoiceField(label="Baseline visit")
    plot_measure = forms.ChoiceField(label="Plotted measure", initial="TOI")
    mid_responders = forms.BooleanField(
        required=False, initial=True, label="MID responder analysis (Eton et al. 2004)"
    )
    mixed_model = forms.BooleanField(
        required=False,
        initial=True,
        label="Linear mixed model (TOI, FACT-B, FACT-G, BCS; assumes missing at random)",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        measures = _measure_choices()
        _choice_field(self, "measures").choices = measures
        _choice_field(self, "plot_measure").choices = measures
        _choice_field(self, "sites").choices = list(Site.objects.values_list("code", "code"))
        visits = _visit_choices()
        _choice_field(self, "baseline").choices = visits
        baseline = Visit.objects.filter(is_baseline=True).order_by("number").first()
        self.fields["baseline"].initial = baseline.code if baseline else "baseline"

    def parameters(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "cutoff": data["cutoff"].isoformat() if data["cutoff"] else None,
            "sites": data["sites"],
            "measures": data["measures"],
            "baseline": data["baseline"],
            "plot_measure": data["plot_measure"],
            "mid_responders": bool(data["mid_responders"]),
            "mixed_model": bool(data["mixed_model"]),
        }
