"""URLs of the statistician workspace."""

from django.urls import path  # noqa: F401

app_name = "statistician"
urlpatterns: list = []
