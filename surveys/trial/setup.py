"""Trial set-up from a protocol description (used by the demo seed and tests)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction

from surveys import instrumentation
from surveys.models import Arm, Trial, Visit
from surveys.models.trial import DEFAULT_STUDY_ID_PATTERN


@dataclass(frozen=True)
class VisitSpec:
    code: str
    label: str
    months: int
    before: int
    after: int


E2108_VISITS = (
    VisitSpec("baseline", "Baseline", 0, 28, 14),
    VisitSpec("m6", "6 months", 6, 30, 30),
    VisitSpec("m18", "18 months", 18, 45, 45),
    VisitSpec("m30", "30 months", 30, 45, 45),
)
#: E2108 randomized its first participant in February 2011.
E2108_START = dt.date(2011, 2, 1)
#: E2108 study ids: the protocol, a dash and four digits.
E2108_STUDY_ID_PATTERN = r"^E2108-\d{4}$"
E2108_ARMS = (
    ("A", "Continued systemic therapy"),
    ("B", "Early locoregional therapy"),
)


@transaction.atomic
def trial_create(
    *,
    protocol_id: str,
    title: str,
    start_date: dt.date,
    study_id_pattern: str = DEFAULT_STUDY_ID_PATTERN,
    arms: tuple[tuple[str, str], ...] = E2108_ARMS,
    visits: tuple[VisitSpec, ...] = E2108_VISITS,
    instrument_codes: tuple[str, ...] = ("FACT-B", "E2108-LR"),
    sponsor: str = "",
    registry_id: str = "",
    participants_sex: str = "",
) -> Trial:
    trial = Trial(
        protocol_id=protocol_id,
        title=title,
        sponsor=sponsor,
        registry_id=registry_id,
        participants_sex=participants_sex,
        start_date=start_date,
        study_id_pattern=study_id_pattern,
        instrument_codes=list(instrument_codes),
        instrument_version=instrumentation.pin(instrument_codes),
    )
    trial.full_clean()
    trial.save()
    Arm.objects.bulk_create(Arm(trial=trial, code=code, label=label) for code, label in arms)
    Visit.objects.bulk_create(
        Visit(
            trial=trial,
            code=spec.code,
            label=spec.label,
            number=number,
            months_after_randomization=spec.months,
            window_before_days=spec.before,
            window_after_days=spec.after,
            is_baseline=spec.months == 0,
        )
        for number, spec in enumerate(visits, start=1)
    )
    return trial


def trial_create_e2108(*, start_date: dt.date = E2108_START) -> Trial:
    return trial_create(
        protocol_id="E2108",
        start_date=start_date,
        study_id_pattern=E2108_STUDY_ID_PATTERN,
        title=(
            "Early local therapy for the primary tumour in de novo stage IV breast cancer: "
            "quality of life"
        ),
        sponsor="ECOG-ACRIN Cancer Research Group",
        registry_id="NCT01242800",
        participants_sex=Trial.Sex.FEMALE,
    )
