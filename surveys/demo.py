"""A synthetic, E2108-like trial for the demo: 256 women, two arms, four visits.

Answers are generated so that the 18-month TOI is about six points lower in
the early locoregional therapy arm (the paper: 74.2 vs 68.0) and the other
visits barely differ; completion falls from ~90% at baseline to ~50% at 18
months. Everything goes through the services, with the clock set to when
each thing happened, so statuses, audit trail and scores are real.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from scoring.instruments import ITEMS
from surveys import instrumentation
from surveys.accounts.roles import COORDINATOR, STATISTICIAN
from surveys.models import Assessment, Participant, Response, Site, Trial
from surveys.tablet.answers import assessment_submit, response_correct, response_save
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
DEMO_SITES = (
    ("NEC", "Northeast Cancer Center", "America/New_York"),
    ("SEC", "Southeast Oncology Institute", "America/Chicago"),
    ("WCC", "West Coast Cancer Center", "America/Los_Angeles"),
    ("PRC", "Centro Oncológico del Caribe", "America/Puerto_Rico"),
)
# Mean "well-being" (fraction of the best score) by arm and visit code.
WELLBEING = {
    "A": {"baseline": 0.72, "m6": 0.75, "m18": 0.775, "m30": 0.76},
    "B": {"baseline": 0.72, "m6": 0.73, "m18": 0.71, "m30": 0.745},
}
COMPLETION = {"baseline": 0.92, "m6": 0.78, "m18": 0.55, "m30": 0.48}
#: Of the forms not completed, the share she started but never submitted (partial forms
#: once their window closes; in progress while it is open, to "submit as answered").
STARTED_NOT_SUBMITTED = 0.12
N_PARTICIPANTS = {"A": 131, "B": 125}


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


def _answers(rng: random.Random, pinned: str, wellbeing: float) -> dict[str, int | None]:
    """Raw 0–4 answers for one form; about 4% left blank."""
    answers: dict[str, int | None] = {}
    for code in instrumentation.items(pinned):
        item = ITEMS[code]
        if rng.random() < 0.04:
            answers[code] = None
            continue
        good = min(4, max(0, round(4 * wellbeing + rng.gauss(0, 0.9))))
        if item.subscale == "LR":  # symptom direction: more burden, higher number
            answers[code] = 4 - good
        else:
            answers[code] = 4 - good if item.reversed else good
    return answers


def _complete(rng: random.Random, assessment: Assessment, when: dt.datetime, level: float) -> None:
    assessment_refresh(assessment=assessment, now=when)
    answers = _answers(rng, assessment.instrument_version, level)
    first = next(code for code, value in answers.items() if value is not None)
    response_save(assessment_id=assessment.pk, item_code=first, value=answers[first], now=when)
    Response.objects.bulk_create(
        Response(
            assessment=assessment,
            item_code=code,
            value=value,
            saved_at=when + dt.timedelta(seconds=20 * i),
        )
        for i, (code, value) in enumerate(answers.items())
        if value is not None and code != first
    )
    assessment_submit(
        assessment_id=assessment.pk,
        now=when + dt.timedelta(minutes=14),
        page_seconds={"PWB": 95, "SWB": 110, "EWB": 80, "FWB": 100, "BCS": 130, "LR": 120},
        assistance=rng.choice(["none"] * 8 + ["read_aloud"]),
    )


@transaction.atomic
def seed_demo(*, now: dt.datetime, seed: int = 2108) -> Trial:
    """Create the demo trial, sites, logins and 256 participants' histories."""
    rng = random.Random(seed)
    started = random.Random(seed + 1)  # its own stream: the other draws stay as they were
    # The trial opened when its first participant was randomized (at most 60 months ago).
    trial = trial_create_e2108(start_date=now.date() - dt.timedelta(days=60 * 31))
    for code, name, tz in DEMO_SITES:
        Site.objects.create(code=code, name=name, timezone=tz)
    create_users()
    sites = list(Site.objects.order_by("code"))
    coordinator = get_user_model().objects.get(username="coord_east")
    arms = {arm.code: arm for arm in trial.arms.all()}
    schedule = [(arm, n) for arm, count in N_PARTICIPANTS.items() for n in range(count)]
    rng.shuffle(schedule)
    today = now.date()
    for number, (arm_code, _) in enumerate(schedule, start=1):
        site = sites[number % len(sites)]
        randomized_on = today - dt.timedelta(days=rng.randint(20, 60 * 31))
        language = "es" if site.code == "PRC" or rng.random() < 0.08 else "en"
        at = dt.datetime.combine(randomized_on, dt.time(15, 0), tzinfo=site.tzinfo)
        participant = participant_randomize(
            trial=trial,
            study_id=f"E2108-{number:04d}",
            site=site,
            arm=arms[arm_code],
            randomized_on=randomized_on,
            language=language,
            actor="coord_east",
            now=at,
        )
        _simulate_history(rng, participant, now=now, started=started)
    sweep_assessments(now=now)
    for assessment in Assessment.objects.filter(status=Assessment.Status.MISSED).order_by("pk"):
        if rng.random() < 0.7:
            reason = rng.choice(Assessment.MissedReason.values)
            assessment_record_missed_reason(
                assessment=assessment,
                reason=reason,
                text="patient travelling" if reason == "other" else "",
                actor=coordinator,
                now=now,
            )
    _correct_some_answers(coordinator, now=now)
    return trial


def _correct_some_answers(coordinator: Any, *, now: dt.datetime) -> None:
    """Three answers corrected with a reason (the answers page shows them and the old scores)."""
    forms = Assessment.objects.filter(
        status=Assessment.Status.COMPLETED, participant__site__coordinators=coordinator
    ).order_by("pk")[:3]
    reasons = [
        ("transcription_error", "staff recorded 3 for a 1 (read aloud)"),
        ("changed_at_review", ""),
        ("other", "answer entered on the wrong line"),
    ]
    for form, (code, text) in zip(forms, reasons, strict=False):
        answer = form.responses.filter(value__isnull=False).order_by("pk").first()
        if answer is None or answer.value is None:
            continue
        response_correct(
            assessment_id=form.pk,
            item_code=answer.item_code,
            value=(answer.value + 2) % 5,
            reason_code=code,
            reason_text=text,
            actor=coordinator,
            now=now,
        )


def _start(rng: random.Random, assessment: Assessment, when: dt.datetime, level: float) -> None:
    """She answers the first few questions and stops (a partial form once the window closes)."""
    assessment_refresh(assessment=assessment, now=when)
    answers = _answers(rng, assessment.instrument_version, level)
    for i, (code, value) in enumerate(list(answers.items())[: rng.randint(3, 20)]):
        if value is not None:
            response_save(
                assessment_id=assessment.pk,
                item_code=code,
                value=value,
                now=when + dt.timedelta(seconds=20 * i),
            )


def _simulate_history(
    rng: random.Random, participant: Participant, *, now: dt.datetime, started: random.Random
) -> None:
    arm = participant.arm.code
    person = rng.gauss(0, 0.08)  # her own level, stable across visits
    leaves_on: dt.date | None = None
    if rng.random() < 0.18:
        leaves_on = participant.randomized_on + dt.timedelta(days=rng.randint(90, 900))
    for assessment in participant.assessments.select_related("visit").order_by("visit__number"):
        code = assessment.visit.code
        start = max(
            assessment.opens_at,
            dt.datetime.combine(
                participant.randomized_on, dt.time(16, 0), tzinfo=participant.site.tzinfo
            ),
        )
        when = start + dt.timedelta(
            days=rng.randint(0, max(0, (assessment.closes_at - start).days - 1))
        )
        if leaves_on and when.date() >= leaves_on:
            break
        if when >= now or rng.random() > COMPLETION[code]:
            if when < now and started.random() < STARTED_NOT_SUBMITTED:
                level = min(0.98, max(0.05, WELLBEING[arm][code] + person))
                _start(started, assessment, when, level)
            continue
        level = min(0.98, max(0.05, WELLBEING[arm][code] + person + rng.gauss(0, 0.06)))
        _complete(rng, assessment, when, level)
    if leaves_on and leaves_on < now.date():
        participant_go_off_study(
            participant=participant,
            off_study_on=leaves_on,
            reason=rng.choice(["death", "withdrawal", "lost_to_follow_up"]),
            actor="coord_east",
            now=dt.datetime.combine(leaves_on, dt.time(17, 0), tzinfo=participant.site.tzinfo),
        )
