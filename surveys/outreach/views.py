"""Coordinator pages of the outreach room: her contact details, and the demo's outbox."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from surveys.accounts.roles import CoordinatorRequiredMixin, signed_in, visible_sites
from surveys.models import ContactDetails, Participant
from surveys.models.crypto import ContactKeyMissing
from surveys.outreach.contacts import contact_save, contact_view, contact_withdraw_consent, may_see
from surveys.outreach.forms import ContactForm
from surveys.outreach.outbox import outbox_in_use
from surveys.outreach.selectors import outbox_for

OUTBOX_PAGE = 50


class ContactView(CoordinatorRequiredMixin, View):
    """Her contact details: coordinators of her site only (another site's: 404; others: 403)."""

    def participant(self, pk: int) -> Participant:
        participant = get_object_or_404(
            Participant.objects.filter(site__in=visible_sites(self.request.user)).select_related(
                "site"
            ),
            pk=pk,
        )
        if not may_see(self.request.user, participant):
            raise PermissionDenied("only coordinators of her site see her contact details")
        return participant

    def page(
        self,
        request: HttpRequest,
        participant: Participant,
        form: ContactForm,
        *,
        contact: ContactDetails | None,
        status: int = 200,
        key_error: str = "",
    ) -> HttpResponse:
        return render(
            request,
            "outreach/contact.html",
            {
                "participant": participant,
                "form": form,
                "contact": contact,
                "key_error": key_error,
            },
            status=status,
        )

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        participant = self.participant(pk)
        try:
            contact = contact_view(participant=participant, actor=request.user, now=timezone.now())
        except ContactKeyMissing as exc:
            return self.page(
                request, participant, ContactForm(), contact=None, status=503, key_error=str(exc)
            )
        live = contact if contact and contact.erased_at is None else None
        initial: dict[str, Any] = {"language": participant.language, "preferred_channel": "email"}
        if live is not None:
            initial = {
                "email": live.email,
                "mobile": live.mobile,
                "preferred_channel": live.preferred_channel,
                "language": live.language,
                "quiet_start": live.quiet_start,
                "quiet_end": live.quiet_end,
                "consent": live.consent,
            }
        return self.page(request, participant, ContactForm(initial=initial), contact=contact)

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        participant = self.participant(pk)
        form = ContactForm(request.POST)
        if form.is_valid():
            try:
                contact_save(
                    participant=participant,
                    data=form.as_input(),
                    actor=signed_in(request.user),
                    now=timezone.now(),
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(None if field == "__all__" else field, errors)
            except ContactKeyMissing as exc:
                return self.page(
                    request, participant, form, contact=None, status=503, key_error=str(exc)
                )
            else:
                messages.success(request, "Contact details saved (encrypted).")
                return redirect(reverse("coordinator:participant", args=[participant.pk]))
        return self.page(request, participant, form, contact=None, status=400)


class WithdrawConsentView(ContactView):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        raise Http404("withdrawal is a POST from the contact page")

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        participant = self.participant(pk)
        erased = contact_withdraw_consent(
            participant=participant, actor=signed_in(request.user), now=timezone.now()
        )
        if erased:
            messages.success(request, "Consent withdrawn: her contact details were erased.")
        return redirect(reverse("coordinator:participant", args=[participant.pk]))


class OutboxView(CoordinatorRequiredMixin, View):
    """The demo's outbox (404 when messages really go out): what was sent to her sites."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not outbox_in_use():
            raise Http404("no outbox: messages are delivered by SMTP and the SMS provider")
        page = Paginator(outbox_for(visible_sites(request.user)), OUTBOX_PAGE).get_page(
            request.GET.get("page")
        )
        return render(request, "outreach/outbox.html", {"page": page})
