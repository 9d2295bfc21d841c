"""Home links (``/r/<token>``) for the patient; links, codes, phone and calls for coordinators.

Thin HTTP translation over ``surveys.home.links``, ``sessions`` and
``calls``; the coordinator's actions are POSTs, for her own sites only. The
patient's pages render in her form's language once the link is known (the
browser's before). A refused link is one clear page with a 4xx
status and nothing stored; only a well-formed wrong code counts towards her
lock-out.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache

from surveys.accounts.roles import CoordinatorRequiredMixin, signed_in, visible_sites
from surveys.home.calls import CallRejected, call_record
from surveys.home.links import (
    CODE_RE,
    LinkLocked,
    LinkRefused,
    attempts_left,
    issue_access_code,
    issue_link,
    resolve_link,
    revoke_links,
)
from surveys.home.sessions import home_start, phone_start
from surveys.models import Assessment, CallAttempt, Participant
from surveys.tablet.answers import AnswerRejected
from surveys.tablet.kiosk import kiosk_get
from surveys.tablet.middleware import SESSION_KEY
from surveys.tablet.views import open_in_browser

#: The link page reads its access code from a form post only.
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _refused(request: HttpRequest, refusal: LinkRefused) -> HttpResponse:
    link = refusal.link
    language = link.assessment.language if link is not None else translation.get_language()
    with translation.override(language):
        response = render(
            request,
            "home/refused.html",
            {"code": refusal.code, "site": link.assessment.participant.site if link else None},
            status=refusal.status,
        )
    response.headers["Content-Language"] = language
    return response


@method_decorator(never_cache, name="dispatch")
class LinkView(View):
    """``/r/<token>``: ask her access code, then open her one form in mode "home"."""

    http_method_names = ["get", "post"]

    def page(
        self, request: HttpRequest, link: Any, *, error: str = "", status: int = 200
    ) -> HttpResponse:
        language = link.assessment.language
        with translation.override(language):
            response = render(
                request,
                "home/link.html",
                {
                    "assessment": link.assessment,
                    "error": error,
                    "attempts_left": attempts_left(link.assessment.participant_id),
                },
                status=status,
            )
        response.headers["Content-Language"] = language
        return response

    def get(self, request: HttpRequest, token: str) -> HttpResponseBase:
        now = timezone.now()
        try:
            link = resolve_link(token, now=now)
        except LinkRefused as refusal:
            return _refused(request, refusal)
        current = kiosk_get(request.session.get(SESSION_KEY))
        if (
            current is not None
            and current.is_live
            and current.mode == Assessment.Mode.HOME
            and current.assessment_id == link.assessment_id
        ):
            return redirect("tablet:form")  # this browser already opened it with her code
        return self.page(request, link)

    def post(self, request: HttpRequest, token: str) -> HttpResponseBase:
        now = timezone.now()
        try:
            link = resolve_link(token, now=now)
        except LinkRefused as refusal:
            return _refused(request, refusal)
        if request.content_type not in FORM_TYPES:
            return HttpResponse("send the access code as a form", status=415)
        code = request.POST.get("code", "").strip()
        if not CODE_RE.match(code):
            with translation.override(link.assessment.language):
                error = _("Your access code is 6 digits.")
            return self.page(request, link, error=error, status=400)
        try:
            session = home_start(link, code=code, now=now)
        except LinkLocked as refusal:
            return _refused(request, refusal)
        except AnswerRejected:  # the window closed or the form was sent meanwhile
            return _refused(request, _refusal_now(token))
        if session is None:
            with translation.override(link.assessment.language):
                error = _("That access code is not right.")
            return self.page(request, link, error=error, status=400)
        request.session.cycle_key()  # a new session id once the code is proven
        open_in_browser(request, session)
        return redirect("tablet:form")


def _refusal_now(token: str) -> LinkRefused:
    try:
        resolve_link(token, now=timezone.now())
    except LinkRefused as refusal:
        return refusal
    return LinkRefused("This link cannot be opened now.")


# --------------------------------------------------------------------------- coordinators
class HomeCoordinatorView(CoordinatorRequiredMixin, View):
    """Coordinator actions on her participants' home access and forms.

    Not a coordinator: 403 (the mixin). A coordinator of another site: 404,
    as everywhere in the coordinator's workspace (another site's ids are not
    disclosed).
    """

    def assessment(self, pk: int) -> Assessment:
        mine = Assessment.objects.filter(participant__site__in=visible_sites(self.request.user))
        return get_object_or_404(mine.select_related("participant__site", "visit"), pk=pk)

    def participant(self, pk: int) -> Participant:
        mine = Participant.objects.filter(site__in=visible_sites(self.request.user))
        return get_object_or_404(mine.select_related("site"), pk=pk)

    def back(self, participant_id: int) -> str:
        return reverse("coordinator:participant", args=[participant_id])


class AccessCodeView(HomeCoordinatorView):
    """POST: issue her a new access code (unlocks her home access); shown once."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        participant = self.participant(pk)
        code = issue_access_code(participant, actor=signed_in(request.user), now=timezone.now())
        return render(
            request,
            "home/issued.html",
            {"participant": participant, "code": code, "back": self.back(participant.pk)},
        )


class IssueLinkView(HomeCoordinatorView):
    """POST: a new home link for an open form; shown once (to read out or send)."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        assessment = self.assessment(pk)
        now = timezone.now()
        if not assessment.is_answerable(now):
            return HttpResponse("this form takes no answers", status=409)
        url = issue_link(assessment, actor=signed_in(request.user), now=now)
        return render(
            request,
            "home/issued.html",
            {
                "participant": assessment.participant,
                "assessment": assessment,
                "link": request.build_absolute_uri(url),
                "back": self.back(assessment.participant_id),
            },
        )


class RevokeLinksView(HomeCoordinatorView):
    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        assessment = self.assessment(pk)
        revoke_links(assessment, actor=signed_in(request.user), now=timezone.now())
        return redirect(self.back(assessment.participant_id) + f"#assessment-{assessment.pk}")


class PhoneStartView(HomeCoordinatorView):
    """POST: complete her open form by phone, on this (the coordinator's) screen."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        assessment = self.assessment(pk)
        try:
            session = phone_start(assessment, staff=signed_in(request.user), now=timezone.now())
        except AnswerRejected as exc:
            return HttpResponse(exc.messages[0], status=409, content_type="text/plain")
        open_in_browser(request, session)
        return redirect("tablet:form")


class CallView(HomeCoordinatorView):
    """POST: record a call's outcome; "completed by phone" goes on to the phone session."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        assessment = self.assessment(pk)
        now = timezone.now()
        outcome = request.POST.get("outcome", "")
        call_back_on = None
        if raw := request.POST.get("call_back_on", "").strip():
            try:
                call_back_on = dt.date.fromisoformat(raw)
            except ValueError:
                return HttpResponse("call_back_on: a date (YYYY-MM-DD)", status=400)
        if not assessment.is_answerable(now):
            return HttpResponse("this form takes no answers", status=409)
        try:
            call_record(
                assessment=assessment,
                outcome=outcome,
                called_by=signed_in(request.user),
                now=now,
                call_back_on=call_back_on,
                note=request.POST.get("note", ""),
            )
        except CallRejected as exc:
            return HttpResponse(str(exc), status=400, content_type="text/plain")
        if outcome == CallAttempt.Outcome.COMPLETED_BY_PHONE:
            try:
                session = phone_start(assessment, staff=signed_in(request.user), now=now)
            except AnswerRejected as exc:
                return HttpResponse(exc.messages[0], status=409, content_type="text/plain")
            open_in_browser(request, session)
            return redirect("tablet:form")
        back = request.POST.get("next", "")
        if not back.startswith("/coordinator/") or "//" in back or "\\" in back:
            back = self.back(assessment.participant_id)
        return redirect(back)
