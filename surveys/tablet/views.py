"""The patient tablet: hand-off, one section per page, review, submit, lock, leave.

Thin HTTP translation over ``surveys.tablet.kiosk`` (writes) and
``surveys.tablet.pages`` (reads). Every patient page renders in the language
pinned on the assessment, never the browser's. Pages work as plain form
posts; ``static/js/tablet.js`` adds saving on every tap through the JSON
answer endpoint.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib.auth import login, logout
from django.contrib.auth.forms import AuthenticationForm
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache

from surveys.accounts.roles import CoordinatorRequiredMixin, signed_in, visible_sites
from surveys.models import Actor, Assessment, KioskSession
from surveys.tablet import pages
from surveys.tablet.answers import AnswerRejected
from surveys.tablet.forms import HandOffForm, PinForm
from surveys.tablet.kiosk import (
    KioskDenied,
    kiosk_add_page_time,
    kiosk_answer,
    kiosk_end,
    kiosk_get,
    kiosk_lock,
    kiosk_lock_if_idle,
    kiosk_start,
    kiosk_submit,
    kiosk_touch,
    kiosk_unlock,
    may_release,
    pin_matches,
)
from surveys.tablet.middleware import SESSION_KEY, TABLET_PREFIX

SESSION_PAGE = "kiosk_page"
SESSION_PIN_FAILURES = "kiosk_pin_failures"
MAX_PIN_FAILURES = 5
INTRO, REVIEW = pages.INTRO, pages.REVIEW


# --------------------------------------------------------------------------- hand-off
class HandOffView(CoordinatorRequiredMixin, View):
    """The coordinator sets a PIN and the level of assistance, then gives the tablet over."""

    def assessment(self, pk: int) -> Assessment:
        mine = Assessment.objects.select_related("participant__site", "visit").filter(
            participant__site__in=visible_sites(self.request.user)
        )
        return get_object_or_404(mine, pk=pk)

    def page(
        self, request: HttpRequest, assessment: Assessment, form: HandOffForm | None, status: int
    ) -> HttpResponse:
        live = KioskSession.objects.filter(assessment=assessment, ended_at__isnull=True).first()
        return render(
            request,
            "tablet/start.html",
            {
                "assessment": assessment,
                "participant": assessment.participant,
                "form": form,
                "live_session": live,
                "answered": assessment.responses.count(),
            },
            status=status,
        )

    def form(self, assessment: Assessment, data: Any = None) -> HandOffForm:
        return HandOffForm(
            data,
            initial={"language": assessment.language},
            language_locked=assessment.responses.exists(),
        )

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        assessment = self.assessment(pk)
        if not assessment.is_answerable(timezone.now()):
            return self.page(request, assessment, None, status=409)
        return self.page(request, assessment, self.form(assessment), status=200)

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        assessment = self.assessment(pk)
        form = self.form(assessment, request.POST)
        if not form.is_valid():
            return self.page(request, assessment, form, status=400)
        try:
            session = kiosk_start(
                assessment_id=assessment.pk,
                started_by=signed_in(request.user),
                pin=form.cleaned_data["pin"],
                assistance=form.cleaned_data["assistance"],
                language=form.cleaned_data["language"],
                now=timezone.now(),
            )
        except AnswerRejected as exc:
            form.add_error(None, exc.messages)
            assessment.refresh_from_db()
            return self.page(request, assessment, form, status=409)
        # This browser becomes the patient's tablet: the staff login leaves it.
        logout(request)
        request.session[SESSION_KEY] = session.token
        return redirect("tablet:form")


# --------------------------------------------------------------------------- patient pages
def _token(request: HttpRequest) -> str | None:
    return request.session.get(SESSION_KEY)


def _message(
    request: HttpRequest, kind: str, status: int, kiosk: KioskSession | None = None
) -> HttpResponse:
    return render(request, "tablet/message.html", {"kind": kind, "kiosk": kiosk}, status=status)


@method_decorator(never_cache, name="dispatch")
class KioskView(View):
    """Base of the patient's pages: finds the kiosk session, pins the language.

    A page is shown only for a live, unlocked session whose assessment still
    takes answers; otherwise the tablet shows the thank-you page, the lock
    screen or a "give the tablet back" message, never anything else.
    """

    allow_locked = False
    allow_finished = False
    kiosk: KioskSession
    assessment: Assessment
    now: Any

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        kiosk = kiosk_get(_token(request))
        if kiosk is None:
            return _message(request, "missing", status=403)
        self.kiosk, self.assessment, self.now = kiosk, kiosk.assessment, timezone.now()
        language = self.assessment.language
        with translation.override(language):
            response = self.gate(request) or super().dispatch(request, *args, **kwargs)
        response.headers["Content-Language"] = language
        return response

    def gate(self, request: HttpRequest) -> HttpResponseBase | None:
        kiosk = self.kiosk
        if not kiosk.is_live:
            if self.allow_finished:
                return None
            if kiosk.end_reason == KioskSession.EndReason.SUBMITTED:
                return redirect("tablet:done")
            return _message(request, "ended", status=403, kiosk=kiosk)
        if not self.assessment.is_answerable(self.now):
            return None if self.allow_finished else _message(request, "closed", 409, kiosk)
        if kiosk_lock_if_idle(kiosk, now=self.now):
            self.stop_page_clock(request)
            return None if self.allow_locked else redirect("tablet:locked")
        kiosk_touch(kiosk, now=self.now)
        return None

    # time per page: the clock runs from showing a page until the next page is shown
    def stop_page_clock(self, request: HttpRequest, then_show: str | None = None) -> None:
        state = request.session.get(SESSION_PAGE) or {}
        if state.get("since") and state.get("code"):
            kiosk_add_page_time(
                self.kiosk,
                page=state["code"],
                seconds=self.now.timestamp() - state["since"],
                now=self.now,
            )
        code = then_show or state.get("code")
        since = self.now.timestamp() if then_show else None
        request.session[SESSION_PAGE] = {"code": code, "since": since}

    def page_context(self, form: pages.FormView, **extra: Any) -> dict[str, Any]:
        return {
            "kiosk": self.kiosk,
            "assessment": self.assessment,
            "form": form,
            "idle_seconds": settings.KIOSK_IDLE_SECONDS,
            **extra,
        }


def _page_url(code: str) -> str:
    if code == INTRO:
        return reverse("tablet:intro")
    if code == REVIEW:
        return reverse("tablet:review")
    return reverse("tablet:page", args=[code])


class EntryView(KioskView):
    """``/tablet/``: continue where this tablet (or, on a new tablet, the answers) left off."""

    def get(self, request: HttpRequest) -> HttpResponse:
        form = pages.form_for(self.assessment)
        state = request.session.get(SESSION_PAGE) or {}
        code = state.get("code")
        if code not in (INTRO, REVIEW, *form.codes):
            code = form.resume_at()
        return redirect(_page_url(code))


class IntroView(KioskView):
    def get(self, request: HttpRequest) -> HttpResponse:
        form = pages.form_for(self.assessment)
        self.stop_page_clock(request, then_show=INTRO)
        return render(
            request,
            "tablet/intro.html",
            self.page_context(
                form,
                first_url=_page_url(form.after(INTRO)),
                minutes=pages.minutes_estimate(self.assessment),
            ),
        )


class SectionView(KioskView):
    """One section: GET shows it with saved answers; POST saves them and moves on.

    A page posted after the tablet went idle still saves its answers (they
    were tapped before the lock), then shows the lock screen.
    """

    allow_locked = True

    def get(self, request: HttpRequest, code: str) -> HttpResponseBase:
        if self.kiosk.locked:
            return redirect("tablet:locked")
        form = pages.form_for(self.assessment)
        page = form.page(code)
        if page is None:
            raise Http404("no such section")
        self.stop_page_clock(request, then_show=code)
        answered_here = sum(1 for item in page.items if item.answered)
        return render(
            request,
            "tablet/section.html",
            self.page_context(
                form,
                page=page,
                scale=pages.response_scale(),
                answered_elsewhere=form.answered - answered_here,
                is_last=code == form.codes[-1],
            ),
        )

    def post(self, request: HttpRequest, code: str) -> HttpResponseBase:
        form = pages.form_for(self.assessment)
        page = form.page(code)
        if page is None:
            raise Http404("no such section")
        try:
            for item in page.items:
                self.save_posted(request, item)
        except KioskDenied:
            return _message(request, "ended", status=403, kiosk=self.kiosk)
        except AnswerRejected as exc:
            if exc.code == "status":
                return _message(request, "closed", status=409, kiosk=self.kiosk)
            return _message(request, "invalid", status=400, kiosk=self.kiosk)
        if self.kiosk.locked:
            return redirect("tablet:locked")
        nav = request.POST.get("nav", "next")
        target = {"back": form.before(code), "review": REVIEW}.get(nav, form.after(code))
        return redirect(_page_url(target))

    def save_posted(self, request: HttpRequest, item: pages.ItemView) -> None:
        declined = item.optional and request.POST.get(f"{item.code}_declined") == "1"
        raw = request.POST.get(item.code, "").strip()
        if not declined and not raw:
            return  # not answered on this visit: whatever was saved stays
        if declined:
            value = None
        elif raw.isdecimal() and len(raw) < 3:
            value = int(raw)
        else:
            raise AnswerRejected(f"{raw!r} is not an answer", code="value")
        if item.value == value and item.declined == declined:
            return
        kiosk_answer(
            token=self.kiosk.token,
            assessment_id=self.assessment.pk,
            item_code=item.code,
            value=value,
            declined=declined,
            now=self.now,
        )


class ReviewView(KioskView):
    def get(self, request: HttpRequest) -> HttpResponse:
        form = pages.form_for(self.assessment)
        self.stop_page_clock(request, then_show=REVIEW)
        return render(
            request,
            "tablet/review.html",
            self.page_context(
                form,
                unanswered=form.total - form.answered,
                back_url=_page_url(form.before(REVIEW)),
                error=request.GET.get("error", ""),
            ),
        )


class SubmitView(KioskView):
    allow_finished = True

    def post(self, request: HttpRequest) -> HttpResponseBase:
        if self.kiosk.is_live:
            self.stop_page_clock(request)
        try:
            kiosk_submit(token=self.kiosk.token, now=self.now)
        except KioskDenied:
            return _message(request, "ended", status=403, kiosk=self.kiosk)
        except AnswerRejected as exc:
            if exc.code == "empty":
                return redirect(reverse("tablet:review") + "?error=empty")
            return _message(request, "closed", status=409, kiosk=self.kiosk)
        request.session.pop(SESSION_PAGE, None)
        return redirect("tablet:done")


class DoneView(KioskView):
    allow_finished = True

    def get(self, request: HttpRequest) -> HttpResponseBase:
        submitted = (
            not self.kiosk.is_live and self.kiosk.end_reason == KioskSession.EndReason.SUBMITTED
        )
        if not submitted:
            return redirect("tablet:form")
        return render(request, "tablet/done.html", {"kiosk": self.kiosk})


class LockView(KioskView):
    """POST from the tablet's idle timer (after its answers were sent)."""

    allow_locked = True

    def post(self, request: HttpRequest) -> HttpResponseBase:
        self.stop_page_clock(request)
        kiosk_lock(self.kiosk)
        return redirect("tablet:locked")


def _pin_failures(request: HttpRequest) -> int:
    return int(request.session.get(SESSION_PIN_FAILURES, 0))


def _pin_failed(request: HttpRequest) -> None:
    request.session[SESSION_PIN_FAILURES] = _pin_failures(request) + 1


class LockedView(KioskView):
    """The lock screen: no answers on it; the staff PIN unlocks."""

    allow_locked = True

    def render_locked(self, request: HttpRequest, form: PinForm, status: int = 200) -> HttpResponse:
        return render(
            request,
            "tablet/locked.html",
            {
                "kiosk": self.kiosk,
                "pin_form": form,
                "pin_blocked": _pin_failures(request) >= MAX_PIN_FAILURES,
            },
            status=status,
        )

    def get(self, request: HttpRequest) -> HttpResponseBase:
        if not self.kiosk.locked:
            return redirect("tablet:form")
        return self.render_locked(request, PinForm())

    def post(self, request: HttpRequest) -> HttpResponseBase:
        if not self.kiosk.locked:
            return redirect("tablet:form")
        form = PinForm(request.POST)
        if _pin_failures(request) >= MAX_PIN_FAILURES:
            return self.render_locked(request, form, status=403)
        if form.is_valid() and kiosk_unlock(self.kiosk, pin=form.cleaned_data["pin"], now=self.now):
            request.session.pop(SESSION_PIN_FAILURES, None)
            state = request.session.get(SESSION_PAGE) or {}
            return redirect(_page_url(state.get("code") or INTRO))
        _pin_failed(request)
        form.add_error("pin", _("That PIN is not right."))
        return self.render_locked(request, form, status=400)


class ExitView(KioskView):
    """Staff only: take the tablet back with the hand-off PIN or a coordinator login."""

    allow_locked = True
    allow_finished = True

    def render_exit(
        self,
        request: HttpRequest,
        pin_form: PinForm | None = None,
        login_form: AuthenticationForm | None = None,
        status: int = 200,
    ) -> HttpResponse:
        return render(
            request,
            "tablet/exit.html",
            {
                "kiosk": self.kiosk,
                "pin_form": pin_form or PinForm(),
                "login_form": login_form or AuthenticationForm(request),
                "pin_blocked": _pin_failures(request) >= MAX_PIN_FAILURES,
                "can_return": self.kiosk.is_live and not self.kiosk.locked,
            },
            status=status,
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render_exit(request)

    def post(self, request: HttpRequest) -> HttpResponseBase:
        participant_url = reverse("coordinator:participant", args=[self.assessment.participant_id])
        if request.POST.get("method") == "login":
            login_form = AuthenticationForm(request, data=request.POST)
            if not login_form.is_valid():
                return self.render_exit(request, login_form=login_form, status=400)
            user = login_form.get_user()
            if not may_release(user, self.kiosk):
                login_form.add_error(None, _("This account cannot take back this tablet."))
                return self.render_exit(request, login_form=login_form, status=403)
            self.release(request, actor=user)
            login(request, user)
            return redirect(participant_url)
        pin_form = PinForm(request.POST)
        if _pin_failures(request) >= MAX_PIN_FAILURES:
            return self.render_exit(request, pin_form=pin_form, status=403)
        if pin_form.is_valid() and pin_matches(self.kiosk, pin_form.cleaned_data["pin"]):
            self.release(request, actor="kiosk:pin")
            return redirect(f"{reverse('login')}?next={participant_url}")
        _pin_failed(request)
        pin_form.add_error("pin", _("That PIN is not right."))
        return self.render_exit(request, pin_form=pin_form, status=400)

    def release(self, request: HttpRequest, actor: Actor) -> None:
        if self.kiosk.is_live:
            if not self.kiosk.locked:
                self.stop_page_clock(request)
            kiosk_end(self.kiosk, now=self.now, actor=actor)
        request.session.flush()


# --------------------------------------------------------------------------- JSON
def _json_error(message: str, code: str, status: int) -> JsonResponse:
    return JsonResponse({"ok": False, "error": message, "code": code}, status=status)


@method_decorator(never_cache, name="dispatch")
class AnswerView(View):
    """``POST /tablet/answer/`` ``{"assessment", "item", "value", "declined", "key"}``.

    200 with what was stored; 400 bad request, value or item; 403 no kiosk
    session, an ended one, or one for another assessment; 409 an assessment
    that takes no answers. Nothing is stored on any error.
    """

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> JsonResponse:
        token = _token(request)
        if not token:
            return _json_error("no questionnaire is open on this tablet", "kiosk_missing", 403)
        try:
            body = json.loads(request.body or b"")
        except (ValueError, UnicodeDecodeError):
            return _json_error("the request body is not JSON", "malformed", 400)
        if not isinstance(body, dict):
            return _json_error("the request body must be a JSON object", "malformed", 400)
        assessment_id, item = body.get("assessment"), body.get("item")
        declined, key = body.get("declined", False), body.get("key", "")
        if isinstance(assessment_id, bool) or not isinstance(assessment_id, int):
            return _json_error("'assessment' must be the assessment id", "malformed", 400)
        if not isinstance(item, str) or not isinstance(declined, bool) or not isinstance(key, str):
            return _json_error(
                "'item' and 'key' must be strings, 'declined' true or false", "malformed", 400
            )
        try:
            result = kiosk_answer(
                token=token,
                assessment_id=assessment_id,
                item_code=item,
                value=body.get("value"),
                declined=declined,
                idempotency_key=key,
                now=timezone.now(),
            )
        except KioskDenied as exc:
            return _json_error(exc.message, exc.code, 403)
        except AnswerRejected as exc:
            status = 409 if exc.code == "status" else 400
            return _json_error(exc.messages[0], exc.code or "invalid", status)
        response = result.response
        stored = "created" if result.created else ("changed" if result.changed else "unchanged")
        return JsonResponse(
            {
                "ok": True,
                "item": response.item_code,
                "value": response.value,
                "declined": response.declined,
                "stored": stored,
                "revision": response.revision,
            }
        )


@method_decorator(never_cache, name="dispatch")
class PingView(View):
    """``GET /tablet/ping/``: 204 while this tablet's session is live.

    The script calls it when the patient moves to another page (activity the
    server would not otherwise see, e.g. reading and scrolling a long page).
    """

    def get(self, request: HttpRequest) -> HttpResponse:
        kiosk = kiosk_get(_token(request))
        if kiosk is None or not kiosk.is_live:
            return HttpResponse(status=403)
        if not kiosk.locked:
            kiosk_touch(kiosk, now=timezone.now())
        return HttpResponse(status=204)


#: Text sizes the patient can choose on the tablet (the CSS class on <html> is text-<size>).
TEXT_SIZES = ("normal", "large", "x-large")
SESSION_TEXT_SIZE = "tablet_text_size"


class TextSizeView(View):
    """The patient's text size for this hand-off (kept in the tablet's session), then back.

    Works as a plain form post (redirects back to the page) and from the
    tablet script (``fetch``, 204), which changes the size without leaving
    the page.
    """

    def post(self, request: HttpRequest) -> HttpResponseBase:
        size = request.POST.get("size", "")
        if size not in TEXT_SIZES:
            return HttpResponse("unknown text size", status=400, content_type="text/plain")
        request.session[SESSION_TEXT_SIZE] = size
        if request.headers.get("Accept") == "application/json":
            return HttpResponse(status=204)
        back = request.POST.get("next", "")
        if not (back.startswith(TABLET_PREFIX) and "//" not in back and "\\" not in back):
            back = reverse("tablet:form")
        return redirect(back)
