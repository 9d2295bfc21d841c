"""What the CDISC datasets are built from, read once per package.

:func:`load` runs a handful of set-based queries (participants, forms, stored
answers, corrections) and derives, in pandas, each form's status as of the data
cut-off, its date, the participant's reference date (DM.RFSTDTC) and the
epoch. Every dataset of the package (DM, DS, TS, QS, SUPPQS, ADSL, ADQS) and
the ODM file are built from one :class:`Source`, so they agree with each other.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from surveys.models import Assessment, Trial
from surveys.statistician.exports.datasets import _local, _study_day, _usubjid
from surveys.statistician.exports.filters import ExportFilters
from surveys.statistician.exports.queries import (
    answers_query,
    corrections_query,
    fetch_frame,
    forms_query,
    participants_query,
)

COMPLETED = "COMPLETED"
INCOMPLETE = "INCOMPLETE"
IN_PROGRESS = "IN PROGRESS"
NOT_DONE = "NOT DONE"


@dataclass
class Source:
    filters: ExportFilters
    #: one row per participant: ids, site, arm, dates, usubjid, rfstdtc (datetime64)
    participants: pd.DataFrame
    #: one row per form in QS: context, fstat, form_local (datetime64, NaT when not done)
    forms: pd.DataFrame
    #: the stored answers of those forms saved by the cut-off, with saved_local
    answers: pd.DataFrame
    #: the latest correction of each corrected answer
    corrections: pd.DataFrame

    def trials(self) -> list[Trial]:
        protocols = sorted(set(self.participants["studyid"]))
        if self.filters.trial:
            protocols = [self.filters.trial]
        return list(Trial.objects.filter(protocol_id__in=protocols).order_by("protocol_id"))


def _end_of(cutoff: dt.date) -> pd.Timestamp:
    return pd.Timestamp(cutoff) + pd.Timedelta(days=1)


def _baseline_dates(participants: pd.DataFrame) -> pd.Series:
    """Site-local date of each participant's completed baseline form (any visit filter)."""
    rows = list(
        Assessment.objects.filter(
            participant_id__in=participants["participant_id"].astype(int).tolist(),
            visit__is_baseline=True,
            status=Assessment.Status.COMPLETED,
        ).values_list("participant_id", "completed_at", "participant__site__timezone")
    )
    if not rows:
        return pd.Series(pd.NaT, index=participants.index, dtype="datetime64[s]")
    frame = pd.DataFrame(rows, columns=["participant_id", "completed_at", "tz"])
    frame["completed_at"] = pd.to_datetime(frame["completed_at"], utc=True)
    local = _local(frame["completed_at"], frame["tz"]).dt.floor("D")
    by_participant = pd.Series(local.to_numpy(), index=frame["participant_id"].to_numpy())
    by_participant = by_participant.groupby(level=0).min()
    return participants["participant_id"].astype(int).map(by_participant).astype("datetime64[s]")


def _participants(filters: ExportFilters) -> pd.DataFrame:
    people = fetch_frame(participants_query(filters))
    people["usubjid"] = _usubjid(people["studyid"], people["subjid"])
    reference = people["randomized_on"].copy()
    by_baseline = (people["day_reference"] == Trial.StudyDayReference.BASELINE).to_numpy()
    if by_baseline.any():
        baseline = _baseline_dates(people)
        reference = reference.where(~by_baseline | baseline.isna(), baseline)
    people["rfstdtc"] = reference.astype("datetime64[s]")
    return people


def epoch(date: pd.Series, rfstdtc: pd.Series, off_study_on: pd.Series) -> np.ndarray:
    """MT.EPOCH: SCREENING before RFSTDTC, FOLLOW-UP after going off study, else TREATMENT."""
    day = date.dt.floor("D")
    out = np.where(day < rfstdtc, "SCREENING", "TREATMENT").astype(object)
    out[(off_study_on.notna() & (day > off_study_on)).to_numpy()] = "FOLLOW-UP"
    out[date.isna().to_numpy()] = ""
    return out


def load(filters: ExportFilters) -> Source:
    """Read everything the package needs for *filters* (one query per table shape)."""
    people = _participants(filters)
    forms = fetch_frame(forms_query(filters))
    answers = fetch_frame(answers_query(filters))
    corrections = fetch_frame(corrections_query(filters))

    tz_of = pd.Series(forms["tz"].to_numpy(), index=forms["assessment_id"].to_numpy())
    answers = answers.loc[answers["assessment_id"].isin(forms["assessment_id"]).to_numpy()]
    answers = answers.reset_index(drop=True)
    answers["saved_local"] = _local(answers["saved_at"], answers["assessment_id"].map(tz_of))
    forms["completed_local"] = _local(forms["completed_at"], forms["tz"])
    status = forms["status"].to_numpy(dtype=object)
    completed = status == Assessment.Status.COMPLETED
    missed_closed = status == Assessment.Status.MISSED
    partial_closed = status == Assessment.Status.PARTIAL
    if filters.cutoff is not None:
        end = _end_of(filters.cutoff)
        answers = answers.loc[(answers["saved_local"] < end).to_numpy()].reset_index(drop=True)
        # As of the cut-off: a form submitted later was still in progress, a missed form
        # whose window closed later was still open.
        completed &= (forms["completed_local"] < end).to_numpy()
        closed_by_cutoff = (forms["window_end"] <= pd.Timestamp(filters.cutoff)).to_numpy()
        missed_closed &= closed_by_cutoff
        partial_closed &= closed_by_cutoff
    last_saved = answers.groupby("assessment_id")["saved_local"].max()
    forms["last_local"] = forms["assessment_id"].map(last_saved).astype("datetime64[us]")
    has_answers = forms["last_local"].notna().to_numpy()
    final = np.isin(
        status,
        [Assessment.Status.MISSED, Assessment.Status.PARTIAL, Assessment.Status.NOT_EXPECTED],
    )
    if filters.cutoff is not None:
        final &= missed_closed | partial_closed | (status == Assessment.Status.NOT_EXPECTED)
    fstat = np.full(len(forms), "", dtype=object)
    fstat[has_answers] = IN_PROGRESS
    fstat[has_answers & final] = INCOMPLETE
    fstat[~has_answers & missed_closed] = NOT_DONE
    fstat[completed] = COMPLETED
    forms["fstat"] = fstat
    forms = forms.loc[fstat != ""].reset_index(drop=True)
    forms["form_local"] = forms["completed_local"].where(
        forms["fstat"] == COMPLETED, forms["last_local"]
    )
    forms.loc[forms["fstat"] == NOT_DONE, "form_local"] = pd.NaT
    answers = answers.loc[answers["assessment_id"].isin(forms["assessment_id"]).to_numpy()]
    answers = answers.reset_index(drop=True)

    forms["usubjid"] = _usubjid(forms["studyid"], forms["subjid"])
    ref = people.set_index("usubjid")["rfstdtc"]
    forms["rfstdtc"] = forms["usubjid"].map(ref).astype("datetime64[s]")
    forms["form_day"] = _study_day(forms["form_local"], forms["rfstdtc"])
    when = forms["form_local"].fillna(forms["target_date"].astype("datetime64[us]"))
    forms["epoch"] = epoch(when, forms["rfstdtc"], forms["off_study_on"])
    return Source(filters, people, forms, answers, corrections)


def iso_date(values: pd.Series) -> pd.Series:
    return values.dt.strftime("%Y-%m-%d").astype(object).where(values.notna(), "")


def iso_minute(values: pd.Series) -> pd.Series:
    return values.dt.strftime("%Y-%m-%dT%H:%M").astype(object).where(values.notna(), "")
