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
from surveys.accounts.roles import CoordinatorRequiredMixin, signed_in, visible_sites
from surveys.coordinator import selectors
from surveys.coordinator.forms import MissedReasonForm, OffStudyForm, RandomizeForm
from surveys.models import Arm, Assessment, AuditEvent, Participant, Site, Trial, Visit
from surveys.trial.compliance import compliance_table
from surveys.trial.participants import (
    assessment_record_missed_reason,
    participant_go_off_study,
    participant_randomize,
    participant_view_record,
)

PAGE_SIZE = 50


class CoordinatorView(CoordinatorRequiredMixin, View):
    """Base: every query is limited to the coordinator's own sites."""

    def sites(self) -> QuerySet[Site]:
        return visible_sites(self.request.user)

    def my_participant(self, pk: int) -> Participant:
        """Her participant, or 404 (never 403: another site's ids are not disclosed)."""
        return get_object_or_404(selectors.participants_for_sites(self.sites()), pk=pk)


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
            participant.assessments.select_related("visit", "score", "missed_reason_by")
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
                "now": now,
                "missed_form": forms.get("missed_form") or MissedReasonForm(),
                "missed_form_for": forms.get("missed_form_for"),
                "off_study_form": forms.get("off_study_form")
                or OffStudyForm(initial={"off_study_on": timezone.localdate()}),
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
        detail = ParticipantDetailView()
        detail.request = request
        return detail.render_page(
            request,
            assessment.participant,
            status=400,
            missed_form=form,
            missed_form_for=assessment.pk,
        )


class OffStudyView(CoordinatorView):
    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        participant = self.my_participant(pk)
        form = OffStudyForm(request.POST)
        if form.is_valid():
            try:
                counts = participant_go_off_study(
                    participant=participant,
                    off_study_on=form.cleaned_data["off_study_on"],
                    reason=form.cleaned_data["reason"],
                    note=form.cleaned_data["note"],
                    actor=request.user,
                    now=timezone.now(),
                )
            except ValidationError as exc:
                form.add_error(None, exc.messages)
            else:
                messages.success(
                    request,
                    f"{participant.study_id} is off study; {counts['not_expected']} assessment(s) "
                    f"no longer expected, {counts['missed']} missed.",
                )
                return redirect("coordinator:participant", pk=participant.pk)
        detail = ParticipantDetailView()
        detail.request = request
        return detail.render_page(request, participant, status=400, off_study_form=form)


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
