"""URLs of the tablet workspace."""

from django.urls import path  # noqa: F401

app_name = "tablet"
urlpatterns: list = []
