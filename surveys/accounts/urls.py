"""Account URLs under ``/accounts/`` (log in and log out are in ``ecogprom.urls``)."""

from django.urls import path

from surveys.accounts import views

app_name = "account"
urlpatterns = [
    path("two-factor/", views.TwoFactorView.as_view(), name="two_factor"),
    path("two-factor/verify/", views.VerifyView.as_view(), name="two_factor_verify"),
]
