"""URLs of the outreach room, under /coordinator/ (its pages are the coordinator's)."""

from django.urls import path

from surveys.outreach import views

app_name = "outreach"
urlpatterns = [
    path("participants/<int:pk>/contact/", views.ContactView.as_view(), name="contact"),
    path(
        "participants/<int:pk>/contact/withdraw/",
        views.WithdrawConsentView.as_view(),
        name="withdraw_consent",
    ),
    path("outbox/", views.OutboxView.as_view(), name="outbox"),
]
