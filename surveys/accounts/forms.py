"""Forms of the accounts pages (validation only)."""

from __future__ import annotations

import re

from django import forms


class TokenForm(forms.Form):
    otp_token = forms.CharField(
        label="Authentication code",
        max_length=16,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": True,
            }
        ),
    )

    def clean_otp_token(self) -> str:
        token = "".join(str(self.cleaned_data["otp_token"]).split())  # "123 456" as apps show it
        if not re.fullmatch(r"[0-9]{6,8}", token):
            raise forms.ValidationError("Enter the 6-digit code shown by your authenticator app.")
        return token
