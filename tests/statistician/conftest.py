"""A small two-arm, two-site trial with completed, declined, blank and missed answers."""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from dataclasses import dataclass, field

import pytest

from scoring.instruments import ITEMS
from surveys import instrumentation
from surveys.models import Assessment, Participant, Response, Trial
from surveys.tablet.answers import assessment_submit, response_save
from surveys.trial.participants import assessment_record_missed_reason, assessment_refresh
from surveys.trial.sweep import sweep_assessments
from tests.factories import randomize

FIRST_RANDOMIZED = dt.date(2025, 1, 6)
SWEEP_AT = dt.datetime(2026, 10, 15, 12, 0, tzinfo=dt.UTC)
N = 16


def complete(
    assessment: Assessment,
    answers: dict[str, int | None],
    when: dt.datetime,
    declined: tuple[str, ...] = (),
) -> None:
    """Answer and submit through the services (first answer saved, the rest bulk-inserted)."""
    assessment_refresh(assessment=assessment, now=when)
    codes = [c for c, v in answers.items() if v is not None and c not in declined]
    response_save(
        assessment_id=assessment.pk, item_code=codes[0], value=answers[codes[0]], now=when
    )
    Response.objects.bulk_create(
        [
            Response(
                assessment=assessment,
                item_code=code,
                value=answers[code],
                saved_at=when + dt.timedelta(seconds=10 * i),
            )
            for i, code in enumerate(codes[1:], start=1)
        ]
        + [
            Response(assessment=assessment, item_code=code, declined=True, saved_at=when)
            for code in declined
        ]
    )
    assessment_submit(assessment_id=assessment.pk, now=when + dt.timedelta(minutes=12))


def answers_for(rng: random.Random, pinned: str, wellbeing: float) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for code in instrumentation.items(pinned):
        good = min(4, max(0, round(4 * wellbeing + rng.gauss(0, 0.8))))
        item = ITEMS[code]
        out[code] = 4 - good if (item.reversed or item.subscale == "LR") else good
    return out


@dataclass
class Study:
    trial: Trial
    participants: list[Participant] = field(default_factory=list)

    def assessment(self, index: int, visit: str) -> Assessment:
        return Assessment.objects.get(participant=self.participants[index], visit__code=visit)


def at_site(date: dt.date, tz: str, hour: int = 15) -> dt.datetime:
    return dt.datetime.combine(date, dt.time(hour), tzinfo=zoneinfo.ZoneInfo(tz))


@pytest.fixture
def study(trial, site_a, site_b, coordinator_a) -> Study:
    """16 participants (arm A even, B odd; site A01 first 8, B01 last 8).

    * baseline completed on the randomization day by everyone (study day 1);
      participant 1 ticked "prefer not to answer" on GS7, participant 2 left GP1 blank;
    * 6 months completed by all but participants 14 and 15;
    * 18 months missed by everyone (swept); participant 0's reason: too ill.
    """
    rng = random.Random(2108)
    result = Study(trial)
    for i in range(N):
        site = site_a if i < N // 2 else site_b
        randomized_on = FIRST_RANDOMIZED + dt.timedelta(days=i)
        p = randomize(
            trial,
            site,
            arm="A" if i % 2 == 0 else "B",
            study_id=f"E2108-{i + 1:04d}",
            randomized_on=randomized_on,
            now=at_site(randomized_on, site.timezone, 9),
        )
        result.participants.append(p)
        level = 0.75 if i % 2 == 0 else 0.6
        for visit in ("baseline", "m6"):
            if visit == "m6" and i >= 14:
                continue
            a = Assessment.objects.get(participant=p, visit__code=visit)
            answers = answers_for(rng, a.instrument_version, level + rng.gauss(0, 0.05))
            declined: tuple[str, ...] = ()
            if visit == "baseline" and i == 1:
                answers["GS7"] = None
                declined = ("GS7",)
            if visit == "baseline" and i == 2:
                answers["GP1"] = None
            when = at_site(a.target_date, site.timezone)
            complete(a, answers, when, declined)
    sweep_assessments(now=SWEEP_AT)
    assessment_record_missed_reason(
        assessment=result.assessment(0, "m18"),
        reason="too_ill",
        actor=coordinator_a,
        now=SWEEP_AT,
    )
    return result
