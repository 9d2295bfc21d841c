"""The site's audit log: search, one page of events, the CSV export (itself audited).

A coordinator sees the events of her sites: those of their participants and
those recorded for a site itself (an export of its audit log). Searching and
paging run a fixed number of queries whatever the log's length (a count and
one page; the CSV streams through one server-side cursor).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from surveys.models import Actor, AuditEvent, Participant, Site, actor_fields
from surveys.trial.audit import describe, local_time

#: Columns of the CSV export, in order.
CSV_HEADER = (
    "when",  # ISO 8601, to the second, with the offset of the staff pages' time zone
    "who",
    "action",
    "action_code",
    "participant",
    "site",
    "visit",
    "change",
    "details",
    "event_id",
)


@dataclass(frozen=True)
class AuditFilters:
    """What the coordinator searched for (every field optional)."""

    site: str = ""
    participant: str = ""
    user: str = ""
    action: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    def as_dict(self) -> dict[str, str]:
        return {
            key: value.isoformat() if isinstance(value, dt.date) else value
            for key, value in asdict(self).items()
            if value
        }


def _day_start(day: dt.date) -> dt.datetime:
    """Midnight starting *day* in the staff pages' time zone."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time()))


def audit_events(*, sites: QuerySet[Site], filters: AuditFilters) -> QuerySet[AuditEvent]:
    """Events of her sites matching *filters*, newest first (one query; page it)."""
    if filters.site:
        sites = sites.filter(code=filters.site)
    participants = Participant.objects.filter(site__in=sites)
    if filters.participant:
        participants = participants.filter(study_id__icontains=filters.participant.strip())
        scope = Q(participant__in=participants)
    else:
        scope = Q(participant__in=participants) | Q(participant__isnull=True, site__in=sites)
    qs = AuditEvent.objects.filter(scope)
    if filters.user:
        qs = qs.filter(actor_label__icontains=filters.user.strip())
    if filters.action:
        qs = qs.filter(action=filters.action)
    if filters.date_from:
        qs = qs.filter(at__gte=_day_start(filters.date_from))
    if filters.date_to:
        qs = qs.filter(at__lt=_day_start(filters.date_to + dt.timedelta(days=1)))
    return qs.select_related("participant__site", "assessment__visit", "site").order_by(
        "-at", "-id"
    )


@dataclass(frozen=True)
class AuditRow:
    """One event as the log shows it."""

    event: AuditEvent
    when: str
    who: str
    what: str
    change: str
    detail: str
    participant: Participant | None
    site: str
    visit: str


def audit_rows(events: Iterable[AuditEvent]) -> list[AuditRow]:
    return [_row(event) for event in events]


def _row(event: AuditEvent) -> AuditRow:
    text = describe(event)
    participant = event.participant
    site = participant.site.code if participant else (event.site.code if event.site else "")
    return AuditRow(
        event=event,
        when=local_time(event.at),
        who=event.actor_label,
        what=text.what,
        change=text.change,
        detail=text.detail,
        participant=participant,
        site=site,
        visit=event.assessment.visit.label if event.assessment else "",
    )


def csv_rows(events: QuerySet[AuditEvent]) -> Iterator[list[Any]]:
    """The header, then one row per event (streamed, 2,000 events per fetch)."""
    yield list(CSV_HEADER)
    for event in events.iterator(chunk_size=2000):
        row = _row(event)
        yield [
            timezone.localtime(event.at).isoformat(timespec="seconds"),
            row.who,
            row.what,
            event.action,
            row.participant.study_id if row.participant else "",
            row.site,
            row.visit,
            row.change,
            row.detail,
            event.pk,
        ]


@transaction.atomic
def audit_log_export(
    *, sites: QuerySet[Site], filters: AuditFilters, actor: Actor, now: dt.datetime
) -> tuple[QuerySet[AuditEvent], int]:
    """Record that the audit log of these sites is being exported; the events and their count.

    One ``audit_export`` event per site exported (with the filters and the
    number of events), so each site's log shows who took a copy of it.
    """
    events = audit_events(sites=sites, filters=filters)
    rows = events.count()
    exported = sites.filter(code=filters.site) if filters.site else sites
    recorded = AuditEvent.objects.bulk_create(
        AuditEvent(
            at=now,
            action=AuditEvent.Action.AUDIT_EXPORT,
            site=site,
            details={"filters": filters.as_dict(), "rows": rows, "format": "csv"},
            **actor_fields(actor),
        )
        for site in exported
    )
    # the file holds what was counted: the export's own events are in the log, not in it
    return events.exclude(pk__in=[event.pk for event in recorded]), rows
