"""URLs of the statistician workspace."""

from django.urls import path

from surveys.statistician import views

app_name = "statistician"
urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("exports/new/", views.ExportCreateView.as_view(), name="export_new"),
    path("exports/<int:pk>/", views.ExportDetailView.as_view(), name="export"),
    path(
        "exports/<int:pk>/download/",
        views.ExportDownloadView.as_view(),
        name="export_download",
    ),
    path(
        "exports/<int:pk>/codebook/",
        views.ExportCodebookView.as_view(),
        name="export_codebook",
    ),
    path(
        "exports/<int:pk>/files/<str:name>",
        views.ExportFileView.as_view(),
        name="export_file",
    ),
    path("runs/new/", views.RunCreateView.as_view(), name="run_new"),
    path("presets/<int:pk>/run/", views.PresetRunView.as_view(), name="preset_run"),
    path("runs/<int:pk>/", views.RunDetailView.as_view(), name="run"),
    path("runs/<int:pk>/rerun/", views.RunRerunView.as_view(), name="run_rerun"),
    path("runs/<int:pk>/files/<str:name>", views.RunFileView.as_view(), name="run_file"),
]
