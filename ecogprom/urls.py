"""Top-level URLs; each workspace has its own URLconf in ``surveys``."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from ecogprom.health import healthz
from surveys.accounts.views import LoginView, home

urlpatterns = [
    path("", home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/", include("surveys.accounts.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("coordinator/", include("surveys.coordinator.urls")),
    path("coordinator/", include("surveys.outreach.urls")),
    path("tablet/", include("surveys.tablet.urls")),
    # /r/<token> (her home link) and the coordinator's home, phone and call actions.
    path("", include("surveys.home.urls")),
    path("statistician/", include("surveys.statistician.urls")),
    path("api/", include("surveys.api.urls")),
    # /api/schema/ and /api/docs/ (Swagger UI, self-hosted, off unless API_DOCS_ENABLED).
    path("api/", include("surveys.api.docs")),
]
