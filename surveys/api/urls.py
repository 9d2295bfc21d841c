"""API routes."""

from rest_framework.routers import DefaultRouter

from surveys.api import views

app_name = "api"
router = DefaultRouter()
router.register("participants", views.ParticipantViewSet, basename="participant")
router.register("assessments", views.AssessmentViewSet, basename="assessment")
router.register("responses", views.ResponseViewSet, basename="response")
router.register("scores", views.ScoreViewSet, basename="score")
router.register("exports", views.ExportJobViewSet, basename="export")
router.register("analysis-runs", views.AnalysisRunViewSet, basename="analysisrun")
router.register("analysis-presets", views.AnalysisPresetViewSet, basename="analysispreset")
urlpatterns = router.urls
