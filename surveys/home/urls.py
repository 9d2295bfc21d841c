"""URLs of home and phone completion: her link ``/r/<token>``, and the coordinator's actions."""

from django.urls import path

from surveys.home import views

app_name = "athome"
urlpatterns = [
    path("r/<str:token>", views.LinkView.as_view(), name="link"),
    path(
        "coordinator/participants/<int:pk>/access-code/",
        views.AccessCodeView.as_view(),
        name="access_code",
    ),
    path(
        "coordinator/assessments/<int:pk>/home-link/",
        views.IssueLinkView.as_view(),
        name="issue_link",
    ),
    path(
        "coordinator/assessments/<int:pk>/home-link/revoke/",
        views.RevokeLinksView.as_view(),
        name="revoke_links",
    ),
    path("coordinator/assessments/<int:pk>/phone/", views.PhoneStartView.as_view(), name="phone"),
    path("coordinator/assessments/<int:pk>/call/", views.CallView.as_view(), name="call"),
]
