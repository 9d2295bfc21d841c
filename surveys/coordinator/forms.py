"""Staff forms (validation only; the services do the writing)."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from surveys.models import Arm, Assessment, Participant, Site, Trial
from surveys.security.dates import BoundedDateField


class MissedReasonForm(forms.Form):
    reason = forms.ChoiceField(choices=Assessment.MissedReason.choices)
    text = forms.CharField(
        required=False,
        max_length=500,
        label="Details (required for 'Other')",
        widget=forms.TextInput(),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("reason") == Assessment.MissedReason.OTHER and not data.get("text", "").strip():
            self.add_error("text", "Describe the reason when it is 'Other'.")
        return data


class OffStudyForm(forms.Form):
    off_study_on = BoundedDateField(label="Off-study date")
    reason = forms.ChoiceField(choices=Participant.OffStudyReason.choices)
    note = forms.CharField(required=False, max_length=500, label="Note (required for 'Other')")


class RandomizeForm(forms.Form):
    study_id = forms.CharField(max_length=32, label="Study id")
    site = forms.ModelChoiceField(queryset=Site.objects.none())
    arm = forms.ModelChoiceField(queryset=Arm.objects.none())
    randomized_on = BoundedDateField()
    language = forms.ChoiceField(choices=Participant.Language.choices)

    def __init__(self, *args: Any, trial: Trial, sites: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.trial = trial
        cast(forms.ModelChoiceField, self.fields["site"]).queryset = sites
        cast(forms.ModelChoiceField, self.fields["arm"]).queryset = trial.arms.all()

    def clean_study_id(self) -> str:
        study_id = self.cleaned_data["study_id"].strip()
        if Participant.objects.filter(trial=self.trial, study_id=study_id).exists():
            raise forms.ValidationError("A participant with this study id already exists.")
        return study_id
