"""URLs of the tablet (``/tablet/``): the coordinator's hand-off and the patient's form."""

from django.urls import path

from surveys.views import tablet

app_name = "tablet"
urlpatterns = [
    path("start/<int:pk>/", tablet.HandOffView.as_view(), name="start"),
    path("", tablet.EntryView.as_view(), name="form"),
    path("intro/", tablet.IntroView.as_view(), name="intro"),
    path("page/<str:code>/", tablet.SectionView.as_view(), name="page"),
    path("review/", tablet.ReviewView.as_view(), name="review"),
    path("submit/", tablet.SubmitView.as_view(), name="submit"),
    path("done/", tablet.DoneView.as_view(), name="done"),
    path("answer/", tablet.AnswerView.as_view(), name="answer"),
    path("ping/", tablet.PingView.as_view(), name="ping"),
    path("lock/", tablet.LockView.as_view(), name="lock"),
    path("locked/", tablet.LockedView.as_view(), name="locked"),
    path("exit/", tablet.ExitView.as_view(), name="exit"),
]
