"""Coordinator workspace: worklist, status grid, participants, missed reasons, off study,
corrections of answers, compliance, the audit log."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch, QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from surveys import instrumentation
from surveys.accounts.roles import CoordinatorRequiredMixin, signed_in, visible_sites
from surveys.coordinator import selectors
from surveys.coordinator.audit_log import (
    AuditFilters,
    audit_events,
    audit_log_export,
    audit_rows,
    csv_rows,
)
from surveys.coordinator.forms import (
    AuditSearchForm,
    CorrectionForm,
    CorrectRandomizationForm,
    MissedReasonForm,
    OffStudyForm,
    RandomizeForm,
    ReasonForm,
)
from surveys.coordinator.grid import GRID_STATUS_FILTERS, GridFilters, status_grid
from surveys.home.calls import contact_attempts_subquery
from surveys.home.selectors import home_access_of, live_links_subquery
from surveys.models import (
    Arm,
    Assessment,
    AuditEvent,
    Participant,
    Response,
    ResponseCorrection,
    ScoreRevision,
    Site,
    Trial,
    Visit,
)
from surveys.outreach.selectors import contact_summary, messages_of
from surveys.tablet.answers import AnswerRejected, correction_reason, response_correct
from surveys.trial.assessments import assessment_submit_as_answered, submit_as_answered_problem
from surveys.trial.audit import answer_label
from surveys.trial.compliance import (
    COLUMNS,
    GROUPINGS,
    bucket_label,
    compliance_table,
    link_filters,
)
from surveys.trial.csvfile import csv_lines, csv_writer
from surveys.trial.participants import (
    Plan,
    PlanChanged,
    assessment_record_missed_reason,
    off_study_plan,
    off_study_problems,
    participant_correct_randomization,
    participant_go_off_study,
    participant_randomize,
    participant_undo_off_study,
    participant_view_record,
    randomization_plan,
    undo_off_study_plan,
)
from surveys.trial.scores import AUDITED_SCORES, answers_of, score_values

PAGE_SIZE = 50


class CoordinatorView(CoordinatorRequiredMixin, View):
    """Base: every query is limited to the coordinator's own sites."""

    def sites(self) -> QuerySet[Site]:
        return visible_sites(self.request.user)

    def my_participant(self, pk: int) -> Participant:
        """Her participant, or 404 (never 403: another site's ids are not disclosed)."""
        return get_object_or_404(selectors.participants_for_sites(self.sites()), pk=pk)

    def my_assessment(self, pk: int) -> Assessment:
        """An assessment of her sites, or 404."""
        return get_object_or_404(
            Assessment.objects.filter(participant__site__in=self.sites()).select_related(
                "participant__site", "visit"
            ),
            pk=pk,
        )

    def participant_page(
        self, request: HttpRequest, participant: Participant, status: int = 200, **forms: Any
    ) -> HttpResponse:
        detail = ParticipantDetailView()
        detail.request = request
        return detail.render_page(request, participant, status=status, **forms)


def _errors_onto(form: Any, exc: ValidationError) -> None:
    """A service's ValidationError shown on the form (field errors where the form has the field)."""
    if hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _plan_page(
    request: HttpRequest,
    template: str,
    *,
    participant: Participant,
    plan: Plan,
    form: Any,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    """A confirmation page: what the change would do, and the form that confirms it."""
    return render(
        request,
        template,
        {
            "participant": participant,
            "plan": plan,
            "form": form,
            "fingerprint": plan.fingerprint(),
            **extra,
        },
        status=status,
    )


def _filter_choices(sites: QuerySet[Site]) -> dict[str, Any]:
    return {
        "site_choices": list(sites.values_list("code", "name")),
        "visit_choices": list(
            Visit.objects.order_by("number").values_list("code", "label").distinct()
        ),
        "arm_choices": list(Arm.objects.order_by("code").values_list("code", "label").distinct()),
        "status_choices": Assessment.Status.choices,
    }


def query_with(params: QueryDict, **changes: str | None) -> str:
    """*params* as a query string with *changes* (None or "" removes a key); page reset."""
    query = params.copy()
    query.pop("page", None)
    for key, value in changes.items():
        query.pop(key, None)
        if value:
            query[key] = value
    return query.urlencode()


def sort_headers(params: QueryDict, columns: Any, current: str) -> list[dict[str, Any]]:
    """Column headers with their sort link, arrow and ``aria-sort`` (the first click ascends)."""
    headers = []
    for column in columns:
        header: dict[str, Any] = {"column": column, "aria_sort": "", "arrow": "", "url": ""}
        if column.sort:
            active = current.lstrip("-") == column.sort
            descending = current.startswith("-")
            if active:
                header["aria_sort"] = "descending" if descending else "ascending"
                header["arrow"] = "▼" if descending else "▲"
            following = f"-{column.sort}" if active and not descending else column.sort
            header["url"] = "?" + query_with(params, sort=following)
            header["next"] = "descending" if following.startswith("-") else "ascending"
        headers.append(header)
    return headers


class WorklistView(CoordinatorView):
    FILTERS = ("view", "site", "visit", "arm", "status", "q", "bucket", "sort")

    def get(self, request: HttpRequest) -> HttpResponse:
        now = timezone.now()
        filters = selectors.WorklistFilters(
            **{key: request.GET.get(key, "").strip()[:64] for key in self.FILTERS}
        )
        sites = self.sites()
        qs = selectors.worklist(sites=sites, now=now, filters=filters)
        page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
        counts = selectors.worklist_counts(sites=sites, now=now)
        tab = filters.tab
        tabs = [
            {
                "tab": t,
                "count": counts[t.key],
                "current": t.key == tab.key,
                "url": "?" + query_with(request.GET, view=t.key, sort=None),
            }
            for t in selectors.WORKLIST_TABS
        ]
        bucket = None
        if filters.bucket:
            bucket = {
                "label": bucket_label(filters.bucket),
                "clear": "?" + query_with(request.GET, bucket=None),
            }
        return render(
            request,
            "coordinator/worklist.html",
            {
                "now": now,
                "view": tab.key,
                "tab": tab,
                "tabs": tabs,
                "page": page,
                "rows": selectors.worklist_rows(list(page.object_list), now),
                "params": filters,
                "headers": sort_headers(request.GET, selectors.WORKLIST_COLUMNS, filters.order),
                "bucket": bucket,
                "here": request.get_full_path(),
                "missed_form": MissedReasonForm(),
                **_filter_choices(sites),
            },
        )


class GridView(CoordinatorView):
    """The status grid: her participants × visits, filtered, searched, sorted, paged."""

    FILTERS = ("site", "arm", "status", "study", "q", "sort")
    COLUMNS = (
        selectors.SortColumn("Study id", "study_id"),
        selectors.SortColumn("Site", "site"),
        selectors.SortColumn("Arm", "arm"),
        selectors.SortColumn("Randomized", "randomized"),
    )

    def get(self, request: HttpRequest) -> HttpResponse:
        now = timezone.now()
        values = {key: request.GET.get(key, "").strip()[:64] for key in self.FILTERS}
        filters = GridFilters(**values)
        sites = self.sites()
        grid = status_grid(sites=sites, now=now, filters=filters, page=request.GET.get("page"))
        return render(
            request,
            "coordinator/grid.html",
            {
                "now": now,
                "grid": grid,
                "page": grid.page,
                "params": filters,
                "headers": sort_headers(request.GET, self.COLUMNS, filters.order),
                "urgent": sort_headers(
                    request.GET,
                    [selectors.SortColumn("Soonest closing first", "urgent")],
                    filters.order,
                )[0],
                "status_filters": GRID_STATUS_FILTERS,
                "colspan": len(self.COLUMNS) + len(grid.visits),
                **_filter_choices(sites),
            },
        )


class ParticipantListView(CoordinatorView):
    def get(self, request: HttpRequest) -> HttpResponse:
        qs = selectors.participants_for_sites(self.sites())
        search = request.GET.get("q", "").strip()
        if search:
            qs = qs.filter(study_id__icontains=search)
        site = request.GET.get("site", "")
        if site:
            qs = qs.filter(site__code=site)
        arm = request.GET.get("arm", "")
        if arm:
            qs = qs.filter(arm__code=arm)
        page = Paginator(qs.order_by("study_id"), PAGE_SIZE).get_page(request.GET.get("page"))
        return render(
            request,
            "coordinator/participants.html",
            {
                "page": page,
                "q": search,
                "site": site,
                "arm": arm,
                **_filter_choices(self.sites()),
            },
        )


class RandomizeView(CoordinatorView):
    def form(self, data: Any = None) -> RandomizeForm | None:
        """The registration form of the (first) trial; None before any trial is set up."""
        trial = Trial.objects.order_by("pk").first()
        if trial is None:
            return None
        return RandomizeForm(data, trial=trial, sites=self.sites())

    def no_trial(self, request: HttpRequest) -> HttpResponse:
        """409, not a server error: registering needs a trial that an administrator sets up."""
        return render(request, "coordinator/randomize.html", {"form": None}, status=409)

    def get(self, request: HttpRequest) -> HttpResponse:
        form = self.form()
        if form is None:
            return self.no_trial(request)
        return render(request, "coordinator/randomize.html", {"form": form})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = self.form(request.POST)
        if form is None:
            return self.no_trial(request)
        if not form.is_valid():
            return render(request, "coordinator/randomize.html", {"form": form}, status=400)
        data = form.cleaned_data
        try:
            participant = participant_randomize(
                trial=form.trial,
                study_id=data["study_id"],
                site=data["site"],
                arm=data["arm"],
                randomized_on=data["randomized_on"],
                language=data["language"],
                actor=request.user,
                now=timezone.now(),
            )
        except ValidationError as exc:  # e.g. the same study id registered at the same moment
            _errors_onto(form, exc)
            return render(request, "coordinator/randomize.html", {"form": form}, status=400)
        messages.success(
            request, f"{participant.study_id} registered; her assessments are scheduled."
        )
        return redirect("coordinator:participant", pk=participant.pk)


class ParticipantDetailView(CoordinatorView):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        participant = self.my_participant(pk)
        participant_view_record(participant=participant, actor=request.user, via="page")
        return self.render_page(request, participant)

    def render_page(
        self, request: HttpRequest, participant: Participant, status: int = 200, **forms: Any
    ) -> HttpResponse:
        now = timezone.now()
        assessments = list(
            participant.assessments.select_related(
                "visit", "score", "missed_reason_by", "submitted_by", "phone_staff"
            )
            .prefetch_related(Prefetch("kiosk_sessions"))
            .annotate(
                answered=selectors.answered_subquery(),
                live_links=live_links_subquery(),
                contact_attempts=contact_attempts_subquery(),
            )
            .order_by("visit__number")
        )
        tz = participant.site.tzinfo
        for assessment in assessments:
            # what the page shows of each form: urgency and progress
            assessment.overdue = assessment.is_overdue(now)  # type: ignore[attr-defined]
            assessment.days_left_now = assessment.days_left(now, tz)  # type: ignore[attr-defined]
            assessment.answered_now = assessment.answered or 0  # type: ignore[attr-defined]
            assessment.items_now = len(  # type: ignore[attr-defined]
                instrumentation.items(assessment.instrument_version)
            )
        events = audit_rows(
            AuditEvent.objects.filter(participant=participant)
            .select_related("assessment__visit", "participant__site", "site")
            .order_by("-at", "-id")
        )
        return render(
            request,
            "coordinator/participant.html",
            {
                "participant": participant,
                "assessments": assessments,
                "events": events,
                "preserved_answers": selectors.preserved_answers(participant),
                "home_access": home_access_of(participant),
                "contact": contact_summary(participant),
                "reminders": list(messages_of(participant).order_by("-created_at", "-id")),
                "now": now,
                "missed_form": forms.get("missed_form") or MissedReasonForm(),
                "missed_form_for": forms.get("missed_form_for"),
                "off_study_form": forms.get("off_study_form") or OffStudyForm(),
            },
            status=status,
        )


class MissedReasonView(CoordinatorView):
    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        assessment = self.my_assessment(pk)
        form = MissedReasonForm(request.POST)
        if form.is_valid():
            try:
                assessment_record_missed_reason(
                    assessment=assessment,
                    reason=form.cleaned_data["reason"],
                    text=form.cleaned_data["text"],
                    actor=signed_in(request.user),
                    now=timezone.now(),
                )
            except ValidationError as exc:
                messages.error(request, "; ".join(exc.messages))
            else:
                messages.success(
                    request,
                    f"Reason recorded for {assessment.participant.study_id}, "
                    f"{assessment.visit.label}.",
                )
                back = request.POST.get("next", "")
                if back and url_has_allowed_host_and_scheme(
                    back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
                ):
                    return redirect(back)
                return redirect("coordinator:participant", pk=assessment.participant_id)
        return self.participant_page(
            request,
            assessment.participant,
            status=400,
            missed_form=form,
            missed_form_for=assessment.pk,
        )


class OffStudyView(CoordinatorView):
    """Two steps: the form posts here; a confirmation page lists what will change; confirmed."""

    template = "coordinator/off_study_confirm.html"

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        participant = self.my_participant(pk)
        form = OffStudyForm(request.POST)
        if not form.is_valid():
            return self.participant_page(request, participant, status=400, off_study_form=form)
        data = form.cleaned_data
        now = timezone.now()
        problems = off_study_problems(
            participant=participant,
            off_study_on=data["off_study_on"],
            reason=data["reason"],
            note=data["note"],
            now=now,
        )
        if problems:
            if not participant.on_study:  # her page shows no off-study form any more
                messages.error(request, problems.pop("__all__"))
            _errors_onto(form, ValidationError(problems))
            return self.participant_page(request, participant, status=400, off_study_form=form)
        if not data["confirm"]:
            plan = off_study_plan(participant=participant, off_study_on=data["off_study_on"])
            return _plan_page(request, self.template, participant=participant, plan=plan, form=form)
        try:
            counts = participant_go_off_study(
                participant=participant,
                off_study_on=data["off_study_on"],
                reason=data["reason"],
                note=data["note"],
                actor=signed_in(request.user),
                now=now,
                expected_plan=data["confirm"],
            )
        except PlanChanged as exc:
            plan = off_study_plan(participant=participant, off_study_on=data["off_study_on"])
            return _plan_page(
                request,
                self.template,
                participant=participant,
                plan=plan,
                form=form,
                status=409,
                changed=exc.messages,
            )
        except ValidationError as exc:
            _errors_onto(form, exc)
            return self.participant_page(request, participant, status=400, off_study_form=form)
        ended = counts.pop("sessions_ended", 0)
        moved = ", ".join(
            f"{n} {Assessment.Status(status).label.lower()}" for status, n in counts.items() if n
        )
        messages.success(
            request,
            f"{participant.study_id} is off study; her forms: {moved or 'none changed'}"
            + (f"; {ended} tablet session ended." if ended else "."),
        )
        return redirect("coordinator:participant", pk=participant.pk)


class UndoOffStudyView(CoordinatorView):
    """Undo a wrong off-study record: what changes, a required reason, then it's done."""

    template = "coordinator/off_study_undo.html"

    def form(self, data: Any = None) -> ReasonForm:
        return ReasonForm(data, label="Why the off-study record is wrong")

    def get(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        participant = self.my_participant(pk)
        if participant.on_study:
            messages.error(request, f"{participant.study_id} is on study: nothing to undo.")
            return redirect("coordinator:participant", pk=participant.pk)
        plan = undo_off_study_plan(participant=participant, now=timezone.now())
        return _plan_page(
            request, self.template, participant=participant, plan=plan, form=self.form()
        )

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        participant = self.my_participant(pk)
        now = timezone.now()
        form = self.form(request.POST)
        if form.is_valid():
            try:
                counts = participant_undo_off_study(
                    participant=participant,
                    reason=form.cleaned_data["reason"],
                    actor=signed_in(request.user),
                    now=now,
                    expected_plan=form.cleaned_data["confirm"] or None,
                )
            except PlanChanged as exc:
                plan = undo_off_study_plan(participant=participant, now=now)
                return _plan_page(
                    request,
                    self.template,
                    participant=participant,
                    plan=plan,
                    form=form,
                    status=409,
                    changed=exc.messages,
                )
            except ValidationError as exc:
                _errors_onto(form, exc)
            else:
                counts.pop("sessions_ended", None)
                restored = ", ".join(
                    f"{n} {Assessment.Status(status).label.lower()}"
                    for status, n in counts.items()
                    if n
                )
                messages.success(
                    request,
                    f"{participant.study_id} is on study again; her forms: "
                    f"{restored or 'none changed'}.",
                )
                return redirect("coordinator:participant", pk=participant.pk)
        plan = undo_off_study_plan(participant=participant, now=now)
        return _plan_page(
            request, self.template, participant=participant, plan=plan, form=form, status=400
        )


class CorrectRandomizationView(CoordinatorView):
    """Correct her randomization date: the date and why, what changes, then it's done."""

    template = "coordinator/randomization_correct.html"

    def get(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        participant = self.my_participant(pk)
        form = CorrectRandomizationForm(participant=participant)
        return render(request, self.template, {"participant": participant, "form": form})

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        participant = self.my_participant(pk)
        form = CorrectRandomizationForm(request.POST, participant=participant)
        now = timezone.now()
        if not form.is_valid():
            return render(
                request, self.template, {"participant": participant, "form": form}, status=400
            )
        data = form.cleaned_data

        def confirmation(status: int = 200, **extra: Any) -> HttpResponse:
            plan = randomization_plan(
                participant=participant, randomized_on=data["randomized_on"], now=now
            )
            return _plan_page(
                request,
                self.template,
                participant=participant,
                plan=plan,
                form=form,
                status=status,
                confirming=True,
                **extra,
            )

        if not data["confirm"]:
            if data["randomized_on"] == participant.randomized_on:
                form.add_error("randomized_on", "This is already her randomization date.")
                return render(
                    request, self.template, {"participant": participant, "form": form}, status=400
                )
            return confirmation()
        try:
            counts = participant_correct_randomization(
                participant=participant,
                randomized_on=data["randomized_on"],
                reason=data["reason"],
                actor=signed_in(request.user),
                now=now,
                expected_plan=data["confirm"],
            )
        except PlanChanged as exc:
            return confirmation(status=409, changed=exc.messages)
        except ValidationError as exc:
            _errors_onto(form, exc)
            return render(
                request, self.template, {"participant": participant, "form": form}, status=400
            )
        messages.success(
            request,
            f"Randomization date of {participant.study_id} corrected to "
            f"{data['randomized_on']:%Y-%m-%d}; {counts['windows_moved']} window(s) recomputed.",
        )
        return redirect("coordinator:participant", pk=participant.pk)


class SubmitAsAnsweredView(CoordinatorView):
    """Submit a started form with the answers she gave (reason required)."""

    template = "coordinator/submit_as_answered.html"

    def page(
        self, request: HttpRequest, assessment: Assessment, form: ReasonForm, status: int = 200
    ) -> HttpResponse:
        items = instrumentation.items(assessment.instrument_version)
        answered = assessment.responses.filter(value__isnull=False).count()
        return render(
            request,
            self.template,
            {
                "assessment": assessment,
                "participant": assessment.participant,
                "form": form,
                "answered": answered,
                "items": len(items),
            },
            status=status,
        )

    def form(self, data: Any = None) -> ReasonForm:
        return ReasonForm(data, label="Why she could not submit it herself")

    def get(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        assessment = self.my_assessment(pk)
        if problem := submit_as_answered_problem(assessment, timezone.now()):
            messages.error(request, f"{assessment.visit.label}: {problem}.")
            return redirect("coordinator:participant", pk=assessment.participant_id)
        return self.page(request, assessment, self.form())

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        assessment = self.my_assessment(pk)
        form = self.form(request.POST)
        if form.is_valid():
            try:
                assessment_submit_as_answered(
                    assessment=assessment,
                    reason=form.cleaned_data["reason"],
                    actor=signed_in(request.user),
                    now=timezone.now(),
                )
            except ValidationError as exc:
                _errors_onto(form, exc)
            else:
                messages.success(
                    request, f"{assessment.visit.label} submitted with the answers she gave."
                )
                return redirect("coordinator:participant", pk=assessment.participant_id)
        return self.page(request, assessment, form, status=400)


class ComplianceView(CoordinatorView):
    """Expected vs received per visit × arm, site or both, with totals; every count a link."""

    def get(self, request: HttpRequest) -> HttpResponseBase:
        now = timezone.now()
        by = request.GET.get("by", "arm")
        if by not in GROUPINGS:
            by = "arm"
        rows = compliance_table(sites=self.sites(), now=now, by=by, totals=True)
        if request.GET.get("format") == "csv":
            return self.csv(rows, by, now)
        worklist = reverse("coordinator:worklist")
        lines = []
        for row in rows:
            filters = link_filters(row)
            cells = []
            for column in COLUMNS:
                value = row.value(column)
                url = ""
                if column.kind == "count" and value:
                    query = QueryDict(mutable=True)
                    query.update({"view": "all", **filters, "bucket": column.key})
                    url = f"{worklist}?{query.urlencode()}"
                cells.append({"column": column, "value": value, "url": url})
            lines.append({"row": row, "cells": cells})
        groups: list[dict[str, Any]] = []
        for column in COLUMNS:
            if groups and column.group and groups[-1]["label"] == column.group:
                groups[-1]["span"] += 1
            else:
                groups.append({"label": column.group, "span": 1, "column": column})
        return render(
            request,
            "coordinator/compliance.html",
            {
                "lines": lines,
                "rows": rows,
                "by": by,
                "groupings": GROUPINGS,
                "columns": COLUMNS,
                "groups": groups,
                "show_arm": by in ("arm", "arm_site"),
                "show_site": by in ("site", "arm_site"),
                "now": now,
            },
        )

    def csv(self, rows: list[Any], by: str, now: Any) -> HttpResponse:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="compliance_by_{by}_{now:%Y%m%d}.csv"'
        )
        writer = csv_writer(response)
        keys = ["visit", "group", "arm", "site", "level", *(c.key for c in COLUMNS), "not_expected"]
        writer.writerow(keys)
        for row in rows:
            data = row.as_dict()
            writer.writerow([data[key] for key in keys])
        return response


class AuditLogView(CoordinatorView):
    """Her sites' audit trail: search by participant, user, action and dates; CSV export."""

    def get(self, request: HttpRequest) -> HttpResponseBase:
        sites = self.sites()
        site_list = list(sites)
        form = AuditSearchForm(request.GET or None, sites=site_list)
        if request.GET and not form.is_valid():
            return render(
                request,
                "coordinator/audit_log.html",
                {"form": form, "page": None, "rows": []},
                status=400,
            )
        data = form.cleaned_data if form.is_bound else {}
        filters = AuditFilters(
            site=data.get("site") or "",
            participant=data.get("participant") or "",
            user=data.get("user") or "",
            action=data.get("action") or "",
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
        )
        if request.GET.get("format") == "csv":
            events, count = audit_log_export(
                sites=sites, filters=filters, actor=signed_in(request.user), now=timezone.now()
            )
            response = StreamingHttpResponse(
                csv_lines(csv_rows(events)), content_type="text/csv; charset=utf-8"
            )
            response["Content-Disposition"] = (
                f'attachment; filename="audit_log_{timezone.localdate():%Y%m%d}.csv"'
            )
            response["X-Rows"] = str(count)
            return response
        events = audit_events(sites=sites, filters=filters)
        page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
        return render(
            request,
            "coordinator/audit_log.html",
            {
                "form": form,
                "page": page,
                "rows": audit_rows(page.object_list),
                "csv_query": query_with(request.GET, format="csv"),
                "filtered": bool(filters.as_dict()),
            },
        )


# --------------------------------------------------------------------------- corrections


def _item_or_404(assessment: Assessment, code: str) -> Any:
    item = instrumentation.items(assessment.instrument_version).get(code)
    if item is None:
        raise Http404("not an item of this form")
    return item


class AnswersView(CoordinatorView):
    """The answers of her completed form, each with its corrections, and the score history."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        assessment = self.my_assessment(pk)
        if assessment.status != Assessment.Status.COMPLETED:
            messages.error(
                request,
                f"{assessment.visit.label}: only the answers of a completed form are corrected "
                f"(this one is {assessment.get_status_display().lower()}).",
            )
            return redirect("coordinator:participant", pk=assessment.participant_id)
        responses = {
            r.item_code: r
            for r in Response.objects.filter(assessment=assessment).prefetch_related(
                Prefetch(
                    "corrections",
                    queryset=ResponseCorrection.objects.select_related("corrected_by"),
                )
            )
        }
        sections = []
        for section in instrumentation.sections(assessment.instrument_version):
            items = instrumentation.items(assessment.instrument_version)
            lines = []
            for number, code in enumerate(section.items, start=1):
                response = responses.get(code)
                lines.append(
                    {
                        "code": code,
                        "number": number,
                        "label": items[code].label_en,
                        "answer": answer_label(
                            response.value if response else None,
                            response.declined if response else False,
                        ),
                        "corrections": list(response.corrections.all()) if response else [],
                    }
                )
            sections.append({"title": section.title_en, "code": section.code, "items": lines})
        score = getattr(assessment, "score", None)
        revisions = list(
            ScoreRevision.objects.filter(assessment=assessment)
            .select_related("superseded_by__response", "superseded_by__corrected_by")
            .order_by("-superseded_at", "-id")
        )
        return render(
            request,
            "coordinator/answers.html",
            {
                "assessment": assessment,
                "participant": assessment.participant,
                "sections": sections,
                "score": score,
                "revisions": revisions,
                "score_names": [name.upper() for name in AUDITED_SCORES],
                "score_fields": AUDITED_SCORES,
            },
        )


class CorrectAnswerView(CoordinatorView):
    """Correct one answer of her completed form: the new answer and why, what changes, done."""

    template = "coordinator/correct_answer.html"

    def setup_form(self, pk: int, code: str) -> tuple[Assessment, Any, Response | None]:
        assessment = self.my_assessment(pk)
        item = _item_or_404(assessment, code)
        response = Response.objects.filter(assessment=assessment, item_code=code).first()
        return assessment, item, response

    def page(
        self,
        request: HttpRequest,
        assessment: Assessment,
        item: Any,
        response: Response | None,
        form: CorrectionForm,
        *,
        status: int = 200,
        confirming: bool = False,
        **extra: Any,
    ) -> HttpResponse:
        context: dict[str, Any] = {
            "assessment": assessment,
            "participant": assessment.participant,
            "item": item,
            "current": answer_label(
                response.value if response else None, response.declined if response else False
            ),
            "form": form,
            "confirming": confirming,
            "revision": response.revision if response else 0,
            **extra,
        }
        if confirming:
            value, declined = form.answer()
            answers = answers_of(assessment)
            before = score_values(answers, timezone.now())
            answers[item.code] = value
            after = score_values(answers, timezone.now())
            context["new"] = answer_label(value, declined)
            context["reason"] = correction_reason(
                form.cleaned_data["reason_code"], form.cleaned_data["reason_text"]
            )
            context["scores"] = [
                {
                    "name": name.upper(),
                    "before": before[name],
                    "after": after[name],
                    "changes": before[name] != after[name],
                }
                for name in AUDITED_SCORES
            ]
        return render(request, self.template, context, status=status)

    def refuse_unless_completed(self, request: HttpRequest, assessment: Assessment) -> bool:
        if assessment.status == Assessment.Status.COMPLETED:
            return False
        messages.error(
            request,
            f"{assessment.visit.label}: only the answers of a completed form are corrected.",
        )
        return True

    def get(self, request: HttpRequest, pk: int, code: str) -> HttpResponseBase:
        assessment, item, response = self.setup_form(pk, code)
        if self.refuse_unless_completed(request, assessment):
            return redirect("coordinator:participant", pk=assessment.participant_id)
        form = CorrectionForm(optional=item.optional)
        return self.page(request, assessment, item, response, form)

    def post(self, request: HttpRequest, pk: int, code: str) -> HttpResponseBase:
        assessment, item, response = self.setup_form(pk, code)
        form = CorrectionForm(request.POST, optional=item.optional)
        if self.refuse_unless_completed(request, assessment):
            return self.page(request, assessment, item, response, form, status=409)
        if not form.is_valid():
            return self.page(request, assessment, item, response, form, status=400)
        value, declined = form.answer()
        current = (response.value, response.declined) if response else (None, False)
        if current == (value, declined):
            form.add_error("value", "This is already the answer on record.")
            return self.page(request, assessment, item, response, form, status=400)
        if not form.cleaned_data["confirm"]:
            return self.page(request, assessment, item, response, form, confirming=True)
        try:
            correction = response_correct(
                assessment_id=assessment.pk,
                item_code=item.code,
                value=value,
                declined=declined,
                reason_code=form.cleaned_data["reason_code"],
                reason_text=form.cleaned_data["reason_text"],
                actor=signed_in(request.user),
                now=timezone.now(),
                expected_revision=int(form.cleaned_data["confirm"]),
            )
        except AnswerRejected as exc:
            response = Response.objects.filter(assessment=assessment, item_code=code).first()
            if getattr(exc, "code", None) == "changed":
                return self.page(
                    request,
                    assessment,
                    item,
                    response,
                    form,
                    status=409,
                    confirming=True,
                    changed=exc.messages,
                )
            _errors_onto(form, exc)
            return self.page(request, assessment, item, response, form, status=400)
        messages.success(
            request,
            f"{item.code} corrected: {answer_label(correction.old_value, correction.old_declined)}"
            f" → {answer_label(correction.new_value, correction.new_declined)}. "
            "Scores recomputed; the previous ones are kept.",
        )
        return redirect("coordinator:answers", pk=assessment.pk)
