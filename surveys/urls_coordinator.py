"""URLs of the coordinator workspace."""

from django.urls import path

from surveys.views import coordinator

app_name = "coordinator"
urlpatterns = [
    path("", coordinator.WorklistView.as_view(), name="worklist"),
    path("participants/", coordinator.ParticipantListView.as_view(), name="participants"),
    path("participants/new/", coordinator.RandomizeView.as_view(), name="randomize"),
    path("participants/<int:pk>/", coordinator.ParticipantDetailView.as_view(), name="participant"),
    path("participants/<int:pk>/off-study/", coordinator.OffStudyView.as_view(), name="off_study"),
    path(
        "assessments/<int:pk>/missed-reason/",
        coordinator.MissedReasonView.as_view(),
        name="missed_reason",
    ),
    path("compliance/", coordinator.ComplianceView.as_view(), name="compliance"),
]
