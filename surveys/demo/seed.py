"""Seed the demo trial: the plan (:mod:`surveys.demo.plan`) played through the services.

The plan is in trial time; one offset turns trial days into calendar dates
so that the as-of date is the plan's as-of day (:class:`Timeline`). Events
are then played in calendar order with the clock set to when each happened:
randomizations, forms answered on the tablet, the periodic sweep (windows
opening, missed forms), coordinators recording why a form was missed and
taking a participant off study. Statuses, scores and the audit trail are
therefore the ones the product itself produces. The same seed gives the
same trial at any as-of date: only the dates move.

It also creates the "E2108 paper (JCO 2022)" analysis preset, whose data
cut-off is the last day of the paper cohort's data (before the recently
randomized participants).
"""

from __future__ import annotations

import datetime as dt
import heapq
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from surveys import instrumentation
from surveys.accounts.roles import COORDINATOR, STATISTICIAN
from surveys.demo.plan import (
    VISITS,
    DemoPlan,
    PlannedForm,
    PlannedMiss,
    PlannedParticipant,
    build_plan,
)
from surveys.models import Assessment, Participant, Response, Site, Trial
from surveys.statistician.analysis.presets import AnalysisPreset, e2108_paper_preset
from surveys.tablet.answers import assessment_submit, response_correct, response_save
from surveys.tablet.kiosk import kiosk_answer, kiosk_start, kiosk_submit
from surveys.trial.participants import (
    assessment_record_missed_reason,
    assessment_refresh,
    participant_go_off_study,
    participant_randomize,
)
from surveys.trial.setup import trial_create_e2108
from surveys.trial.sweep import sweep_assessments


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str
    sites: tuple[str, ...] = ()


DEMO_LOGINS = (
    DemoLogin("admin", "demo-admin-2108", "trial admin"),
    DemoLogin("coord_east", "demo-coord-2108", COORDINATOR, ("NEC", "SEC")),
    DemoLogin("coord_west", "demo-coord-2108", COORDINATOR, ("WCC", "PRC")),
    DemoLogin("stat", "demo-stat-2108", STATISTICIAN),
)
DEMO_SITES = (  # code, name, time zone, ISO 3166-1 alpha-3 country (CDISC DM.COUNTRY)
    ("NEC", "Northeast Cancer Center", "America/New_York", "USA"),
    ("SEC", "Southeast Oncology Institute", "America/Chicago", "USA"),
    ("WCC", "West Coast Cancer Center", "America/Los_Angeles", "USA"),
    ("PRC", "Centro Oncológico del Caribe", "America/Puerto_Rico", "PRI"),
)
#: While the trial is played the sweep runs every SWEEP_DAYS at this UTC hour (the product's
#: is hourly; each event also brings its own assessment up to date first).
SWEEP_HOUR_UTC = 5
SWEEP_DAYS = 14
RANDOMIZED_AT = dt.time(11, 0)


def create_users() -> None:
    user_model = get_user_model()
    for login in DEMO_LOGINS:
        user, _ = user_model.objects.get_or_create(
            username=login.username, defaults={"email": f"{login.username}@demo.invalid"}
        )
        user.set_password(login.password)
        user.is_staff = user.is_superuser = login.role == "trial admin"
        user.save()
        if login.role in (COORDINATOR, STATISTICIAN):
            user.groups.add(Group.objects.get_or_create(name=login.role)[0])
        for code in login.sites:
            Site.objects.get(code=code).coordinators.add(user)


@dataclass(frozen=True)
class Timeline:
    """Trial days as calendar dates: the plan's as-of day is ``as_of``."""

    plan: DemoPlan
    as_of: dt.date

    def date(self, trial_day: int) -> dt.date:
        return self.as_of - dt.timedelta(days=self.plan.as_of_day - trial_day)

    @property
    def now(self) -> dt.datetime:
        """The seeding clock: the start of the as-of date (UTC); every event is before it."""
        return dt.datetime.combine(self.as_of, dt.time(), tzinfo=dt.UTC)

    @property
    def trial_start(self) -> dt.date:
        """Trial day 0: the trial opened (every randomization is after it)."""
        return self.date(0)

    @property
    def cutoff(self) -> dt.date:
        """The paper cohort's data cut-off: all their windows closed, nobody recent randomized."""
        return self.date(self.plan.cutoff_day)

    @property
    def last_data(self) -> dt.date:
        return self.date(self.plan.last_data_day)


def _local(day: dt.date, site: Site, at: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, at, tzinfo=zoneinfo.ZoneInfo(site.timezone))


class _Player:
    """Plays the planned events in calendar order through the services."""

    def __init__(self, timeline: Timeline, trial: Trial) -> None:
        self.timeline = timeline
        self.trial = trial
        self.sites = {site.code: site for site in Site.objects.all()}
        self.arms = {arm.code: arm for arm in trial.arms.all()}
        users = get_user_model().objects
        self.coordinators = {
            code: users.get(username=login.username)
            for login in DEMO_LOGINS
            for code in login.sites
        }
        self.participants: dict[int, Participant] = {}
        self.queue: list[tuple[dt.datetime, int, Callable[[dt.datetime], None]]] = []
        self.seq = 0

    def at(self, when: dt.datetime, action: Callable[[dt.datetime], None]) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (when, self.seq, action))

    def play(self) -> None:
        plan, timeline = self.timeline.plan, self.timeline
        for p in sorted(plan.participants, key=lambda p: (p.randomized, p.number)):
            self._schedule(p)
        first = timeline.date(min(p.randomized for p in plan.participants))
        sweep = dt.datetime.combine(first, dt.time(SWEEP_HOUR_UTC), tzinfo=dt.UTC)
        while sweep < timeline.now:
            self.at(sweep, self._sweep)
            sweep += dt.timedelta(days=SWEEP_DAYS)
        while self.queue:
            when, _, action = heapq.heappop(self.queue)
            action(when)
        sweep_assessments(now=timeline.now)

    def _sweep(self, now: dt.datetime) -> None:
        sweep_assessments(now=now)

    # --- the events of one participant ---------------------------------------------------

    def _schedule(self, p: PlannedParticipant) -> None:
        site = self.sites[p.site]
        randomized_on = self.timeline.date(p.randomized)
        self.at(_local(randomized_on, site, RANDOMIZED_AT), partial(self._randomize, p))
        for form in p.forms:
            day = randomized_on + dt.timedelta(days=form.day)
            clock = dt.time(form.minute // 60, form.minute % 60)
            self.at(_local(day, site, clock), partial(self._answer, p, form))
        last_possible_end = {v.code: v.end[1] for v in VISITS}
        for miss in p.misses:
            if not miss.reason:
                continue
            recorded = p.randomized + last_possible_end[miss.visit] + 1 + miss.recorded_after
            if recorded < self.timeline.plan.as_of_day - 1:
                when = _local(self.timeline.date(recorded), site, dt.time(10, 30))
                self.at(when, partial(self._record_reason, p, miss))
        if p.off_day is not None:
            recorded = p.randomized + p.off_day + p.off_recorded_after
            when = _local(self.timeline.date(recorded), site, dt.time(16, 45))
            self.at(when, partial(self._go_off_study, p))

    def _randomize(self, p: PlannedParticipant, now: dt.datetime) -> None:
        site = self.sites[p.site]
        self.participants[p.number] = participant_randomize(
            trial=self.trial,
            study_id=p.study_id,
            site=site,
            arm=self.arms[p.arm],
            randomized_on=now.astimezone(site.tzinfo).date(),
            language=p.language,
            actor=self.coordinators[p.site].get_username(),
            now=now,
        )

    def _assessment(self, p: PlannedParticipant, visit: str) -> Assessment:
        return Assessment.objects.get(participant=self.participants[p.number], visit__code=visit)

    def _answer(self, p: PlannedParticipant, form: PlannedForm, now: dt.datetime) -> None:
        assessment = self._assessment(p, form.visit)
        assessment_refresh(assessment=assessment, now=now)
        answered = [(code, value) for code, value in form.answers.items() if value is not None]
        first_code, first_value = answered[0]
        response_save(assessment_id=assessment.pk, item_code=first_code, value=first_value, now=now)
        Response.objects.bulk_create(
            [
                Response(
                    assessment=assessment,
                    item_code=code,
                    value=value,
                    saved_at=now + dt.timedelta(seconds=15 * i),
                )
                for i, (code, value) in enumerate(answered[1:], start=1)
            ]
            + [
                Response(assessment=assessment, item_code=code, declined=True, saved_at=now)
                for code in form.declined
            ]
        )
        if form.submitted:
            minutes = sum(form.page_seconds.values()) / 60
            assessment_submit(
                assessment_id=assessment.pk,
                now=now + dt.timedelta(minutes=round(minutes, 1) + 1),
                page_seconds=dict(form.page_seconds),
                assistance=form.assistance,
            )

    def _record_reason(self, p: PlannedParticipant, miss: PlannedMiss, now: dt.datetime) -> None:
        assessment = self._assessment(p, miss.visit)
        assessment_refresh(assessment=assessment, now=now, actor="system:sweep")
        assessment_record_missed_reason(
            assessment=assessment,
            reason=miss.reason,
            text=miss.text,
            actor=self.coordinators[p.site],
            now=now,
        )

    def _go_off_study(self, p: PlannedParticipant, now: dt.datetime) -> None:
        assert p.off_day is not None
        participant = self.participants[p.number]
        participant_go_off_study(
            participant=participant,
            off_study_on=participant.randomized_on + dt.timedelta(days=p.off_day),
            reason=p.off_reason,
            actor=self.coordinators[p.site].get_username(),
            now=now,
        )


def _replaced_tablet(timeline: Timeline) -> None:
    """Last evening at NEC: a tablet lost its network and was replaced; its queue came late.

    A recently randomized woman (after the paper's cut-off, so no analysis
    changes) answered a few items on tablet 1, tapped two more while it was
    offline, finished on tablet 2 and sent the form; tablet 1 came back online
    afterwards: its two answers are kept for the coordinator (the participant
    page's "Answers kept after the questionnaire closed"), with the audit trail.
    Times are relative to the as-of date, so the story is the same on any date.
    """
    start = timeline.now - dt.timedelta(minutes=50)
    assessment = (
        Assessment.objects.filter(
            participant__site__code="NEC",
            participant__randomized_on__gt=timeline.cutoff,
            participant__off_study_on__isnull=True,
            status__in=[Assessment.Status.SCHEDULED, Assessment.Status.OPEN],  # not started
            opens_at__lte=start,
            closes_at__gt=timeline.now,
        )
        .order_by("participant__study_id", "visit__number")
        .first()
    )
    if assessment is None:
        return
    assessment_refresh(assessment=assessment, now=start)  # its window had opened
    coordinator = get_user_model().objects.get(username="coord_east")
    codes = list(instrumentation.items(assessment.instrument_version))
    answers = {code: (n * 7) % 5 for n, code in enumerate(codes)}  # any fixed answers

    def hand_over(at: dt.datetime) -> str:
        return kiosk_start(
            assessment_id=assessment.pk,
            started_by=coordinator,
            pin="2108",
            assistance="none",
            now=at,
        ).token

    def tap(token: str, code: str, value: int, tapped: dt.datetime, sent: dt.datetime) -> None:
        kiosk_answer(
            token=token,
            assessment_id=assessment.pk,
            item_code=code,
            value=value,
            idempotency_key=f"demo-{token[:8]}-{code}",
            tapped_at=tapped,
            now=sent,
        )

    tablet1 = hand_over(start)
    for n, code in enumerate(codes[:5]):
        at = start + dt.timedelta(seconds=30 + 20 * n)
        tap(tablet1, code, answers[code], at, at)
    # Offline: two more taps wait on tablet 1; she goes on with tablet 2.
    queued = [
        (code, start + dt.timedelta(minutes=4, seconds=15 * n)) for n, code in enumerate(codes[5:7])
    ]
    tablet2 = hand_over(start + dt.timedelta(minutes=8))
    for n, code in enumerate(codes[5:]):
        at = start + dt.timedelta(minutes=9, seconds=20 * n)
        tap(tablet2, code, answers[code], at, at)
    kiosk_submit(token=tablet2, now=start + dt.timedelta(minutes=25))
    for code, tapped in queued:  # tablet 1 is back online: its taps are kept, not applied
        tap(tablet1, code, (answers[code] + 1) % 5, tapped, start + dt.timedelta(minutes=40))


def _correct_some_answers(timeline: Timeline) -> None:
    """Answers corrected with a reason (the answers page shows them and the old scores).

    Only forms of women randomized after the paper's cut-off: a correction
    rescores its form, and the paper cohort's scores must stay the paper's.
    """
    forms = Assessment.objects.filter(
        status=Assessment.Status.COMPLETED, participant__randomized_on__gt=timeline.cutoff
    ).order_by("participant__study_id", "visit__number")[:3]
    reasons = [
        ("transcription_error", "staff recorded 3 for a 1 (read aloud)"),
        ("changed_at_review", ""),
        ("other", "answer entered on the wrong line"),
    ]
    users = get_user_model().objects
    for form, (code, text) in zip(forms, reasons, strict=False):
        answer = form.responses.filter(value__isnull=False).order_by("item_code").first()
        if answer is None or answer.value is None:
            continue
        site = form.participant.site.code
        login = next(login for login in DEMO_LOGINS if site in login.sites)
        response_correct(
            assessment_id=form.pk,
            item_code=answer.item_code,
            value=(answer.value + 2) % 5,
            reason_code=code,
            reason_text=text,
            actor=users.get(username=login.username),
            now=timeline.now - dt.timedelta(minutes=5),
        )


@transaction.atomic
def seed_demo(*, as_of: dt.date, seed: int | None = None) -> tuple[Trial, AnalysisPreset]:
    """Create the demo trial as of ``as_of``: sites, logins, participants' histories, preset.

    The last data are just before ``as_of``; nothing else depends on the date.
    """
    plan = build_plan() if seed is None else build_plan(seed)
    timeline = Timeline(plan, as_of)
    # The demo trial opened on its first plan day: no randomization precedes it.
    trial = trial_create_e2108(start_date=timeline.trial_start)
    for code, name, tz, country in DEMO_SITES:
        Site.objects.create(code=code, name=name, timezone=tz, country=country)
    create_users()
    _Player(timeline, trial).play()
    _replaced_tablet(timeline)
    _correct_some_answers(timeline)
    preset = e2108_paper_preset(
        trial=trial,
        cutoff=timeline.cutoff,
        note=(
            f"Demo data: the paper cohort's data cut-off is {timeline.cutoff.isoformat()}; "
            "the participants randomized after it are left out."
        ),
    )
    return trial, preset
