"""Frozen snapshots of the analysis data: what an analysis run analysed, byte for byte.

A snapshot has one row per assessment (participant × visit) of every
participant randomized by the data cut-off, with the assessment's state *as
of the cut-off* and, for the forms received by then, their scores:

``participant_id, arm, visit, visit_number, site`` — who and when;
``state`` — ``received``, ``missed`` (window closed while she was alive and
on study), ``died`` or ``off_study`` (she left before the window closed),
``window_open`` (not closed at the cut-off); ``missed_reason`` (the
coordinator's reason, ``unrecorded`` when none);
``day`` — days from randomization to the form (received forms);
``death_day``, ``off_study_day`` — days from randomization to death, or to
leaving the study for another reason, when that was on or before the
cut-off; ``followup_day`` — days from randomization to the cut-off;
then the score columns as ``scoring.compare`` expects them (PWB … TOI, LR1 …).

"As of the cut-off" is recomputed from dates, not read from today's
statuses: a form completed after the cut-off was open (or not yet due)
then; a participant who left the study after the cut-off was on study then;
a participant randomized after it is not in the snapshot. The cut-off day
is inclusive and site-local (a form completed on that day in its site's
time zone is in). Without a cut-off the snapshot is as of the moment the run
froze it.

Written as Parquet (doubles stored exactly) and identified by the SHA-256 of
the file; a re-run reads the file back and checks the hash before using it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import zoneinfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from django.db.models import Max

from scoring.instruments import LR_ITEM_CODES
from surveys.models import SCORE_CODES, Assessment, Participant
from surveys.schedule import local_midnight
from surveys.statistician.analysis.compute import received_scores as received_scores
from surveys.statistician.exports.datasets import scored_wide
from surveys.statistician.exports.filters import ExportFilters

KEY_COLUMNS = {
    "SUBJID": "participant_id",
    "ARMCD": "arm",
    "VISITCD": "visit",
    "VISITNUM": "visit_number",
    "SITEID": "site",
}
FORMAT_TAG = b"ecogprom analysis snapshot 2"
#: The state of an assessment as of the cut-off (scoring.completion's states).
STATES = ("received", "missed", "died", "off_study", "window_open")
UNRECORDED = "unrecorded"
CONTEXT_COLUMNS = (
    "participant_id",
    "arm",
    "visit",
    "visit_number",
    "site",
    "state",
    "missed_reason",
    "day",
    "death_day",
    "off_study_day",
    "followup_day",
)


class SnapshotMismatch(Exception):
    """The stored snapshot file is not the one the run recorded (hash differs)."""


def _ends(cutoff: dt.date | None, now: dt.datetime, zones: pd.Series) -> pd.Series:
    """Per row: the instant the data end (the midnight after the cut-off day, site-local)."""
    if cutoff is None:
        return pd.Series(pd.Timestamp(now).tz_convert("UTC"), index=zones.index)
    after = cutoff + dt.timedelta(days=1)
    by_zone = {
        zone: pd.Timestamp(local_midnight(after, zoneinfo.ZoneInfo(zone))).tz_convert("UTC")
        for zone in zones.unique()
    }
    return zones.map(by_zone)


def assessments_as_of(filters: ExportFilters, *, now: dt.datetime) -> pd.DataFrame:
    """Every assessment of the participants randomized by the cut-off, in its state then.

    Columns: :data:`CONTEXT_COLUMNS`. The rules are the status machine's
    (``Assessment.status_when_off_study``) applied to the dates: she left
    before the window closed (window end on or after the off-study date) —
    died or off study; otherwise the window closed by the cut-off — missed;
    otherwise — window open.
    """
    rows = Assessment.objects.filter(participant__randomized_on__lte=filters.cutoff or now.date())
    if filters.trial:
        rows = rows.filter(participant__trial__protocol_id=filters.trial)
    if filters.sites:
        rows = rows.filter(participant__site__code__in=filters.sites)
    rows = rows.annotate(last_answer_at=Max("responses__saved_at"))
    fields = {
        "participant_id": "participant__study_id",
        "arm": "participant__arm__code",
        "visit": "visit__code",
        "visit_number": "visit__number",
        "site": "participant__site__code",
        "tz": "participant__site__timezone",
        "randomized_on": "participant__randomized_on",
        "off_study_on": "participant__off_study_on",
        "off_study_reason": "participant__off_study_reason",
        "window_end": "window_end",
        "closes_at": "closes_at",
        "completed_at": "completed_at",
        "status": "status",
        "last_answer_at": "last_answer_at",
        "missed_reason_code": "missed_reason",
    }
    frame = pd.DataFrame.from_records(
        list(rows.values_list(*fields.values())), columns=list(fields)
    )
    if frame.empty:
        return pd.DataFrame(
            {c: pd.Series(dtype=object if c in {"participant_id", "arm", "visit", "site",
                                                "state", "missed_reason"} else "float64")
             for c in CONTEXT_COLUMNS}
        )  # fmt: skip
    frame["visit_number"] = frame["visit_number"].astype("int64")
    end = _ends(filters.cutoff, now, frame["tz"])
    last_day = filters.cutoff or now.date()
    completed = pd.to_datetime(frame["completed_at"], utc=True)
    closes = pd.to_datetime(frame["closes_at"], utc=True)
    randomized = pd.to_datetime(frame["randomized_on"])
    off_on = pd.to_datetime(frame["off_study_on"])
    left = off_on.notna() & (off_on <= pd.Timestamp(last_day))
    left_before_close = left & (pd.to_datetime(frame["window_end"]) >= off_on)
    died = frame["off_study_reason"] == Participant.OffStudyReason.DEATH
    closed = closes <= end
    # Received (docs/trial-data.md): submitted by the cut-off, or a partial form (started,
    # never submitted) whose window had closed, or whose participant had left, by then.
    # A partial form's date is its last answer's.
    partial = (frame["status"] == Assessment.Status.PARTIAL) & (closed | left_before_close)
    last_answer = pd.to_datetime(frame["last_answer_at"], utc=True)
    completed = completed.where(~partial, last_answer)
    received = completed.notna() & (completed < end)
    frame["state"] = np.select(
        [received, left_before_close & died, left_before_close, closed],
        ["received", "died", "off_study", "missed"],
        default="window_open",
    )
    reason = frame["missed_reason_code"].replace("", UNRECORDED)
    frame["missed_reason"] = reason.where(frame["state"] == "missed", "")
    local_completed = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    for zone in frame["tz"].unique():
        mask = (frame["tz"] == zone) & received
        local_completed[mask] = (
            completed[mask].dt.tz_convert(str(zone)).dt.tz_localize(None).dt.floor("D")
        )
    frame["day"] = (local_completed - randomized).dt.days.astype("float64")
    off_days = (off_on - randomized).dt.days.astype("float64")
    frame["death_day"] = off_days.where(left & died)
    frame["off_study_day"] = off_days.where(left & ~died)
    frame["followup_day"] = (pd.Timestamp(last_day) - randomized).dt.days.astype("float64")
    return frame[list(CONTEXT_COLUMNS)]


def freeze(filters: ExportFilters, *, now: dt.datetime) -> pd.DataFrame:
    """The snapshot table the filters select, as of their cut-off (or *now*)."""
    context = assessments_as_of(filters, now=now)
    wide = scored_wide(filters)
    scores = [c for c in (*SCORE_CODES, *LR_ITEM_CODES) if c in wide.columns]
    scored = wide[["SUBJID", "VISITCD", *scores]].rename(
        columns={"SUBJID": "participant_id", "VISITCD": "visit"}
    )
    frame = context.merge(
        scored, on=["participant_id", "visit"], how="left", validate="1:1", indicator=True
    )
    scored_rows = frame.pop("_merge") == "both"
    if (
        len(scored) != int(scored_rows.sum())
        or (scored_rows & (frame["state"] != "received")).any()
    ):
        # Both sides apply the same cut-off: a mismatch is a bug, never bad data.
        raise AssertionError("the scored forms and the assessments as of the cut-off disagree")
    return frame.sort_values(["visit_number", "participant_id"], kind="stable").reset_index(
        drop=True
    )


def to_bytes(frame: pd.DataFrame) -> bytes:
    """Parquet bytes; the same table always gives the same bytes (same library versions)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({b"ecogprom": FORMAT_TAG})
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="snappy")
    return sink.getvalue()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def from_bytes(data: bytes, expected_hash: str | None = None) -> pd.DataFrame:
    if expected_hash is not None and digest(data) != expected_hash:
        raise SnapshotMismatch(
            f"snapshot file hash {digest(data)[:12]}... differs from the recorded "
            f"{expected_hash[:12]}...; the file was changed or replaced"
        )
    return pq.read_table(io.BytesIO(data)).to_pandas()
