"""The API's schema and its documentation page (top-level URL names ``schema``, ``api-docs``).

Swagger UI is served from this server (drf-spectacular-sidecar) with its
start-up script as a separate file (``SpectacularSwaggerSplitView``), so the
page runs under the Content-Security-Policy with no inline script and nothing
from a CDN. ``/api/docs/`` answers 404 unless ``API_DOCS_ENABLED`` (on with
``DEBUG``, i.e. in the demo); the schema stays available to signed-in users.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponseBase
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView


class ApiDocsView(SpectacularSwaggerSplitView):
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not settings.API_DOCS_ENABLED:
            raise Http404("the API documentation page is turned off (API_DOCS_ENABLED)")
        return super().dispatch(request, *args, **kwargs)


urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", ApiDocsView.as_view(url_name="schema"), name="api-docs"),
]
