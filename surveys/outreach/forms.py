"""The contact-details form a coordinator fills in with her (and her consent)."""

from __future__ import annotations

from typing import Any

from django import forms

from surveys.models import Channel, ContactDetails
from surveys.outreach.contacts import ContactInput, validate_mobile


class RawCheckbox(forms.CheckboxInput):
    """A checkbox widget that hands the field what was sent (Django's makes any text True)."""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        return data.get(name, False)


class YesField(forms.BooleanField):
    """A checkbox that refuses anything a browser's checkbox does not send ("on")."""

    widget = RawCheckbox

    def to_python(self, value: object) -> bool:
        if value in (None, "", False, "false", "0", "off"):
            return False
        if value in (True, "on", "true", "1"):
            return True
        raise forms.ValidationError("This is a checkbox: it is ticked or not.")


class ContactForm(forms.Form):
    email = forms.EmailField(required=False, max_length=254, label="Email address")
    mobile = forms.CharField(
        required=False,
        max_length=16,
        label="Mobile number",
        help_text="International form, e.g. +15555550123.",
    )
    preferred_channel = forms.ChoiceField(choices=Channel.choices, label="Preferred channel")
    language = forms.ChoiceField(
        choices=ContactDetails.Language.choices, label="Language of the messages"
    )
    quiet_start = forms.TimeField(
        required=False,
        label="Quiet hours from",
        help_text="No message between these two local times (her site's time zone).",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    quiet_end = forms.TimeField(
        required=False,
        label="Quiet hours until",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    consent = YesField(
        required=True,
        label="She agreed to be contacted by email or text message about her questionnaires",
    )

    def clean_mobile(self) -> str:
        value = str(self.cleaned_data.get("mobile") or "").replace(" ", "").replace("-", "")
        validate_mobile(value)
        return value

    def as_input(self) -> ContactInput:
        data = self.cleaned_data
        return ContactInput(
            email=str(data.get("email") or "").strip(),
            mobile=str(data.get("mobile") or ""),
            preferred_channel=str(data["preferred_channel"]),
            language=str(data["language"]),
            quiet_start=data.get("quiet_start"),
            quiet_end=data.get("quiet_end"),
            consent=bool(data.get("consent")),
        )
