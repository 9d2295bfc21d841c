"""Reads for the coordinator's pages: her home access, live links and calls per form."""

from __future__ import annotations

from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce

from surveys.models import HomeAccess, HomeLink, Participant


def live_links_subquery() -> Coalesce:
    """Links of each form not revoked (they open only while the window is open)."""
    return Coalesce(
        Subquery(
            HomeLink.objects.filter(assessment=OuterRef("pk"), revoked_at__isnull=True)
            .order_by()
            .values("assessment")
            .annotate(n=Count("pk"))
            .values("n"),
            output_field=IntegerField(),
        ),
        0,
    )


def home_access_of(participant: Participant) -> HomeAccess | None:
    return HomeAccess.objects.filter(participant=participant).first()
