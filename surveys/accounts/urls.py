"""Account URLs under ``/accounts/`` (log in and log out are in ``ecogprom.urls``)."""

from django.urls import path

from surveys.accounts import views

app_name = "account"
urlpatterns = [
    path("two-factor/", views.TwoFactorView.as_view(), name="two_factor"),
    path("two-factor/verify/", views.VerifyView.as_view(), name="two_factor_verify"),
    path("tokens/", views.ApiTokensView.as_view(), name="api_tokens"),
    path("tokens/<int:pk>/revoke/", views.ApiTokenRevokeView.as_view(), name="api_token_revoke"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("session/", views.SessionView.as_view(), name="session"),
]
