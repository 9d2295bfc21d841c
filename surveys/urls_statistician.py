"""URLs of the statistician workspace."""

from django.urls import path

from surveys.views import statistician

app_name = "statistician"
urlpatterns = [
    path("", statistician.HomeView.as_view(), name="home"),
    path("exports/new/", statistician.ExportCreateView.as_view(), name="export_new"),
    path("exports/<int:pk>/", statistician.ExportDetailView.as_view(), name="export"),
    path(
        "exports/<int:pk>/download/",
        statistician.ExportDownloadView.as_view(),
        name="export_download",
    ),
    path(
        "exports/<int:pk>/codebook/",
        statistician.ExportCodebookView.as_view(),
        name="export_codebook",
    ),
    path("runs/new/", statistician.RunCreateView.as_view(), name="run_new"),
    path("runs/<int:pk>/", statistician.RunDetailView.as_view(), name="run"),
    path("runs/<int:pk>/rerun/", statistician.RunRerunView.as_view(), name="run_rerun"),
    path("runs/<int:pk>/files/<str:name>", statistician.RunFileView.as_view(), name="run_file"),
]
