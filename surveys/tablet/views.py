"""The patient tablet: hand-off, one section per page, review, submit, lock, leave.

Thin HTTP translation over ``surveys.tablet.kiosk`` (writes) and
``surveys.tablet.pages`` (reads). Every patient page renders in the language
pinned on the assessment, never the browser's. Pages work as plain form
posts; ``static/js/tablet.js`` adds saving on every tap through the JSON
answer endpoint, and the service worker (``/tablet/sw.js``) keeps the form
working offline (``docs/tablet.md``).

Every patient page says to the service worker which kiosk session it belongs
to and in what state (``X-Kiosk-Session``, ``X-Kiosk-State``), and whether it
may be kept for offline use (``X-Kiosk-Offline: cache``); the HTTP cache
still gets ``no-store``.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import login, logout
from django.contrib.staticfiles import finders
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache

from surveys.accounts.backends import THROTTLED
from surveys.accounts.forms import LoginForm
from surveys.accounts.roles import CoordinatorRequiredMixin, signed_in, visible_sites
from surveys.models import Actor, AnswerTap, Assessment, KioskSession
from surveys.security.inputs import UnsafeInput, loads_json
from surveys.tablet import pages
from surveys.tablet.answers import AnswerRejected
from surveys.tablet.forms import HandOffForm, PinForm
from surveys.tablet.kiosk import (
    EPOCH_MS_RANGE,
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
    locks_when_idle,
    may_release,
    pin_matches,
    tap_time_from_client,
)
from surveys.tablet.middleware import MODE_KEY, SESSION_KEY, TABLET_PREFIX

SESSION_PAGE = "kiosk_page"
SESSION_PIN_FAILURES = "kiosk_pin_failures"
MAX_PIN_FAILURES = 5
INTRO, REVIEW = pages.INTRO, pages.REVIEW
#: Sent by the service worker when it fetches a page ahead for offline use: no page clock.
PREFETCH_HEADER = "X-Kiosk-Prefetch"
SERVICE_WORKER = "js/tablet-sw.js"


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
        open_in_browser(request, session)
        return redirect("tablet:form")


def open_in_browser(request: HttpRequest, session: KioskSession) -> None:
    """This browser now answers *session*'s form (its mode decides the confinement)."""
    request.session[SESSION_KEY] = session.token
    request.session[MODE_KEY] = session.mode
    request.session.pop(SESSION_PAGE, None)


def close_in_browser(request: HttpRequest) -> None:
    """This (coordinator's) browser no longer answers a form; her login stays."""
    for key in (SESSION_KEY, MODE_KEY, SESSION_PAGE):
        request.session.pop(key, None)


def staff_may_use(request: HttpRequest, kiosk: KioskSession) -> bool:
    """A phone session is used only by a coordinator of her site, signed in; others need none."""
    if kiosk.mode != Assessment.Mode.PHONE:
        return True
    return may_release(request.user, kiosk)


# --------------------------------------------------------------------------- patient pages
def _token(request: HttpRequest) -> str | None:
    return request.session.get(SESSION_KEY)


def _message(
    request: HttpRequest, kind: str, status: int, kiosk: KioskSession | None = None
) -> HttpResponse:
    """A full-page message; for an ended or closed session, what became of its late answers."""
    context: dict[str, Any] = {"kind": kind, "kiosk": kiosk}
    if kiosk is not None and kind in ("ended", "closed"):
        context["assessment"] = kiosk.assessment
        context["idle_seconds"] = settings.KIOSK_IDLE_SECONDS
        context["rendered_at"] = int(timezone.now().timestamp() * 1000)
        context["kept"] = AnswerTap.objects.filter(
            kiosk_session=kiosk, outcome=AnswerTap.Outcome.PRESERVED
        ).count()
    return render(request, "tablet/message.html", context, status=status)


def kiosk_state(kiosk: KioskSession | None, now: Any) -> str:
    """What the service worker is told about this browser's kiosk session."""
    if kiosk is None:
        return "none"
    if not kiosk.is_live:
        return "submitted" if kiosk.end_reason == KioskSession.EndReason.SUBMITTED else "ended"
    if kiosk.locked:
        return "locked"
    if not kiosk.assessment.is_answerable(now):
        return "closed"
    return "live"


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
    #: set by a view that rendered a page the service worker may keep for offline use
    offline_cacheable = False

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        kiosk = kiosk_get(_token(request))
        if kiosk is None or not staff_may_use(request, kiosk):
            missing = _message(request, "missing", status=403)
            missing.headers["X-Kiosk-State"] = "none"
            return missing
        self.kiosk, self.assessment, self.now = kiosk, kiosk.assessment, timezone.now()
        self.prefetch: bool = request.headers.get(PREFETCH_HEADER) == "1"
        language = self.assessment.language
        with translation.override(language):
            response = self.gate(request) or super().dispatch(request, *args, **kwargs)
        response.headers["Content-Language"] = language
        response.headers["X-Kiosk-Session"] = str(kiosk.pk)
        response.headers["X-Kiosk-State"] = kiosk_state(kiosk, self.now)
        if self.offline_cacheable and response.status_code == 200:
            response.headers["X-Kiosk-Offline"] = "cache"
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
        if not self.prefetch:
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

    def show_page(self, request: HttpRequest, code: str) -> None:
        """She is shown page *code* (a page fetched ahead for offline use is not shown)."""
        self.offline_cacheable = True
        if not self.prefetch:
            self.stop_page_clock(request, then_show=code)

    def page_context(self, form: pages.FormView, **extra: Any) -> dict[str, Any]:
        return {
            "kiosk": self.kiosk,
            "assessment": self.assessment,
            "form": form,
            "idle_seconds": settings.KIOSK_IDLE_SECONDS,
            "rendered_at": int(self.now.timestamp() * 1000),
            "offline_urls": [_page_url(code) for code in (INTRO, *form.codes)]
            + [reverse("tablet:offline")],
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
        self.show_page(request, INTRO)
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
    were tapped before the lock), then shows the lock screen. A page posted
    from a tablet whose session has ended, or for an assessment that has
    closed, still delivers its answers (stored, or preserved for the
    coordinator) before saying so: no tapped answer is dropped.
    """

    allow_locked = True

    def gate(self, request: HttpRequest) -> HttpResponseBase | None:
        if request.method == "POST" and (
            not self.kiosk.is_live or not self.assessment.is_answerable(self.now)
        ):
            return None  # post() delivers the answers, then shows the message
        return super().gate(request)

    def get(self, request: HttpRequest, code: str) -> HttpResponseBase:
        if self.kiosk.locked:
            return redirect("tablet:locked")
        form = pages.form_for(self.assessment)
        page = form.page(code)
        if page is None:
            raise Http404("no such section")
        self.show_page(request, code)
        return render(
            request,
            "tablet/section.html",
            self.page_context(
                form,
                page=page,
                scale=pages.response_scale(),
                is_last=code == form.codes[-1],
                next_url=_page_url(form.after(code)),
                back_url=_page_url(form.before(code)),
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
        except AnswerRejected:
            return _message(request, "invalid", status=400, kiosk=self.kiosk)
        if not self.kiosk.is_live:
            if self.kiosk.end_reason == KioskSession.EndReason.SUBMITTED:
                return redirect("tablet:done")
            return _message(request, "ended", status=403, kiosk=self.kiosk)
        if not self.assessment.is_answerable(self.now):
            return _message(request, "closed", status=409, kiosk=self.kiosk)
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
        shown = request.POST.get(f"{item.code}_shown")
        if shown is not None and shown == ("declined" if declined else raw):
            # As the page showed it: not tapped on this visit. Another tablet may have
            # stored a later answer meanwhile, which an untouched field must not undo.
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
    """The review: what is still empty, and the send button (never kept for offline use)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        form = pages.form_for(self.assessment)
        if not self.prefetch:
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
        page = render(request, "tablet/done.html", {"kiosk": self.kiosk})
        if self.kiosk.mode == Assessment.Mode.PHONE:
            close_in_browser(request)  # the coordinator's screen is hers again
        return page


class LockView(KioskView):
    """POST from the tablet's idle timer (after its answers were sent)."""

    allow_locked = True

    def post(self, request: HttpRequest) -> HttpResponseBase:
        if not locks_when_idle(self.kiosk):
            return redirect("tablet:form")
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
        login_form: LoginForm | None = None,
        status: int = 200,
    ) -> HttpResponse:
        return render(
            request,
            "tablet/exit.html",
            {
                "kiosk": self.kiosk,
                "assessment": self.assessment,
                "idle_seconds": settings.KIOSK_IDLE_SECONDS,
                "rendered_at": int(self.now.timestamp() * 1000),
                "pin_form": pin_form or PinForm(),
                "login_form": login_form or LoginForm(request),
                "pin_blocked": _pin_failures(request) >= MAX_PIN_FAILURES,
                "can_return": self.kiosk.is_live and not self.kiosk.locked,
            },
            status=status,
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render_exit(request)

    def post(self, request: HttpRequest) -> HttpResponseBase:
        participant_url = reverse("coordinator:participant", args=[self.assessment.participant_id])
        if self.kiosk.mode == Assessment.Mode.HOME:
            return self.render_exit(request, status=405)  # nothing to take back at home
        if self.kiosk.mode == Assessment.Mode.PHONE:
            # dispatch() checked she is a coordinator of the participant's site
            if self.kiosk.is_live:
                if not self.kiosk.locked:
                    self.stop_page_clock(request)
                kiosk_end(
                    self.kiosk,
                    now=self.now,
                    actor=request.user,
                    reason="phone session stopped by the coordinator",
                )
            close_in_browser(request)
            return redirect(participant_url)
        if request.POST.get("method") == "login":
            login_form = LoginForm(request, data=request.POST)
            if not login_form.is_valid():
                verdict = getattr(request, THROTTLED, None)  # the login throttle said wait
                if verdict is not None:
                    login_form.add_error(None, verdict.message())
                    return self.render_exit(request, login_form=login_form, status=429)
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


def _epoch_ms(body: dict[str, Any], name: str) -> float | None:
    """An optional instant in milliseconds since the epoch; ValueError when it is not one."""
    raw = body.get(name)
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise ValueError(f"'{name}' must be milliseconds since 1970-01-01 (a number)")
    low, high = EPOCH_MS_RANGE
    if not low <= raw <= high:
        raise ValueError(f"'{name}' is not a plausible time (milliseconds since 1970-01-01)")
    return float(raw)


def _ms(value: Any) -> int | None:
    return int(value.timestamp() * 1000) if value is not None else None


@method_decorator(never_cache, name="dispatch")
class AnswerView(View):
    """``POST /tablet/answer/``: one tapped answer from the tablet's queue.

    Body: ``{"assessment", "item", "value", "declined", "key", "tapped_at", "sent_at"}``
    (times in milliseconds since the epoch on the tablet's clock; see
    ``surveys.tablet.kiosk.tap_time_from_client``).

    200 what the form now holds for the item, and what this answer did
    (``stored``: created, changed, unchanged, older), with ``session``: live
    or ended (an ended session may deliver its queue, nothing more); 409
    ``status`` with ``preserved: true`` when the assessment takes no more
    answers and this one was kept for the coordinator; 409 ``key_conflict``
    for an idempotency key already used for another answer (nothing stored);
    400 a bad request, value or item (and JSON that is too deep or holds a NUL:
    :func:`~surveys.security.inputs.loads_json`); 413 a body over 64 KiB; 403
    no kiosk session or one for another assessment (nothing stored). The
    tablet removes an answer from its queue on 200 or a 409 ``preserved``,
    never otherwise.
    """

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> JsonResponse:
        token = _token(request)
        if not token:
            return _json_error("no questionnaire is open on this tablet", "kiosk_missing", 403)
        if request.session.get(MODE_KEY) == Assessment.Mode.PHONE:
            kiosk = kiosk_get(token)
            if kiosk is None or not staff_may_use(request, kiosk):
                return _json_error("sign in as a coordinator of her site", "kiosk_missing", 403)
        if request.content_type != "application/json":
            return _json_error("send the answer as JSON (application/json)", "malformed", 400)
        try:
            body = loads_json(request.body or b"")
        except UnsafeInput as exc:  # not JSON, too large, too deep, NUL or a lone surrogate
            return _json_error(exc.message, exc.code, exc.status)
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
            tapped_ms, sent_ms = _epoch_ms(body, "tapped_at"), _epoch_ms(body, "sent_at")
        except ValueError as exc:
            return _json_error(str(exc), "malformed", 400)
        now = timezone.now()
        try:
            result = kiosk_answer(
                token=token,
                assessment_id=assessment_id,
                item_code=item,
                value=body.get("value"),
                declined=declined,
                idempotency_key=key,
                tapped_at=tap_time_from_client(tapped_ms, sent_ms, now=now),
                now=now,
            )
        except KioskDenied as exc:
            return _json_error(exc.message, exc.code, 403)
        except AnswerRejected as exc:
            status = 409 if exc.code in ("status", "key_conflict") else 400
            return _json_error(exc.messages[0], exc.code or "invalid", status)
        tap = result.tap
        if result.replay:  # the first delivery's row: ask about the session as it is now
            kiosk = kiosk_get(token)
            live = kiosk is not None and kiosk.is_live
        else:
            live = not tap.from_ended_session
        response = result.response
        current = {
            "item": tap.item_code,
            "value": response.value if response else None,
            "declined": response.declined if response else False,
            "answered": response is not None,
            "tapped_at": _ms(response.tapped_at or response.saved_at) if response else None,
            "revision": response.revision if response else 0,
            "session": "live" if live else "ended",
            "replay": result.replay,
        }
        if result.preserved:
            return JsonResponse(
                {
                    "ok": False,
                    "code": "status",
                    "error": f"this assessment is {tap.assessment.get_status_display().lower()}"
                    " and takes no answers; the answer was kept for the coordinator "
                    f"({tap.get_closed_reason_display().lower()})",
                    "preserved": True,
                    "reason": tap.closed_reason,
                    **current,
                },
                status=409,
            )
        stored = tap.outcome if not result.replay else "unchanged"
        return JsonResponse({"ok": True, "stored": stored, **current})


@method_decorator(never_cache, name="dispatch")
class OfflineView(View):
    """``GET /tablet/offline/``: the page the service worker shows for a page it cannot reach.

    Kept by the service worker (in the patient's language when a kiosk session
    is live, otherwise in the browser's), and served whenever the network is
    down and it has no copy of the page asked for (the review, the lock
    screen): never the browser's own error page. It shows no answer.
    """

    def get(self, request: HttpRequest) -> HttpResponse:
        kiosk = kiosk_get(_token(request))
        now = timezone.now()
        language = kiosk.assessment.language if kiosk else translation.get_language()
        with translation.override(language):
            response = render(
                request,
                "tablet/offline.html",
                {
                    "kiosk": kiosk,
                    "assessment": kiosk.assessment if kiosk else None,
                    "idle_seconds": settings.KIOSK_IDLE_SECONDS,
                    "rendered_at": int(now.timestamp() * 1000),
                    "offline_urls": [],
                },
            )
        response.headers["Content-Language"] = language
        response.headers["X-Kiosk-State"] = kiosk_state(kiosk, now)
        if kiosk is not None:
            response.headers["X-Kiosk-Session"] = str(kiosk.pk)
        response.headers["X-Kiosk-Offline"] = "cache"
        return response


def _service_worker_source() -> bytes:
    """The service worker's script, led by a version derived from the tablet's assets.

    A new deployment changes the bytes, so browsers install the new worker,
    which drops the caches of the old one.
    """
    parts = []
    for name in (SERVICE_WORKER, "js/tablet.js", "css/tablet.css"):
        found = finders.find(name)
        if not found:
            raise Http404(f"{name} is missing")
        parts.append(Path(str(found)).read_bytes())
    version = hashlib.sha256(b"\0".join(parts)).hexdigest()[:16]
    return f'self.ECOGPROM_TABLET_VERSION = "{version}";\n'.encode() + parts[0]


def service_worker(request: HttpRequest) -> HttpResponse:
    """``GET /tablet/sw.js``: the tablet's service worker, whose scope is ``/tablet/``.

    Served from here rather than ``/static/`` because a worker controls only
    the pages under its own URL's folder.
    """
    response = HttpResponse(_service_worker_source(), content_type="text/javascript; charset=utf-8")
    response.headers["Service-Worker-Allowed"] = "/tablet/"
    return response


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
