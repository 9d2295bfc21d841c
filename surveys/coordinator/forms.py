"""Staff forms (validation only; the services do the writing).

No reason, date or choice that records a fact about her comes pre-selected:
every choice field starts on an empty choice the coordinator must change
(``tests/coordinator/test_no_presets.py`` walks every staff form).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms
from django.utils import timezone

from scoring.instruments import RESPONSE_SCALE
from surveys.models import (
    Arm,
    Assessment,
    AuditEvent,
    Participant,
    ResponseCorrection,
    Site,
    Trial,
)
from surveys.security.dates import BoundedDateField
from surveys.trial.participants import MAX_REASON, site_today

#: The label of the empty first choice of every choice field.
CHOOSE = "— choose —"


def with_empty_choice(choices: Any) -> list[tuple[str, str]]:
    return [("", CHOOSE), *choices]


class MissedReasonForm(forms.Form):
    reason = forms.ChoiceField(choices=with_empty_choice(Assessment.MissedReason.choices))
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
    reason = forms.ChoiceField(choices=with_empty_choice(Participant.OffStudyReason.choices))
    note = forms.CharField(required=False, max_length=500, label="Note (required for 'Other')")
    #: The fingerprint of the plan the confirmation page showed (empty: show it first).
    confirm = forms.CharField(required=False, widget=forms.HiddenInput)


class ReasonForm(forms.Form):
    """A required free-text reason (undoing off study, submitting as answered), confirmed."""

    reason = forms.CharField(
        max_length=MAX_REASON,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Kept in the audit trail.",
    )
    confirm = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, label: str = "Reason", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].label = label

    def clean_reason(self) -> str:
        reason = str(self.cleaned_data["reason"]).strip()
        if not reason:
            raise forms.ValidationError("Give the reason.")
        return reason


class CorrectRandomizationForm(ReasonForm):
    """A corrected randomization date and why (the trial's start, not in the future)."""

    randomized_on = BoundedDateField(label="Correct randomization date")
    field_order = ["randomized_on", "reason", "confirm"]

    def __init__(self, *args: Any, participant: Participant, **kwargs: Any) -> None:
        super().__init__(*args, label="Why the date was wrong", **kwargs)
        self.participant = participant

    def clean_randomized_on(self) -> dt.date:
        day = cast(dt.date, self.cleaned_data["randomized_on"])
        today = site_today(self.participant.site, timezone.now())
        if problem := self.participant.trial.randomization_date_error(day, today=today):
            raise forms.ValidationError(problem)
        return day


class RandomizeForm(forms.Form):
    study_id = forms.CharField(max_length=32, label="Study id")
    site = forms.ModelChoiceField(queryset=Site.objects.none(), empty_label=CHOOSE)
    arm = forms.ModelChoiceField(queryset=Arm.objects.none(), empty_label=CHOOSE)
    randomized_on = BoundedDateField()
    language = forms.ChoiceField(choices=with_empty_choice(Participant.Language.choices))

    def __init__(self, *args: Any, trial: Trial, sites: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.trial = trial
        cast(forms.ModelChoiceField, self.fields["site"]).queryset = sites
        cast(forms.ModelChoiceField, self.fields["arm"]).queryset = trial.arms.all()
        pattern = trial.study_id_pattern
        self.fields["study_id"].help_text = f"Must match {pattern}; no names."

    def clean_study_id(self) -> str:
        study_id = self.cleaned_data["study_id"].strip()
        if problem := self.trial.study_id_error(study_id):
            raise forms.ValidationError(problem)
        if Participant.objects.filter(trial=self.trial, study_id=study_id).exists():
            raise forms.ValidationError("A participant with this study id already exists.")
        return study_id

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        day, site = data.get("randomized_on"), data.get("site")
        if day is not None:
            today = site_today(site, timezone.now()) if site else timezone.localdate()
            if problem := self.trial.randomization_date_error(day, today=today):
                self.add_error("randomized_on", problem)
        return data


class CorrectionForm(forms.Form):
    """A corrected answer and why (coded; "Other" needs words). Nothing is pre-selected."""

    value = forms.ChoiceField(label="Correct answer", widget=forms.RadioSelect)
    reason_code = forms.ChoiceField(
        label="Why it is corrected",
        choices=ResponseCorrection.Reason.choices,
        widget=forms.RadioSelect,
    )
    reason_text = forms.CharField(
        required=False,
        max_length=400,
        label="Details (required for 'Other')",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    #: the answer's revision the confirmation page showed (empty: show it first)
    confirm = forms.CharField(required=False, widget=forms.HiddenInput)

    NO_ANSWER = "none"
    DECLINED = "declined"

    def __init__(self, *args: Any, optional: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices: list[tuple[str, str]] = [
            (str(option.value), f"{option.value} ({option.label_en})") for option in RESPONSE_SCALE
        ]
        if optional:
            choices.append((self.DECLINED, "Prefer not to answer"))
        choices.append((self.NO_ANSWER, "No answer (clear it)"))
        cast(forms.ChoiceField, self.fields["value"]).choices = choices

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (
            data.get("reason_code") == ResponseCorrection.Reason.OTHER
            and not str(data.get("reason_text", "")).strip()
        ):
            self.add_error("reason_text", "Describe the reason when it is 'Other'.")
        confirm = str(data.get("confirm") or "")
        if confirm and not confirm.isdigit():
            self.add_error(None, "The confirmation is not valid: review the correction again.")
        return data

    def answer(self) -> tuple[int | None, bool]:
        """The chosen (value, declined)."""
        chosen = self.cleaned_data["value"]
        if chosen == self.NO_ANSWER:
            return None, False
        if chosen == self.DECLINED:
            return None, True
        return int(chosen), False


class AuditSearchForm(forms.Form):
    """The audit log's search (GET): every field optional."""

    site = forms.ChoiceField(required=False)
    participant = forms.CharField(required=False, max_length=32, label="Participant (study id)")
    user = forms.CharField(required=False, max_length=64, label="User")
    action = forms.ChoiceField(
        required=False, choices=[("", "Any action"), *AuditEvent.Action.choices]
    )
    date_from = BoundedDateField(required=False, label="From")
    date_to = BoundedDateField(required=False, label="To")

    def __init__(self, *args: Any, sites: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["site"]).choices = [
            ("", "All my sites"),
            *((s.code, f"{s.code} {s.name}") for s in sites),
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", "The end date is before the start date.")
        return data
