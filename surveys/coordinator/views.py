"""Coordinator workspace: worklist, participants, missed reasons, compliance."""

from __future__ import annotations

import csv
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views import View

from scoring.csvsafe import escape_cell
from surveys import instrumentation
from surveys.accounts.roles import CoordinatorRequiredMixin, signed_in, visible_sites
from surveys.coordinator import selectors
from surveys.coordinator.forms import (
    CorrectRandomizationForm,
    MissedReasonForm,
    OffStudyForm,
    RandomizeForm,
    ReasonForm,
)
from surveys.models import Arm, Assessment, AuditEvent, Participant, Site, Trial, Visit
from surveys.trial.assessments import assessment_submit_as_answered, submit_as_answered_problem
from surveys.trial.compliance import compliance_table
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


class WorklistView(CoordinatorView):
    def get(self, request: HttpRequest) -> HttpResponse:
        now = timezone.now()
        params = {
            key: request.GET.get(key, "") for key in ("site", "visit", "arm", "status", "sort")
        }
        view = request.GET.get("view", "open")
        if view not in selectors.WORKLIST_VIEWS:
            view = "open"
        sites = self.sites()
        qs = selectors.worklist(
            sites=sites,
            now=now,
            view=view,
            site=params["site"],
            visit=params["visit"],
            arm=params["arm"],
            status=params["status"],
            sort=params["sort"] or "closes",
        )
        page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        query.pop("sort", None)
        return render(
            request,
            "coordinator/worklist.html",
            {
                "now": now,
                "view": view,
                "views": selectors.WORKLIST_VIEWS,
                "counts": selectors.worklist_counts(sites=sites, now=now),
                "page": page,
                "params": params,
                "query_without_sort": query.urlencode(),
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
    def form(self, data: Any = None) -> RandomizeForm:
        trial = Trial.objects.order_by("pk").first()
        if trial is None:
            raise ValidationError("No trial has been set up yet.")
        return RandomizeForm(data, trial=trial, sites=self.sites())

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "coordinator/randomize.html", {"form": self.form()})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = self.form(request.POST)
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
                "visit", "score", "missed_reason_by", "submitted_by"
            )
            .prefetch_related(Prefetch("kiosk_sessions"))
            .order_by("visit__number")
        )
        for assessment in assessments:
            assessment.overdue = assessment.is_overdue(now)  # type: ignore[attr-defined]
        events = (
            AuditEvent.objects.filter(participant=participant)
            .select_related("assessment__visit")
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
                "now": now,
                "missed_form": forms.get("missed_form") or MissedReasonForm(),
                "missed_form_for": forms.get("missed_form_for"),
                "off_study_form": forms.get("off_study_form") or OffStudyForm(),
            },
            status=status,
        )


class MissedReasonView(CoordinatorView):
    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        assessment = get_object_or_404(
            Assessment.objects.filter(participant__site__in=self.sites()), pk=pk
        )
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
                messages.success(request, f"Reason recorded for {assessment.visit.label}.")
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
    def get(self, request: HttpRequest) -> HttpResponse:
        now = timezone.now()
        by = "site" if request.GET.get("by") == "site" else "arm"
        rows = compliance_table(sites=self.sites(), now=now, by=by)
        if request.GET.get("format") == "csv":
            response = HttpResponse(content_type="text/csv")
            response["Content-Disposition"] = f'attachment; filename="compliance_by_{by}.csv"'
            if rows:
                writer = csv.DictWriter(response, fieldnames=list(rows[0].as_dict()))
                writer.writeheader()
                for row in rows:
                    writer.writerow({k: escape_cell(v) for k, v in row.as_dict().items()})
            return response
        return render(
            request,
            "coordinator/compliance.html",
            {
                "rows": rows,
                "by": by,
                "now": now,
                "reasons": [*Assessment.MissedReason.choices, ("unrecorded", "No reason yet")],
            },
        )
