"""Dataset builders: item-level long and wide, scored wide (CDISC datasets: ``cdisc/``).

Plain functions from filters to a pandas DataFrame whose columns are the
dataset's spec (:mod:`surveys.statistician.exports.spec`), in order. Each reads a few
set-based queries (:mod:`surveys.statistician.exports.queries`) and derives everything
else with vectorised pandas; no ORM object is built per row. Participants
appear by study id only and dates as study days, unless the filters ask for
calendar dates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from scoring.instruments import FACTB_ITEM_CODES, ITEMS, LR_ITEM_CODES, RESPONSE_SCALE
from surveys import instrumentation
from surveys.models import SCORE_CODES, Arm, Assessment, Site, Trial, Visit
from surveys.statistician.exports.filters import ExportFilters
from surveys.statistician.exports.queries import (
    completed_query,
    fetch_frame,
    responses_query,
    scored_query,
)
from surveys.statistician.exports.spec import (
    ITEMS_SPEC,
    ITEMS_WIDE_SPEC,
    SCORED_SPEC,
    Context,
    DatasetSpec,
)

ARM_INSTRUMENT = "FACT-B+4"
LR_INSTRUMENT = "E2108-LR"
NOT_DONE = "NOT DONE"
SUBSCALE_NAMES = {
    "PWB": "PHYSICAL WELL-BEING",
    "SWB": "SOCIAL/FAMILY WELL-BEING",
    "EWB": "EMOTIONAL WELL-BEING",
    "FWB": "FUNCTIONAL WELL-BEING",
    "BCS": "ADDITIONAL CONCERNS",
    "ARM": "ARM SUBSCALE",
    "LR": "LOCOREGIONAL ITEMS",
}
RESPONSE_LABELS = {float(o.value): o.label_en for o in RESPONSE_SCALE}


# --------------------------------------------------------------------------- helpers


def _trials(filters: ExportFilters) -> Any:
    qs = Trial.objects.all()
    return qs.filter(protocol_id=filters.trial) if filters.trial else qs


def instruments_in_scope(filters: ExportFilters) -> set[str]:
    """Instrument codes given by the trial(s) the export covers."""
    codes: set[str] = set()
    for listed in _trials(filters).values_list("instrument_codes", flat=True):
        codes.update(listed or [])
    return codes


def codebook_context(filters: ExportFilters) -> Context:
    trials = _trials(filters)
    arms = Arm.objects.filter(trial__in=trials).order_by("code")
    if filters.arms:
        arms = arms.filter(code__in=filters.arms)
    visits = Visit.objects.filter(trial__in=trials).order_by("number")
    if filters.visits:
        visits = visits.filter(code__in=filters.visits)
    sites = Site.objects.order_by("code")
    if filters.sites:
        sites = sites.filter(code__in=filters.sites)
    return Context(
        studies=tuple(trials.order_by("protocol_id").values_list("protocol_id", flat=True)),
        arms=dict(arms.values_list("code", "label")),
        visits=tuple(visits.values_list("number", "code", "label").distinct()),
        sites=tuple(sites.values_list("code", flat=True)),
    )


def _local(utc: pd.Series, tz: pd.Series) -> pd.Series:
    """UTC instants as naive site-local date-times (one conversion per time zone)."""
    out = pd.Series(pd.NaT, index=utc.index, dtype="datetime64[us]")
    zones = tz.to_numpy(dtype=object)
    for zone in pd.unique(zones):
        mask = zones == zone
        out[mask] = utc[mask].dt.tz_convert(str(zone)).dt.tz_localize(None).astype("datetime64[us]")
    return out


def _study_day(date: pd.Series, origin: pd.Series) -> pd.Series:
    """SDTM study day: day 1 is the randomization date, the day before is -1 (no day 0)."""
    delta = (date.dt.floor("D") - origin).to_numpy(dtype="timedelta64[D]").astype(float)
    delta[pd.isna(date).to_numpy()] = np.nan
    days = np.where(delta >= 0, delta + 1, delta)
    return pd.Series(days, index=date.index).astype("Int64")


def _within_cutoff(frame: pd.DataFrame, filters: ExportFilters) -> pd.DataFrame:
    """Add ``completed_local``; keep forms completed on or before the cut-off (site-local)."""
    frame["completed_local"] = _local(frame["completed_at"], frame["tz"])
    if filters.cutoff is not None:
        keep = frame["completed_local"] < pd.Timestamp(filters.cutoff) + pd.Timedelta(days=1)
        frame = frame.loc[keep.to_numpy()].reset_index(drop=True)
    return frame


def _submitted_by(raw: pd.DataFrame) -> pd.Series:
    """patient (on the tablet), staff (as answered, on her behalf), or blank (partial)."""
    who = np.where(raw["staff_submitted"].to_numpy(dtype=bool), "staff", "patient")
    completed = (raw["formstat"] == Assessment.Status.COMPLETED).to_numpy()
    return pd.Series(np.where(completed, who, ""), index=raw.index, dtype=object)


def _iso_date(values: pd.Series) -> pd.Series:
    return values.dt.strftime("%Y-%m-%d").astype(object).where(values.notna(), "")


def _ordered(spec: DatasetSpec, columns: Mapping[str, Any], index: pd.Index) -> pd.DataFrame:
    names = [v.name for v in spec.variables if v.name in columns]
    return pd.DataFrame({name: columns[name] for name in names}, index=index).reset_index(drop=True)


def _usubjid(studyid: pd.Series, subjid: pd.Series) -> pd.Series:
    """STUDYID-SUBJID, or the study id alone when it already starts with STUDYID-."""
    study, subject = studyid.astype(str), subjid.astype(str)
    prefixed = pd.Series(False, index=subjid.index)
    for protocol in pd.unique(study.to_numpy()):
        here = study == protocol
        prefixed |= here & subject.str.startswith(f"{protocol}-")
    return subject.where(prefixed, study + "-" + subject).astype(object)


def _instrument_of(pinned: str) -> dict[str, tuple[str, str]]:
    """Item code -> (instrument@version, QSCAT) for a pinned version string."""
    out = {}
    for instrument in instrumentation.instruments(pinned):
        version = instrument.version
        cat = (
            f"{instrument.code} V{version}" if version.isdigit() else f"{instrument.code} {version}"
        )
        for item in instrument.items:
            out[item.code] = (f"{instrument.code}@{version}", cat.upper())
    return out


# --------------------------------------------------------------------------- scored wide


def _scored_columns(raw: pd.DataFrame, scope: set[str], include_dates: bool) -> dict[str, Any]:
    idx = raw.index
    cols: dict[str, Any] = {
        "STUDYID": raw["studyid"],
        "SUBJID": raw["subjid"],
        "SITEID": raw["siteid"],
        "ARMCD": raw["armcd"],
        "ARMLBL": raw["armlbl"],
        "VISITNUM": raw["visitnum"].astype("int64"),
        "VISITCD": raw["visitcd"],
        "VISIT": raw["visit"],
        "BASEFL": pd.Series(np.where(raw["is_baseline"], "Y", ""), index=idx, dtype=object),
        "TARGDY": _study_day(raw["target_date"], raw["randomized_on"]),
        "COMPDY": _study_day(raw["completed_local"], raw["randomized_on"]),
        "DURMIN": ((raw["completed_at"] - raw["started_at"]).dt.total_seconds() / 60).round(1),
        "LANG": raw["lang"],
        "MODE": raw["mode"],
        "MODESTAF": raw["mode_staff"].fillna("").astype(object),
        "ASSIST": raw["assist"],
        "INSTVER": raw["instver"],
        "FORMSTAT": raw["formstat"],
        "SUBMBY": _submitted_by(raw),
        "FORMANS": raw["items_answered"].fillna(0).astype("int64"),
        "FORMITMS": raw["items_total"].fillna(0).astype("int64"),
        "SCORVER": raw["scorver"],
        "TOIRULE": raw["toirule"],
    }
    codes = [c for c in SCORE_CODES if c != "ARM" or ARM_INSTRUMENT in scope]
    for code in codes:
        cols[code] = raw[code.lower()].astype("float64")
    for code in codes:
        cols[f"{code}_N"] = raw[f"{code.lower()}_n"].fillna(0).astype("int64")
    for code in codes:
        cols[f"{code}_OK"] = raw[code.lower()].notna().astype("int64")
    if LR_INSTRUMENT in scope:
        for code in LR_ITEM_CODES:
            cols[code] = raw[code.lower()].astype("float64")
    if include_dates:
        cols["RANDDT"] = _iso_date(raw["randomized_on"])
        cols["COMPDTC"] = raw["completed_local"].dt.strftime("%Y-%m-%dT%H:%M").astype(object)
    return cols


def scored_wide(filters: ExportFilters) -> pd.DataFrame:
    """One row per participant x visit with a received (completed or partial) assessment."""
    raw = _within_cutoff(fetch_frame(scored_query(filters)), filters)
    cols = _scored_columns(raw, instruments_in_scope(filters), filters.include_dates)
    return _ordered(SCORED_SPEC, cols, raw.index)


# --------------------------------------------------------------------------- item level


def _item_grid(filters: ExportFilters) -> pd.DataFrame:
    """Every item of every received form the filters select, joined to its answer.

    Internal columns (lower case): the assessment's context plus item_code,
    seq, instr, qscat, subscale, reversed, label, value, declined, corrected, saved_at.
    """
    assessments = _within_cutoff(fetch_frame(completed_query(filters)), filters)
    responses = fetch_frame(responses_query(filters))
    blocks = []
    for pinned, group in assessments.groupby("instver", sort=False):
        items = instrumentation.items(str(pinned))
        where = _instrument_of(str(pinned))
        n = len(items)
        block = group.loc[np.repeat(group.index.to_numpy(), n)].reset_index(drop=True)
        codes = list(items)
        block["item_code"] = np.tile(np.array(codes, dtype=object), len(group))
        block["seq"] = np.tile(np.arange(1, n + 1), len(group))
        for name, values in (
            ("instr", [where[c][0] for c in codes]),
            ("qscat", [where[c][1] for c in codes]),
            ("subscale", [items[c].subscale for c in codes]),
            ("reversed", [items[c].reversed for c in codes]),
            ("label", [items[c].label_en for c in codes]),
        ):
            block[name] = np.tile(np.array(values, dtype=object), len(group))
        blocks.append(block)
    if blocks:
        grid = pd.concat(blocks, ignore_index=True)
    else:
        grid = assessments.iloc[0:0].copy()
        for name in ("item_code", "instr", "qscat", "subscale", "label"):
            grid[name] = pd.Series(dtype=object)
        grid["seq"] = pd.Series(dtype="int64")
        grid["reversed"] = pd.Series(dtype=bool)
    grid = grid.sort_values(["subjid", "visitnum", "seq"], kind="stable").reset_index(drop=True)

    known = {code: i for i, code in enumerate(ITEMS)}
    width = len(known) + 1

    def key(ids: pd.Series, codes: pd.Series) -> np.ndarray:
        pos = codes.map(known).fillna(len(known)).to_numpy(dtype=np.int64)
        return ids.to_numpy(dtype=np.int64) * width + pos

    at = pd.Index(key(responses["assessment_id"], responses["item_code"])).get_indexer(
        key(grid["assessment_id"], grid["item_code"])
    )
    found = at >= 0
    value = np.full(len(grid), np.nan)
    value[found] = responses["value"].to_numpy(dtype=float)[at[found]]
    declined = np.zeros(len(grid), dtype=bool)
    declined[found] = responses["declined"].to_numpy(dtype=bool)[at[found]]
    corrected = np.zeros(len(grid), dtype=bool)
    corrected[found] = responses["corrected"].to_numpy(dtype=bool)[at[found]]
    saved = pd.Series(pd.NaT, index=grid.index, dtype="datetime64[us, UTC]")
    saved[found] = responses["saved_at"].to_numpy()[at[found]]
    grid["value"] = value
    grid["declined"] = declined
    grid["corrected"] = corrected
    grid["saved_at"] = saved
    grid["answered_n"] = (
        grid["value"].notna().groupby(grid["assessment_id"]).transform("sum").astype("int64")
    )
    return grid


def items_long(filters: ExportFilters) -> pd.DataFrame:
    """One row per participant x visit x item of every received (completed or partial) form."""
    grid = _item_grid(filters)
    idx = grid.index
    value = grid["value"]
    reversed_ = grid["reversed"].to_numpy(dtype=bool)
    saved_local = _local(grid["saved_at"], grid["tz"])
    cols: dict[str, Any] = {
        "STUDYID": grid["studyid"],
        "SUBJID": grid["subjid"],
        "SITEID": grid["siteid"],
        "ARMCD": grid["armcd"],
        "VISITNUM": grid["visitnum"].astype("int64"),
        "VISITCD": grid["visitcd"],
        "VISIT": grid["visit"],
        "INSTVER": grid["instver"],
        "LANG": grid["lang"],
        "FORMSTAT": grid["formstat"],
        "FORMANS": grid["answered_n"],
        "INSTR": grid["instr"],
        "ITEMSEQ": grid["seq"].astype("int64"),
        "ITEMCD": grid["item_code"],
        "ITEMLBL": grid["label"],
        "SUBSCALE": grid["subscale"],
        "VALUE": value,
        "DECLINED": grid["declined"].astype("int64"),
        "CORRECTD": grid["corrected"].astype("int64"),
        "ITEMSCR": pd.Series(np.where(reversed_, 4 - value, value), index=idx),
        "SAVEDY": _study_day(saved_local, grid["randomized_on"]),
        "SAVESEC": (grid["saved_at"] - grid["started_at"]).dt.total_seconds().round(3),
    }
    return _ordered(ITEMS_SPEC, cols, idx)


# --------------------------------------------------------------------------- items wide


def items_wide(filters: ExportFilters) -> pd.DataFrame:
    """One row per completed form, one column per item (the raw 0-4 response).

    The layout ``python -m scoring score`` reads: item codes as column names,
    blank for an item left blank or declined; the context columns pass through.
    """
    grid = _item_grid(filters)
    codes = [v.name for v in ITEMS_WIDE_SPEC.variables if v.name in ITEMS]
    keys = ["assessment_id"]
    forms = grid.drop_duplicates(keys).set_index("assessment_id")
    values = grid.pivot_table(
        index="assessment_id", columns="item_code", values="value", aggfunc="first", dropna=False
    ).reindex(index=forms.index)
    present = [c for c in codes if c in set(grid["item_code"])] if len(grid) else []
    cols: dict[str, Any] = {
        "STUDYID": forms["studyid"],
        "SUBJID": forms["subjid"],
        "SITEID": forms["siteid"],
        "ARMCD": forms["armcd"],
        "VISITNUM": forms["visitnum"].astype("int64"),
        "VISITCD": forms["visitcd"],
        "VISIT": forms["visit"],
        "LANG": forms["lang"],
        "MODE": forms["mode"],
        "MODESTAF": forms["mode_staff"].fillna("").astype(object),
        "INSTVER": forms["instver"],
        **{code: values[code].astype("float64") for code in present},
    }
    if not len(grid):
        cols.update({code: pd.Series(dtype="float64") for code in FACTB_ITEM_CODES})
    frame = _ordered(ITEMS_WIDE_SPEC, cols, forms.index)
    return frame.sort_values(["SUBJID", "VISITNUM"], kind="stable").reset_index(drop=True)
