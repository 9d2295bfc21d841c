"""ADaM datasets of the package: ADSL and ADQS (items and scores in one BDS dataset).

ADQS item records carry the QS response and point back to their QS record
(SRCDOM/SRCVAR/SRCSEQ); score records carry the score stored by ``scoring/``
when the form was submitted. Baseline, change, flags and windows follow the
methods in :data:`~surveys.statistician.exports.cdisc.spec.METHODS`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from scoring.instruments import get_score
from surveys import instrumentation
from surveys.models import SCORE_CODES, Participant
from surveys.statistician.exports.cdisc import terms
from surveys.statistician.exports.cdisc.sdtm import OFF_STUDY_DECOD, SUBSCALE_NAMES, qs
from surveys.statistician.exports.cdisc.source import COMPLETED, INCOMPLETE, Source, load
from surveys.statistician.exports.cdisc.spec import ADQS_SPEC, ADSL_SPEC
from surveys.statistician.exports.datasets import (
    ARM_INSTRUMENT,
    _ordered,
    _study_day,
    instruments_in_scope,
)
from surveys.statistician.exports.filters import ExportFilters
from surveys.statistician.exports.queries import fetch_frame, scored_query

FACT_B = "FACT-B"


def arm_numbers(armcd: pd.Series) -> pd.Series:
    """TRT01PN: arms numbered in arm-code order (A = 1, B = 2)."""
    numbers = {code: n for n, code in enumerate(sorted(set(armcd.dropna())), start=1)}
    return armcd.map(numbers).astype("int64")


def _completed_forms(source: Source) -> pd.DataFrame:
    """Received forms with their stored scores (one row each).

    Received = submitted (COMPLETED) or started and closed unsubmitted (INCOMPLETE,
    status ``partial``): both are scored where the FACIT rules allow and analysed
    (docs/trial-data.md, "Missing data and partial forms").
    """
    received = source.forms["fstat"].isin([COMPLETED, INCOMPLETE])
    forms = source.forms.loc[received.to_numpy()].reset_index(drop=True)
    scores = fetch_frame(
        scored_query(dataclasses.replace(source.filters, cutoff=None), visits=False)
    )
    keep = ["studyid", "subjid", "visitnum", "scorver"] + [
        c for c in scores.columns if c.islower() and c.split("_")[0].upper() in SCORE_CODES
    ]
    merged = forms.merge(scores[keep], on=["studyid", "subjid", "visitnum"], how="left")
    return merged


# --------------------------------------------------------------------------- ADSL


def adsl(source: Source) -> pd.DataFrame:
    people = source.participants
    forms = _completed_forms(source)
    evaluable = set(forms.loc[forms["is_baseline"] & forms["toi"].notna(), "usubjid"])
    death = (people["off_study_reason"] == Participant.OffStudyReason.DEATH).to_numpy()
    off = people["off_study_on"].notna().to_numpy()
    off_date = people["off_study_on"].astype("datetime64[s]")
    cols: dict[str, Any] = {
        "STUDYID": people["studyid"],
        "USUBJID": people["usubjid"],
        "SUBJID": people["subjid"],
        "SITEID": people["siteid"],
        "COUNTRY": people["country"],
        "SEX": people["sex"].fillna("").replace("", "U"),
        "ARMCD": people["armcd"],
        "ARM": people["armlbl"],
        "TRT01P": people["armlbl"],
        "TRT01PN": arm_numbers(people["armcd"]),
        "RANDDT": people["randomized_on"].astype("datetime64[s]"),
        "ITTFL": "Y",
        "PROEVLFL": np.where(people["usubjid"].isin(evaluable), "Y", "N"),
        "EOSSTT": np.where(off, "DISCONTINUED", "ONGOING"),
        "EOSDT": off_date,
        "DCSREAS": people["off_study_reason"].map(lambda r: OFF_STUDY_DECOD.get(r, "")),
        "DCSREASP": people["off_study_note"].fillna("").str.slice(0, 200),
        "DTHFL": np.where(death, "Y", ""),
        "DTHDT": off_date.where(death),
    }
    frame = _ordered(ADSL_SPEC, cols, people.index)
    for var in ADSL_SPEC.variables:
        if var.type == "char":
            frame[var.name] = frame[var.name].fillna("").astype(object)
    return frame


# --------------------------------------------------------------------------- ADQS


def parameters(scope: set[str], pinned: list[str]) -> list[dict[str, Any]]:
    """ADQS parameters in PARAMN order: the scores, then every item in form order."""
    params: list[dict[str, Any]] = []
    for code in SCORE_CODES:
        if code == "ARM" and ARM_INSTRUMENT not in scope:
            continue
        score = get_score(code)
        lo, hi = score.range
        owner = instrumentation.instruments(f"{ARM_INSTRUMENT}@4" if code == "ARM" else "FACT-B@4")
        params.append(
            {
                "PARAMCD": code,
                "PARAM": f"{score.label_en} ({lo}-{hi})",
                "PARCAT1": terms.qscat(owner[0]),
                "PARCAT2": SUBSCALE_NAMES.get(code, "TOTAL"),
                "ITMTOT": score.n_items,
                "kind": score.kind,
                "rule": score.rule,
            }
        )
    seen = {p["PARAMCD"] for p in params}
    for version in pinned:
        for inst in instrumentation.instruments(version):
            for item in inst.items:
                if item.code in seen:
                    continue
                seen.add(item.code)
                params.append(
                    {
                        "PARAMCD": item.code,
                        "PARAM": f"{item.code}: {terms.qstest(item.code)} (0-4)",
                        "PARCAT1": terms.qscat(inst),
                        "PARCAT2": SUBSCALE_NAMES[item.subscale],
                        "ITMTOT": 1,
                        "kind": "item",
                        "rule": "",
                    }
                )
    for n, param in enumerate(params, start=1):
        param["PARAMN"] = n
    return params


def adqs_from(source: Source, qs_frame: pd.DataFrame) -> pd.DataFrame:
    """ADQS from a source loaded without a visit filter and its QS dataset."""
    forms = _completed_forms(source)
    scope = instruments_in_scope(source.filters)
    params = parameters(scope, sorted(set(forms["instver"])) or [])
    score_codes = [p["PARAMCD"] for p in params if p["kind"] != "item"]
    people = source.participants.set_index("usubjid")
    trtpn = pd.Series(arm_numbers(source.participants["armcd"]).to_numpy(), index=people.index)

    # Score records: one per completed form and score.
    n_forms, n_scores = len(forms), len(score_codes)
    rep = np.repeat(np.arange(n_forms), n_scores)
    scores = forms.iloc[rep].reset_index(drop=True)
    scores["PARAMCD"] = np.tile(np.array(score_codes, dtype=object), n_forms)
    scores["AVAL"] = np.column_stack(
        [forms[c.lower()].to_numpy(dtype=float) for c in score_codes] or [np.empty(n_forms)]
    ).ravel()[: len(scores)]
    scores["ITMANS"] = np.column_stack(
        [forms[f"{c.lower()}_n"].fillna(0).to_numpy(dtype=float) for c in score_codes]
        or [np.empty(n_forms)]
    ).ravel()[: len(scores)]
    scores["SRCDOM"] = scores["SRCVAR"] = ""
    scores["SRCSEQ"] = np.nan

    # Item records: the QS records of the completed forms.
    items_qs = qs_frame.loc[qs_frame["QSTESTCD"] != "QSALL"]
    items = items_qs.merge(
        forms.drop(columns=[c for c in ("visit",) if c in forms.columns]),
        left_on=["USUBJID", "VISITNUM"],
        right_on=["usubjid", "visitnum"],
        how="inner",
    )
    items["PARAMCD"] = items["QSTESTCD"]
    items["AVAL"] = items["QSSTRESN"].astype(float)
    items["ITMANS"] = items["AVAL"].notna().astype(float)
    items["SRCDOM"] = "QS"
    items["SRCVAR"] = "QSSTRESN"
    items["SRCSEQ"] = items["QSSEQ"].astype(float)
    shared = [
        "usubjid",
        "studyid",
        "subjid",
        "siteid",
        "visitnum",
        "visit",
        "visitcd",
        "is_baseline",
        "form_local",
        "form_day",
        "target_date",
        "window_start",
        "window_end",
        "rfstdtc",
        "scorver",
        "PARAMCD",
        "AVAL",
        "ITMANS",
        "SRCDOM",
        "SRCVAR",
        "SRCSEQ",
    ]
    items["visit"] = items["VISIT"]
    rows = pd.concat([scores[shared], items[shared]], ignore_index=True)

    meta = pd.DataFrame(params).set_index("PARAMCD")
    rows = rows.loc[rows["PARAMCD"].isin(meta.index)].reset_index(drop=True)
    for name in ("PARAM", "PARAMN", "PARCAT1", "PARCAT2", "ITMTOT"):
        rows[name] = rows["PARAMCD"].map(meta[name])
    aval = rows["AVAL"].astype(float)
    is_base = rows["is_baseline"].to_numpy(dtype=bool)
    base_rows = rows.loc[is_base & aval.notna().to_numpy(), ["usubjid", "PARAMCD", "AVAL"]]
    base = base_rows.drop_duplicates(["usubjid", "PARAMCD"]).set_index(["usubjid", "PARAMCD"])
    rows["BASE"] = (
        base["AVAL"].reindex(pd.MultiIndex.from_frame(rows[["usubjid", "PARAMCD"]])).to_numpy()
    )
    rows["CHG"] = np.where(is_base, np.nan, aval - rows["BASE"])
    prorated = aval.notna() & (rows["ITMANS"] < rows["ITMTOT"])
    cols: dict[str, Any] = {
        "STUDYID": rows["studyid"],
        "USUBJID": rows["usubjid"],
        "SUBJID": rows["subjid"],
        "SITEID": rows["siteid"],
        "TRTP": rows["usubjid"].map(people["armlbl"]),
        "TRTPN": rows["usubjid"].map(trtpn).astype("int64"),
        "ITTFL": "Y",
        "PARAMCD": rows["PARAMCD"],
        "PARAM": rows["PARAM"],
        "PARAMN": rows["PARAMN"].astype("int64"),
        "PARCAT1": rows["PARCAT1"],
        "PARCAT2": rows["PARCAT2"],
        "AVAL": aval,
        "BASE": rows["BASE"].astype(float),
        "CHG": rows["CHG"].astype(float),
        "ABLFL": np.where(is_base & aval.notna().to_numpy(), "Y", ""),
        "ANL01FL": np.where(aval.notna(), "Y", ""),
        "PRORFL": np.where(prorated, "Y", ""),
        "ITMANS": rows["ITMANS"].astype("int64"),
        "ITMTOT": rows["ITMTOT"].astype("int64"),
        "AVISIT": rows["visit"],
        "AVISITN": rows["visitnum"].astype("int64"),
        "ADT": rows["form_local"].dt.floor("D").astype("datetime64[s]"),
        "ADY": rows["form_day"].astype("Int64"),
        "AWTARGET": _study_day(rows["target_date"].astype("datetime64[s]"), rows["rfstdtc"]),
        "AWLO": _study_day(rows["window_start"].astype("datetime64[s]"), rows["rfstdtc"]),
        "AWHI": _study_day(rows["window_end"].astype("datetime64[s]"), rows["rfstdtc"]),
        "AWU": "DAYS",
        "SRCDOM": rows["SRCDOM"],
        "SRCVAR": rows["SRCVAR"],
        "SRCSEQ": rows["SRCSEQ"].astype("Int64"),
        "SCORVER": rows["scorver"].fillna(""),
        "visitcd": rows["visitcd"],
    }
    frame = pd.DataFrame(cols)
    frame = frame.sort_values(["USUBJID", "PARAMN", "AVISITN"], kind="stable")
    if source.filters.visits:
        frame = frame.loc[frame["visitcd"].isin(source.filters.visits).to_numpy()]
    frame = _ordered(ADQS_SPEC, {str(k): v for k, v in frame.items()}, frame.index)
    for var in ADQS_SPEC.variables:
        if var.type == "char":
            frame[var.name] = frame[var.name].fillna("").astype(object)
    return frame


def _all_visits(filters: ExportFilters) -> ExportFilters:
    return dataclasses.replace(filters, visits=())


def adqs_for(source: Source) -> pd.DataFrame:
    """ADQS for the source's filters; baselines come from every visit whatever the filter."""
    if source.filters.visits:
        whole = load(_all_visits(source.filters))
        whole.filters = source.filters
        return adqs_from(whole, qs(whole))
    return adqs_from(source, qs(source))


def adqs(filters: ExportFilters) -> pd.DataFrame:
    """The ``adqs`` export kind."""
    return adqs_for(load(filters))
