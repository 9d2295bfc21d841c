"""URLs of the coordinator workspace."""

from django.urls import path

from surveys.coordinator import views

app_name = "coordinator"
urlpatterns = [
    path("", views.WorklistView.as_view(), name="worklist"),
    path("grid/", views.GridView.as_view(), name="grid"),
    path("participants/", views.ParticipantListView.as_view(), name="participants"),
    path("participants/new/", views.RandomizeView.as_view(), name="randomize"),
    path("participants/<int:pk>/", views.ParticipantDetailView.as_view(), name="participant"),
    path("participants/<int:pk>/off-study/", views.OffStudyView.as_view(), name="off_study"),
    path(
        "participants/<int:pk>/off-study/undo/",
        views.UndoOffStudyView.as_view(),
        name="off_study_undo",
    ),
    path(
        "participants/<int:pk>/randomization/",
        views.CorrectRandomizationView.as_view(),
        name="correct_randomization",
    ),
    path(
        "assessments/<int:pk>/missed-reason/",
        views.MissedReasonView.as_view(),
        name="missed_reason",
    ),
    path(
        "assessments/<int:pk>/submit-as-answered/",
        views.SubmitAsAnsweredView.as_view(),
        name="submit_as_answered",
    ),
    path("assessments/<int:pk>/answers/", views.AnswersView.as_view(), name="answers"),
    path(
        "assessments/<int:pk>/answers/<str:code>/correct/",
        views.CorrectAnswerView.as_view(),
        name="correct_answer",
    ),
    path("compliance/", views.ComplianceView.as_view(), name="compliance"),
    path("audit/", views.AuditLogView.as_view(), name="audit_log"),
]
