"""Forms of the tablet hand-off and of leaving or unlocking the kiosk (validation only)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from surveys.models import Assessment, Participant
from surveys.tablet.kiosk import PIN_RE

PIN_WIDGET_ATTRS = {
    "inputmode": "numeric",
    "pattern": "[0-9]*",
    "autocomplete": "off",
    "maxlength": "8",
    "class": "pin",
}


class HandOffForm(forms.Form):
    """Staff-facing (English): the coordinator's PIN, assistance and the form's language."""

    assistance = forms.ChoiceField(
        label="Level of assistance",
        choices=Assessment.Assistance.choices,
        widget=forms.RadioSelect,  # no preset: what staff do is recorded, never assumed
    )
    language = forms.ChoiceField(
        label="Questionnaire language", choices=Participant.Language.choices
    )
    pin = forms.CharField(
        label="Coordinator PIN (4 to 8 digits)",
        help_text="You will need it to unlock the tablet or take it back. Do not tell the patient.",
        widget=forms.PasswordInput(attrs={**PIN_WIDGET_ATTRS, "autocomplete": "new-password"}),
    )
    pin_confirm = forms.CharField(
        label="PIN again",
        widget=forms.PasswordInput(attrs={**PIN_WIDGET_ATTRS, "autocomplete": "new-password"}),
    )

    def __init__(self, *args: Any, language_locked: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if language_locked:
            field = self.fields["language"]
            field.disabled = True
            field.help_text = "Fixed: answers have already been saved in this language."

    def clean_pin(self) -> str:
        pin = str(self.cleaned_data["pin"]).strip()
        if not PIN_RE.match(pin):
            raise forms.ValidationError("Use 4 to 8 digits.")
        return pin

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("pin") and data.get("pin") != (data.get("pin_confirm") or "").strip():
            self.add_error("pin_confirm", "The two PINs differ.")
        return data


class PinForm(forms.Form):
    """Patient-facing page, staff-facing field: translated like the rest of the tablet."""

    pin = forms.CharField(
        label=_("Staff PIN"),
        max_length=8,
        widget=forms.PasswordInput(attrs=PIN_WIDGET_ATTRS),
    )
