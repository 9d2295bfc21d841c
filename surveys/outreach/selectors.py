"""Reads for the coordinator's pages: her contact summary (no address), her messages, the outbox."""

from __future__ import annotations

from typing import Any

from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet

from surveys.models import ContactDetails, Message, OutboxMessage, Participant, Site


def contact_summary(participant: Participant) -> dict[str, Any] | None:
    """What her page may show without opening the details: which channels, consent, erasure.

    Reads no encrypted column (the page needs no key and shows no address).
    """
    return (
        ContactDetails.objects.filter(participant=participant)
        .annotate(
            has_email=ExpressionWrapper(~Q(email=""), output_field=BooleanField()),
            has_mobile=ExpressionWrapper(~Q(mobile=""), output_field=BooleanField()),
        )
        .values(
            "has_email",
            "has_mobile",
            "preferred_channel",
            "language",
            "quiet_start",
            "quiet_end",
            "consent",
            "consent_at",
            "consent_by__username",
            "consent_withdrawn_at",
            "erased_at",
            "erased_reason",
        )
        .first()
    )


def messages_of(participant: Participant) -> QuerySet[Message]:
    return Message.objects.filter(participant=participant).select_related("assessment__visit")


def outbox_for(sites: QuerySet[Site]) -> QuerySet[OutboxMessage]:
    return OutboxMessage.objects.filter(participant__site__in=sites).select_related(
        "participant", "message__assessment__visit"
    )
