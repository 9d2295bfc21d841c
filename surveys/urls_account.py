"""Account URLs under ``/accounts/`` (log in and log out are in ``ecogprom.urls``)."""

from django.urls import path

from surveys.views import two_factor

app_name = "account"
urlpatterns = [
    path("two-factor/", two_factor.TwoFactorView.as_view(), name="two_factor"),
    path("two-factor/verify/", two_factor.VerifyView.as_view(), name="two_factor_verify"),
]
