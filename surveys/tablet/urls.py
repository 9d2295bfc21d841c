"""URLs of the tablet (``/tablet/``): the coordinator's hand-off and the patient's form."""

from django.urls import path

from surveys.tablet import views

app_name = "tablet"
urlpatterns = [
    path("start/<int:pk>/", views.HandOffView.as_view(), name="start"),
    path("", views.EntryView.as_view(), name="form"),
    path("intro/", views.IntroView.as_view(), name="intro"),
    path("page/<str:code>/", views.SectionView.as_view(), name="page"),
    path("review/", views.ReviewView.as_view(), name="review"),
    path("submit/", views.SubmitView.as_view(), name="submit"),
    path("done/", views.DoneView.as_view(), name="done"),
    path("answer/", views.AnswerView.as_view(), name="answer"),
    path("ping/", views.PingView.as_view(), name="ping"),
    path("offline/", views.OfflineView.as_view(), name="offline"),
    path("sw.js", views.service_worker, name="service_worker"),
    path("lock/", views.LockView.as_view(), name="lock"),
    path("locked/", views.LockedView.as_view(), name="locked"),
    path("exit/", views.ExitView.as_view(), name="exit"),
    path("text-size/", views.TextSizeView.as_view(), name="text_size"),
]
