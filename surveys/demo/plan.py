"""The demo trial, generated in *trial time* from a fixed seed: no database, no calendar.

Every date of the demo is a whole number of days: a participant's
randomization is a *trial day* (days since the trial opened), everything
that happens to her afterwards a *study day* (days since her
randomization). :mod:`surveys.demo.seed` turns trial days into calendar
dates with one offset chosen from the as-of date, so the same seed gives the
same participants, arms, answers and statuses whatever the date; nothing
here reads a clock.

Calendar months are the one thing a shift by whole days does not preserve:
a visit 6 calendar months after randomization is 181 to 184 days later
depending on the month. The plan therefore places every event at a study
day that is on the same side of every window boundary for any calendar
(:class:`VisitDays`): forms are completed inside the days common to all
possible windows, and leaving the study never happens within a few days of
a possible window end.

The E2108 figures it is built to reproduce (JCO 2022;40:978), and how:

* 256 randomized women, 131 continued systemic therapy (A), 125 early
  locoregional therapy (B), randomized over about 4.5 years; four sites,
  Spanish speakers (all at the Puerto Rico site, a few elsewhere);
* survival: Weibull with shape 1.45 and a frailty shared with quality of
  life (sicker women die sooner and score lower), arm B's hazard 1.11 times
  arm A's: 3-year OS about 68%, median about 54 months; some withdrawals
  and losses to follow-up;
* FACT-B TOI by visit: a participant's level is stable across visits
  (correlation 0.65) and left-skewed (96 minus a log-normal); the arms are
  alike at baseline, 6 and 30 months. At 18 months the TOIs of the women
  who complete the form are matched to the paper's means and SDs
  (74.2 (11.5) vs 68.0 (13.7)) before items are drawn, so only prorating
  of skipped items and the draws themselves move the result;
* the 18-month form is completed by about half of the randomized women
  (deaths, off study, missed forms with realistic reasons);
* the nine locoregional items have the same distribution in both arms.

The seed (:data:`SEED`) is one for which the generated trial reproduces the
paper within the bounds of the "E2108 paper" analysis preset
(:func:`paper_figures` checks a plan without a database; the tests check the
seeded database through the real analysis run).
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from scoring.instruments import Item
from surveys import instrumentation
from surveys.trial.setup import E2108_VISITS, VisitSpec

#: The seed of the demo trial (see the module docstring for how it was chosen).
SEED = 425
N_RANDOMIZED: Mapping[str, int] = {"A": 131, "B": 125}
#: Trial day of the first randomization, and the accrual period (days).
FIRST_RANDOMIZATION_DAY = 75
ACCRUAL_DAYS = 1640
#: Sites: code, share of the participants, share of Spanish speakers.
SITES: tuple[tuple[str, float, float], ...] = (
    ("NEC", 0.31, 0.04),
    ("SEC", 0.27, 0.07),
    ("WCC", 0.28, 0.10),
    ("PRC", 0.14, 1.0),
)
INSTRUMENT_VERSION = "FACT-B@4+E2108-LR@draft-1"

# --- survival -------------------------------------------------------------------------------
WEIBULL_SHAPE = 1.45
#: Weibull scale (months) of arm A; arm B's hazard is HAZARD_RATIO_B times A's.
WEIBULL_SCALE_A = 72.5
HAZARD_RATIO_B = 1.11
#: Log-hazard per SD of the participant's quality-of-life level (lower level, higher hazard).
FRAILTY = 0.35
DAYS_PER_MONTH = 30.4375
WITHDRAWAL = (0.06, 90, 1100)  # probability, first and last study day
LOST = (0.035, 200, 1500)

# --- quality of life --------------------------------------------------------------------------
#: TOI mean and SD by arm and visit, before selection by who completes the form.
TOI_MARGINS: Mapping[str, Mapping[str, tuple[float, float]]] = {
    "A": {"baseline": (64.0, 14.5), "m6": (67.5, 14.0), "m18": (74.2, 11.5), "m30": (70.0, 13.5)},
    "B": {"baseline": (64.0, 14.5), "m6": (67.0, 14.0), "m18": (68.0, 13.7), "m30": (69.0, 13.5)},
}
#: The visit whose completers' TOIs are matched to the paper's means and SDs.
MATCHED_VISIT = "m18"
VISIT_CORRELATION = 0.65
#: Chance that a woman alive and on study completes the form (before her own propensity).
COMPLETION: Mapping[str, float] = {"baseline": 0.93, "m6": 0.80, "m18": 0.60, "m30": 0.60}
ITEM_BLANK = 0.015
GS7_DECLINED = 0.22
#: Missed-form reasons (recorded by the coordinator for 75% of missed forms).
MISSED_REASONS: tuple[tuple[str, float], ...] = (
    ("missed_appointment", 0.30),
    ("staff_oversight", 0.22),
    ("too_ill", 0.22),
    ("patient_refused", 0.15),
    ("language_literacy", 0.04),
    ("other", 0.07),
)
OTHER_REASONS = ("patient travelling", "tablet not available at the satellite clinic")
REASON_RECORDED = 0.75
ASSISTANCE = (("none", 0.80), ("read_aloud", 0.14), ("staff_recorded", 0.06))

# --- recently randomized participants (after the paper's data cut-off) ----------------------
#: Days before the as-of date on which they were randomized, with what they have done:
#: "b" baseline completed, "B" baseline started but not submitted, "6" 6-month form completed.
RECENT: tuple[tuple[int, str], ...] = (
    (205, "b6"),
    (196, "b"),
    (188, "b"),
    (148, "b"),
    (121, "b"),
    (93, ""),
    (61, "b"),
    (33, "b"),
    (12, "B"),
    (9, "b"),
    (5, ""),
    (2, "b"),
)
#: Days between the paper cohort's data cut-off and the first recent randomization.
RECENT_GAP = 25


@dataclass(frozen=True)
class VisitDays:
    """A visit's window in study days, over every possible calendar.

    ``target`` is the range of days between randomization and the target
    date (6 calendar months is 181 to 184 days); ``safe`` the days inside
    the window whatever the calendar; ``end`` the range of the window's last
    day.
    """

    code: str
    months: int
    target: tuple[int, int]
    safe: tuple[int, int]
    end: tuple[int, int]


@cache
def _month_span(months: int) -> tuple[int, int]:
    """Fewest and most days that ``months`` calendar months can last (over a 28-year cycle)."""
    spans = set()
    day = dt.date(2000, 1, 1)
    while day.year < 2028:
        index = day.month - 1 + months
        year, month = day.year + index // 12, index % 12 + 1
        target = dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
        spans.add((target - day).days)
        day += dt.timedelta(days=1)
    return min(spans), max(spans)


def visit_days(spec: VisitSpec) -> VisitDays:
    low, high = _month_span(spec.months)
    return VisitDays(
        code=spec.code,
        months=spec.months,
        target=(low, high),
        safe=(high - spec.before, low + spec.after),
        end=(low + spec.after, high + spec.after),
    )


VISITS: tuple[VisitDays, ...] = tuple(visit_days(spec) for spec in E2108_VISITS)
VISIT_CODES = tuple(v.code for v in VISITS)
#: Leaving the study this close to a possible window end is moved later (days).
END_MARGIN = 3


@dataclass(frozen=True)
class PlannedForm:
    """A form answered on the tablet: ``day`` is the study day, ``minute`` the local time."""

    visit: str
    day: int
    minute: int
    answers: Mapping[str, int | None]
    declined: tuple[str, ...]
    assistance: str
    page_seconds: Mapping[str, int]
    submitted: bool = True


@dataclass(frozen=True)
class PlannedMiss:
    """A form due while she was on study and not completed; the reason the coordinator gave."""

    visit: str
    reason: str
    text: str
    #: days after the window closed that the reason was recorded
    recorded_after: int


@dataclass(frozen=True)
class PlannedParticipant:
    number: int
    arm: str
    site: str
    language: str
    #: trial day of randomization
    randomized: int
    forms: tuple[PlannedForm, ...]
    misses: tuple[PlannedMiss, ...]
    #: study day she died or left the study, and why (None: on study at the as-of date)
    off_day: int | None
    off_reason: str
    #: days after leaving that it was recorded
    off_recorded_after: int
    recent: bool = False

    @property
    def study_id(self) -> str:
        return f"E2108-{self.number:04d}"


@dataclass(frozen=True)
class DemoPlan:
    seed: int
    participants: tuple[PlannedParticipant, ...]
    #: trial day of the paper cohort's data cut-off: every window of theirs has closed
    cutoff_day: int
    #: trial day of the last data (a form, a recorded reason or off-study record)
    last_data_day: int
    #: trial day that is the as-of date
    as_of_day: int

    @property
    def cohort(self) -> tuple[PlannedParticipant, ...]:
        """The paper's 256 randomized women (not the recently randomized)."""
        return tuple(p for p in self.participants if not p.recent)


# --------------------------------------------------------------------------- drawing helpers


def _weighted(rng: random.Random, choices: Sequence[tuple[str, float]]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def _spread(rng: random.Random, items: Sequence[Item], total: int) -> dict[str, int]:
    """Scored item values (0-4, higher = better) adding up to ``total``, spread naturally."""
    n = len(items)
    total = max(0, min(4 * n, total))
    level = total / n
    values = [min(4, max(0, round(level + rng.gauss(0, 0.75)))) for _ in items]
    while (gap := total - sum(values)) != 0:
        step = 1 if gap > 0 else -1
        room = [i for i, v in enumerate(values) if 0 <= v + step <= 4]
        values[rng.choice(room)] += step
    return {item.code: value for item, value in zip(items, values, strict=True)}


def _raw(item: Item, scored: int) -> int:
    """The answer a patient ticks for a scored value (reversed items are 4 - scored)."""
    return 4 - scored if item.reversed else scored


def _split_toi(rng: random.Random, toi: int) -> tuple[int, int, int]:
    """PWB (0-28), FWB (0-28), BCS (0-40) adding up to ``toi`` (0-96)."""
    toi = min(96, max(0, toi))
    pwb = min(28, max(0, round(toi * 28 / 96 + rng.gauss(0, 1.6))))
    fwb = min(28, max(0, round(toi * 28 / 96 + rng.gauss(0, 1.8))))
    bcs = toi - pwb - fwb
    while bcs > 40 or bcs < 0:
        step = 1 if bcs > 40 else -1
        if 0 <= pwb + step <= 28:
            pwb += step
        elif 0 <= fwb + step <= 28:
            fwb += step
        bcs = toi - pwb - fwb
    return pwb, fwb, bcs


def _toi_from_z(z: float, mean: float, sd: float) -> float:
    """96 minus a log-normal with the given mean and SD: a left-skewed TOI."""
    m, s = 96.0 - mean, sd
    sigma2 = math.log(1 + (s / m) ** 2)
    return max(0.0, 96.0 - math.exp(math.log(m) - sigma2 / 2 + math.sqrt(sigma2) * z))


# --------------------------------------------------------------------------- one woman


@dataclass
class _Woman:
    number: int
    arm: str
    site: str
    language: str
    randomized: int
    level: float  # her quality-of-life level (SD units)
    symptoms: float  # her locoregional symptom burden (SD units)
    propensity: float  # her tendency to complete forms
    off_day: int | None = None
    off_reason: str = ""
    off_recorded_after: int = 0


def _off_study(rng: random.Random, woman: _Woman) -> tuple[int, str]:
    """Death (Weibull with frailty), withdrawal or loss to follow-up: the first one."""
    scale = WEIBULL_SCALE_A * (HAZARD_RATIO_B if woman.arm == "B" else 1.0) ** (-1 / WEIBULL_SHAPE)
    hazard = math.exp(-FRAILTY * woman.level)
    months = scale * (rng.expovariate(1.0) / hazard) ** (1 / WEIBULL_SHAPE)
    events = [(round(months * DAYS_PER_MONTH), "death")]
    for reason, (p, first, last) in (("withdrawal", WITHDRAWAL), ("lost_to_follow_up", LOST)):
        day = rng.randint(first, last)
        if rng.random() < p:
            events.append((day, reason))
    day, reason = min(events)
    return max(day, 20), reason


def _clear_of_window_ends(day: int) -> int:
    """Move a leaving day off the few days where a window may or may not have closed."""
    for visit in VISITS:
        low, high = visit.end
        if low - END_MARGIN <= day <= high + END_MARGIN:
            return high + END_MARGIN + 1
    return day


def _form(
    rng: random.Random,
    woman: _Woman,
    visit: str,
    day: int,
    toi: int,
    submitted: bool = True,
) -> PlannedForm:
    items = instrumentation.items(INSTRUMENT_VERSION)
    by_scale: dict[str, list[Item]] = {}
    for item in items.values():
        by_scale.setdefault(item.subscale, []).append(item)
    pwb, fwb, bcs = _split_toi(rng, toi)
    swb = round(min(28, max(0, 19.5 + 4.5 * (0.45 * woman.level + rng.gauss(0, 0.9)))))
    ewb = round(min(24, max(0, 16.5 + 4.0 * (0.55 * woman.level + rng.gauss(0, 0.8)))))
    scored: dict[str, int] = {}
    for scale, total in (("PWB", pwb), ("SWB", swb), ("EWB", ewb), ("FWB", fwb), ("BCS", bcs)):
        scored.update(_spread(rng, by_scale[scale], total))
    answers: dict[str, int | None] = {}
    declined: list[str] = []
    for code, item in items.items():
        if item.subscale == "LR":  # symptom burden, same distribution in both arms
            burden = 0.9 + 0.75 * woman.symptoms + rng.gauss(0, 0.85)
            answers[code] = min(4, max(0, round(burden)))
        else:
            answers[code] = _raw(item, scored[code])
        if code == "GS7" and rng.random() < GS7_DECLINED:
            answers[code] = None
            declined.append(code)
        elif rng.random() < ITEM_BLANK:
            answers[code] = None
    if not submitted:  # started on the tablet, about half answered so far
        codes = list(answers)
        answers = {c: (answers[c] if i < len(codes) // 2 else None) for i, c in enumerate(codes)}
        declined = [
            c for c in declined if answers.get(c) is None and codes.index(c) < len(codes) // 2
        ]
    minute = rng.randint(9 * 60, 15 * 60 + 30)
    if day == 0:
        minute = max(minute, 12 * 60)  # after the randomization call at 11:00
    pace = 1.0 + 0.35 * abs(rng.gauss(0, 1))
    return PlannedForm(
        visit=visit,
        day=day,
        minute=minute,
        answers=answers,
        declined=tuple(declined),
        assistance=_weighted(rng, ASSISTANCE),
        page_seconds={
            section: round(seconds * pace)
            for section, seconds in (
                ("PWB", 95),
                ("SWB", 110),
                ("EWB", 80),
                ("FWB", 100),
                ("BCS", 130),
                ("LR", 120),
            )
        },
        submitted=submitted,
    )


def _form_day(rng: random.Random, visit: VisitDays) -> int:
    """A study day inside the window whatever the calendar, near the target date."""
    low, high = visit.safe
    if visit.months == 0:
        return min(high, int(abs(rng.gauss(0, 4))))  # baseline: at or soon after randomization
    centre = (visit.target[0] + visit.target[1]) // 2
    return min(high - 1, max(low + 1, round(centre + rng.gauss(0, 9))))


def _miss(rng: random.Random, visit: str) -> PlannedMiss:
    if rng.random() >= REASON_RECORDED:
        return PlannedMiss(visit, "", "", 0)
    reason = _weighted(rng, MISSED_REASONS)
    return PlannedMiss(
        visit,
        reason,
        rng.choice(OTHER_REASONS) if reason == "other" else "",
        rng.randint(9, 45),
    )


# --------------------------------------------------------------------------- the whole trial


def _women(rng: random.Random) -> list[_Woman]:
    arms = [arm for arm, n in N_RANDOMIZED.items() for _ in range(n)]
    rng.shuffle(arms)
    # Accrual picks up over the first year: randomization days from a rising density.
    days = sorted(
        FIRST_RANDOMIZATION_DAY + round(ACCRUAL_DAYS * rng.random() ** 0.85) for _ in arms
    )
    days[0], days[-1] = FIRST_RANDOMIZATION_DAY, FIRST_RANDOMIZATION_DAY + ACCRUAL_DAYS
    women = []
    for number, (arm, day) in enumerate(zip(arms, days, strict=True), start=1):
        site, _, spanish = SITES[
            rng.choices(range(len(SITES)), weights=[w for _, w, _ in SITES])[0]
        ]
        woman = _Woman(
            number=number,
            arm=arm,
            site=site,
            language="es" if rng.random() < spanish else "en",
            randomized=day,
            level=rng.gauss(0, 1),
            symptoms=rng.gauss(0, 1),
            propensity=rng.gauss(0, 1),
        )
        off_day, reason = _off_study(rng, woman)
        woman.off_day, woman.off_reason = _clear_of_window_ends(off_day), reason
        woman.off_recorded_after = rng.randint(2, 21)
        women.append(woman)
    return women


def _due(woman: _Woman, visit: VisitDays) -> bool:
    """On study when the window closed (the last possible window end, kept clear of)."""
    return woman.off_day is None or woman.off_day > visit.end[1]


def _completes(rng: random.Random, woman: _Woman, visit: VisitDays) -> bool:
    chance = COMPLETION[visit.code] + 0.05 * woman.propensity + 0.04 * woman.level
    return rng.random() < min(0.98, max(0.05, chance))


def build_plan(seed: int = SEED) -> DemoPlan:
    """The whole demo trial in trial time (deterministic in ``seed``)."""
    rng = random.Random(seed)
    women = _women(rng)
    # Per visit: who completes the form (and on which day), and her latent TOI.
    z: dict[tuple[int, str], float] = {}
    done: dict[tuple[int, str], int] = {}
    for woman in women:
        for visit in VISITS:
            z[woman.number, visit.code] = VISIT_CORRELATION * woman.level + math.sqrt(
                1 - VISIT_CORRELATION**2
            ) * rng.gauss(0, 1)
            day = _form_day(rng, visit)
            alive = woman.off_day is None or day < woman.off_day
            if alive and _completes(rng, woman, visit):
                done[woman.number, visit.code] = day
    tois: dict[tuple[int, str], int] = {}
    for arm, margins in TOI_MARGINS.items():
        for code, (mean, sd) in margins.items():
            keys = [(w.number, code) for w in women if w.arm == arm and (w.number, code) in done]
            values = [_toi_from_z(z[k], mean, sd) for k in keys]
            if code == MATCHED_VISIT and len(values) > 1:
                m = sum(values) / len(values)
                s = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))
                values = [mean + (v - m) * sd / s for v in values]
            tois.update(
                {k: round(min(96.0, max(0.0, v))) for k, v in zip(keys, values, strict=True)}
            )

    cohort: list[PlannedParticipant] = []
    for woman in women:
        forms: list[PlannedForm] = []
        misses: list[PlannedMiss] = []
        for visit in VISITS:
            key = (woman.number, visit.code)
            if key in done:
                forms.append(_form(rng, woman, visit.code, done[key], tois[key]))
            elif _due(woman, visit):
                misses.append(_miss(rng, visit.code))
        cohort.append(_participant(woman, forms, misses))

    cutoff_day = max(p.randomized + VISITS[-1].end[1] for p in cohort) + 10
    first_recent = cutoff_day + RECENT_GAP
    as_of_day = first_recent + RECENT[0][0]
    recent = _recent(rng, start_number=len(cohort) + 1, as_of_day=as_of_day)
    everyone = _censor(cohort, as_of_day) + recent
    return DemoPlan(
        seed=seed,
        participants=tuple(everyone),
        cutoff_day=cutoff_day,
        last_data_day=max(_last_day(p) for p in everyone),
        as_of_day=as_of_day,
    )


def _participant(
    woman: _Woman, forms: list[PlannedForm], misses: list[PlannedMiss], recent: bool = False
) -> PlannedParticipant:
    return PlannedParticipant(
        number=woman.number,
        arm=woman.arm,
        site=woman.site,
        language=woman.language,
        randomized=woman.randomized,
        forms=tuple(forms),
        misses=tuple(misses),
        off_day=woman.off_day,
        off_reason=woman.off_reason if woman.off_day is not None else "",
        off_recorded_after=woman.off_recorded_after,
        recent=recent,
    )


def _censor(cohort: list[PlannedParticipant], as_of_day: int) -> list[PlannedParticipant]:
    """Nothing after the as-of date: later deaths and departures are not known yet."""
    out = []
    for p in cohort:
        if p.off_day is not None and p.randomized + p.off_day + p.off_recorded_after >= as_of_day:
            p = PlannedParticipant(**{**p.__dict__, "off_day": None, "off_reason": ""})
        out.append(p)
    return out


def _recent(rng: random.Random, *, start_number: int, as_of_day: int) -> list[PlannedParticipant]:
    out = []
    arms = ["A", "B"] * len(RECENT)
    for i, (days_ago, done) in enumerate(RECENT):
        site, _, spanish = SITES[i % len(SITES)]
        woman = _Woman(
            number=start_number + i,
            arm=arms[i],
            site=site,
            language="es" if rng.random() < spanish else "en",
            randomized=as_of_day - days_ago,
            level=rng.gauss(0, 1),
            symptoms=rng.gauss(0, 1),
            propensity=rng.gauss(0, 1),
        )
        forms = []
        if "b" in done or "B" in done:
            # the newest one answered yesterday: the demo's last data, just before the as-of date
            day = days_ago - 1 if days_ago <= 2 else min(days_ago - 1, _form_day(rng, VISITS[0]))
            toi = round(_toi_from_z(woman.level, *TOI_MARGINS[woman.arm]["baseline"]))
            forms.append(_form(rng, woman, "baseline", day, toi, submitted="b" in done))
        if "6" in done:
            day = min(days_ago - 2, VISITS[1].safe[0] + 10)
            toi = round(_toi_from_z(woman.level, *TOI_MARGINS[woman.arm]["m6"]))
            forms.append(_form(rng, woman, "m6", day, toi))
        misses = [
            _miss(rng, v.code)
            for v in VISITS
            if v.end[1] + 40 < days_ago and v.code not in {f.visit for f in forms}
        ]
        out.append(_participant(woman, forms, misses, recent=True))
    return out


def _last_day(p: PlannedParticipant) -> int:
    days = [p.randomized]
    days += [p.randomized + f.day for f in p.forms]
    if p.off_day is not None:
        days.append(p.randomized + p.off_day + p.off_recorded_after)
    return max(days)
