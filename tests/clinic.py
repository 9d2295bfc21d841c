"""A small clinic's worth of participants in every state, through the services.

Used by the coordinator workspace's page tests and browser tests: each
participant is named for what a coordinator should see of her today.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field

from surveys import instrumentation
from surveys.models import Assessment, Participant, Response, Site, Trial
from surveys.tablet.answers import assessment_submit, response_save
from surveys.trial.participants import participant_go_off_study
from surveys.trial.sweep import sweep_assessments
from tests.factories import randomize


def site_today(site: Site, now: dt.datetime) -> dt.date:
    return now.astimezone(zoneinfo.ZoneInfo(site.timezone)).date()


def randomized_for(
    trial: Trial, visit_code: str, *, today: dt.date, last_days: list[dt.date]
) -> dt.date:
    """A randomization date that makes *visit_code*'s window end on one of *last_days*
    (not every day can end a window: adding months clamps to the month's end)."""
    visit = trial.visits.get(code=visit_code)
    for back in range(0, 40 * 31):
        day = today - dt.timedelta(days=back)
        if visit.window(day)[1] in last_days:
            return day
    raise AssertionError(f"no randomization date ends {visit_code} on {last_days}")


def answer(assessment: Assessment, codes: list[str], now: dt.datetime, value: int = 2) -> None:
    """Her answers to *codes* (the first through the service, which starts the form)."""
    response_save(assessment_id=assessment.pk, item_code=codes[0], value=value, now=now)
    Response.objects.bulk_create(
        Response(assessment=assessment, item_code=code, value=value, saved_at=now)
        for code in codes[1:]
    )


def complete(
    assessment: Assessment, now: dt.datetime, values: dict[str, int] | None = None
) -> None:
    """Every item answered (2, or *values*) and submitted on the tablet."""
    codes = list(instrumentation.items(assessment.instrument_version))
    values = values or {}
    response_save(
        assessment_id=assessment.pk, item_code=codes[0], value=values.get(codes[0], 2), now=now
    )
    Response.objects.bulk_create(
        Response(assessment=assessment, item_code=code, value=values.get(code, 2), saved_at=now)
        for code in codes[1:]
    )
    assessment_submit(assessment_id=assessment.pk, now=now, assistance="none")


@dataclass
class Clinic:
    site: Site
    people: dict[str, Participant] = field(default_factory=dict)

    def form(self, name: str, visit: str) -> Assessment:
        return Assessment.objects.get(participant=self.people[name], visit__code=visit)


def build_clinic(trial: Trial, site: Site, *, now: dt.datetime, prefix: str = "E2108-") -> Clinic:
    """Participants named for what the coordinator sees of them at *now*.

    * ``closing``: baseline window open, its last day tomorrow (2 days left: overdue);
    * ``started``: baseline missed; 6-month form in progress, 32 of 46 answered, open;
    * ``missed``: baseline missed, no reason recorded; 6 months not yet due;
    * ``done``: baseline completed (every answer 2), 6 months not yet due;
    * ``died``: baseline completed, then died: the later forms are not expected;
    * ``new``: randomized today, baseline open.
    """
    today = site_today(site, now)
    clinic = Clinic(site)
    n = Participant.objects.count()

    def person(name: str, randomized_on: dt.date, arm: str) -> Participant:
        nonlocal n
        n += 1
        participant = randomize(
            trial,
            site,
            arm=arm,
            study_id=f"{prefix}{n:04d}",
            randomized_on=randomized_on,
            now=now,
        )
        clinic.people[name] = participant
        return participant

    person("closing", today - dt.timedelta(days=13), "A")  # baseline: randomization + 14 days
    person(
        "started",
        randomized_for(
            trial,
            "m6",
            today=today,
            last_days=[today + dt.timedelta(days=d) for d in range(15, 26)],
        ),
        "B",
    )
    person("missed", today - dt.timedelta(days=60), "A")
    person("done", today - dt.timedelta(days=10), "B")
    person("died", today - dt.timedelta(days=12), "A")
    person("new", today, "B")
    sweep_assessments(now=now)
    codes = list(instrumentation.items(clinic.form("started", "m6").instrument_version))
    answer(clinic.form("started", "m6"), codes[:32], now)
    complete(clinic.form("done", "baseline"), now)
    complete(clinic.form("died", "baseline"), now)
    participant_go_off_study(
        participant=clinic.people["died"],
        off_study_on=today - dt.timedelta(days=1),
        reason="death",
        actor="test",
        now=now,
    )
    for p in clinic.people.values():
        p.refresh_from_db()
    return clinic


def build_history(trial: Trial, sites: list[Site], *, now: dt.datetime, n: int = 16) -> None:
    """*n* participants randomized 15 months before *now*, baseline and 6 months answered
    (arm A a little better than B), 18 months not yet due: enough for an analysis run."""
    import random

    rng = random.Random(2108)
    today = site_today(sites[0], now)
    first = today - dt.timedelta(days=460)
    for i in range(n):
        site = sites[i % len(sites)]
        day = first + dt.timedelta(days=i)
        participant = randomize(
            trial,
            site,
            arm="AB"[i % 2],
            randomized_on=day,
            now=dt.datetime.combine(day, dt.time(14), tzinfo=dt.UTC),
        )
        level = 0.75 if i % 2 == 0 else 0.6
        for visit in ("baseline", "m6"):
            form = participant.assessments.get(visit__code=visit)
            when = dt.datetime.combine(form.target_date, dt.time(15), tzinfo=dt.UTC)
            sweep_assessments(now=when)
            form.refresh_from_db()
            values = {}
            for code, item in instrumentation.items(form.instrument_version).items():
                good = min(4, max(0, round(4 * level + rng.gauss(0, 0.8))))
                values[code] = 4 - good if (item.reversed or item.subscale == "LR") else good
            complete(form, when, values)
    sweep_assessments(now=now)
