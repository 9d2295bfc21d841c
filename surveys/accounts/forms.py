"""Forms of the accounts pages (validation only)."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import MaxLengthValidator, MaxValueValidator

from surveys.accounts.throttle import MAX_USERNAME
from surveys.accounts.two_factor import normal_recovery_code


class LoginForm(AuthenticationForm):
    """Django's login form with the username length enforced (no user has a longer one)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        username = self.fields["username"]
        assert isinstance(username, forms.CharField)
        username.max_length = MAX_USERNAME
        username.validators.append(MaxLengthValidator(MAX_USERNAME))


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


class VerifyForm(forms.Form):
    """After the password: a code from the app, or one of the recovery codes."""

    otp_token = forms.CharField(
        label="Authentication code",
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}),
        help_text="The 6 digits your app shows, or one of your recovery codes (xxxx-xxxx-xxxx).",
    )

    def clean_otp_token(self) -> tuple[str, str]:
        text = str(self.cleaned_data["otp_token"])
        digits = "".join(text.split())
        if re.fullmatch(r"[0-9]{6,8}", digits):
            return ("totp", digits)
        code = normal_recovery_code(text)
        if code is not None:
            return ("recovery", code)
        raise forms.ValidationError(
            "Enter the 6-digit code shown by your authenticator app, or a recovery code."
        )


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        max_length=100, label="What is it for?", help_text="e.g. 'R scripts on my laptop'."
    )
    days = forms.IntegerField(
        min_value=1, label="Valid for (days)", help_text="It stops working after this."
    )
    read_only = forms.BooleanField(
        required=False,
        initial=True,
        label="Read-only",
        help_text="Can read data but not record missed reasons, exports or analysis runs.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        days = self.fields["days"]
        assert isinstance(days, forms.IntegerField)
        days.max_value = settings.API_TOKEN_DAYS
        days.initial = settings.API_TOKEN_DAYS
        days.validators.append(MaxValueValidator(settings.API_TOKEN_DAYS))
        days.widget.attrs.update(max=settings.API_TOKEN_DAYS)
        days.help_text = f"At most {settings.API_TOKEN_DAYS}; it stops working after this."
