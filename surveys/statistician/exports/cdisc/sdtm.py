"""SDTM datasets of the package: DM, DS, TS, QS and SUPPQS, from one :class:`Source`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from scoring.instruments import RESPONSE_SCALE
from surveys import instrumentation
from surveys.models import Assessment, Participant, Trial
from surveys.statistician.exports.cdisc import terms
from surveys.statistician.exports.cdisc.source import (
    COMPLETED,
    IN_PROGRESS,
    NOT_DONE,
    Source,
    epoch,
    iso_date,
    iso_minute,
    load,
)
from surveys.statistician.exports.cdisc.spec import (
    DM_SPEC,
    DS_SPEC,
    QS_SPEC,
    SUPPQS_SPEC,
    TS_SPEC,
)
from surveys.statistician.exports.datasets import _ordered, _study_day
from surveys.statistician.exports.filters import ExportFilters
from surveys.statistician.exports.spec import DatasetSpec

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
DECLINED = "PREFER NOT TO ANSWER"
#: QSSEQ = VISITNUM x SEQ_BLOCK + the item's position on the form (MT.QSSEQ).
SEQ_BLOCK = 1000
QSALL_OFFSET = 900
OFF_STUDY_DECOD = {
    Participant.OffStudyReason.DEATH: "DEATH",
    Participant.OffStudyReason.WITHDRAWAL: "WITHDRAWAL BY SUBJECT",
    Participant.OffStudyReason.LOST: "LOST TO FOLLOW-UP",
    Participant.OffStudyReason.OTHER: "OTHER",
}
LANGUAGES = {"en": "ENG", "es": "SPA"}
ASSISTANCE = {"none": "NONE", "read_aloud": "READ ALOUD", "staff_recorded": "STAFF RECORDED"}
MAX_TEXT = 200


def _frame(spec: DatasetSpec, rows: list[dict[Any, Any]]) -> pd.DataFrame:
    names = [v.name for v in spec.variables]
    frame = pd.DataFrame(rows, columns=names)
    for var in spec.variables:
        if var.type == "char":
            frame[var.name] = frame[var.name].fillna("").astype(object)
        else:
            frame[var.name] = pd.to_numeric(frame[var.name]).astype("Float64")
    return frame


def _text(value: str) -> str:
    """At most 200 characters (the SAS transport limit), cut at a word boundary."""
    value = " ".join(str(value).split())
    if len(value) <= MAX_TEXT:
        return value
    return value[: MAX_TEXT - 3].rsplit(" ", 1)[0] + "..."


# --------------------------------------------------------------------------- DM


def dm(source: Source) -> pd.DataFrame:
    """One record per randomized participant."""
    people = source.participants
    last_form = source.forms.groupby("usubjid")["form_local"].max()
    death = (people["off_study_reason"] == Participant.OffStudyReason.DEATH).to_numpy()
    end = people["off_study_on"].astype("datetime64[s]")
    end = end.fillna(people["usubjid"].map(last_form).dt.floor("D").astype("datetime64[s]"))
    end = end.fillna(people["rfstdtc"])
    cols: dict[str, Any] = {
        "STUDYID": people["studyid"],
        "DOMAIN": "DM",
        "USUBJID": people["usubjid"],
        "SUBJID": people["subjid"],
        "RFSTDTC": iso_date(people["rfstdtc"]),
        "RFENDTC": iso_date(end),
        "DTHDTC": iso_date(people["off_study_on"]).where(death, ""),
        "DTHFL": np.where(death, "Y", ""),
        "SITEID": people["siteid"],
        "SEX": people["sex"].fillna("").replace("", "U"),
        "ARMCD": people["armcd"],
        "ARM": people["armlbl"],
        "ACTARMCD": people["armcd"],
        "ACTARM": people["armlbl"],
        "COUNTRY": people["country"],
    }
    return _ordered(DM_SPEC, cols, people.index)


# --------------------------------------------------------------------------- DS


def ds(source: Source) -> pd.DataFrame:
    """Randomization (protocol milestone) and off-study (disposition event) records."""
    people = source.participants
    reasons = dict(Participant.OffStudyReason.choices)
    rows: list[dict[str, Any]] = []
    records: Any = people.itertuples(index=False)
    for p in records:
        rows.append(
            {
                "STUDYID": p.studyid,
                "DOMAIN": "DS",
                "USUBJID": p.usubjid,
                "DSSEQ": 1,
                "DSTERM": "RANDOMIZED",
                "DSDECOD": "RANDOMIZED",
                "DSCAT": "PROTOCOL MILESTONE",
                "date": p.randomized_on,
                "rfstdtc": p.rfstdtc,
                "off": p.off_study_on,
            }
        )
        if not pd.isna(p.off_study_on):
            term = reasons.get(p.off_study_reason, str(p.off_study_reason))
            if p.off_study_note:
                term = f"{term}: {p.off_study_note}"
            rows.append(
                {
                    "STUDYID": p.studyid,
                    "DOMAIN": "DS",
                    "USUBJID": p.usubjid,
                    "DSSEQ": 2,
                    "DSTERM": _text(term.upper()),
                    "DSDECOD": OFF_STUDY_DECOD.get(p.off_study_reason, "OTHER"),
                    "DSCAT": "DISPOSITION EVENT",
                    "date": p.off_study_on,
                    "rfstdtc": p.rfstdtc,
                    "off": p.off_study_on,
                }
            )
    if not rows:
        return _frame(DS_SPEC, [])
    raw = pd.DataFrame(rows)
    date = pd.to_datetime(raw["date"]).astype("datetime64[s]")
    rfstdtc = pd.to_datetime(raw["rfstdtc"]).astype("datetime64[s]")
    off = pd.to_datetime(raw["off"]).astype("datetime64[s]")
    raw["EPOCH"] = epoch(date, rfstdtc, off)
    raw["DSSTDTC"] = iso_date(date)
    raw["DSSTDY"] = _study_day(date, rfstdtc)
    frame = _frame(DS_SPEC, raw.to_dict("records"))
    frame["DSSEQ"] = frame["DSSEQ"].astype("int64")
    frame["DSSTDY"] = raw["DSSTDY"].astype("Int64")
    return frame


# --------------------------------------------------------------------------- TS


def _ts_rows(trial: Trial, instruments: list[Any]) -> list[dict[str, Any]]:
    people = Participant.objects.filter(trial=trial)
    first = people.order_by("randomized_on").values_list("randomized_on", flat=True).first()
    sexpop = {"F": "F", "M": "M"}.get(trial.participants_sex, "BOTH")
    params: list[tuple[str, str, str, str, str]] = [
        # TSPARMCD, TSVAL, TSVALCD, TSVCDREF, TSGRPID
        ("TITLE", trial.title, "", "", ""),
        ("SPONSOR", trial.sponsor, "", "", ""),
        ("REGID", trial.registry_id, trial.registry_id, "ClinicalTrials.gov", ""),
        ("SSTDTC", first.isoformat() if first else "", "", "ISO 8601", ""),
        ("RANDOM", "Y", "C49488", "CDISC CT", ""),
        ("NARMS", str(trial.arms.count()), "", "", ""),
        ("ACTSUB", str(people.count()), "", "", ""),
        ("SEXPOP", sexpop, "", "", ""),
        ("OUTMSSEC", "FACT-B Trial Outcome Index (TOI)", "", "", ""),
        ("SDTIGVER", terms.SDTMIG_VERSION, "", "", ""),
        ("SDTMVER", terms.SDTM_VERSION, "", "", ""),
    ]
    names = {t.value: t.decode for t in terms.TSPARMCD.terms}
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for code, value, valcd, ref, grp in params:
        seen[code] = seen.get(code, 0) + 1
        rows.append(
            {
                "TSSEQ": seen[code],
                "TSGRPID": grp,
                "TSPARMCD": code,
                "TSPARM": names[code],
                "TSVAL": _text(value),
                "TSVALNF": "" if value else "UNK",
                "TSVALCD": valcd if value else "",
                "TSVCDREF": ref if value else "",
                "TSVCDVER": terms.CT_VERSION if ref == "CDISC CT" else "",
            }
        )
    for order, instrument in enumerate(instruments, start=1):
        rows.append(
            {
                "TSSEQ": order,
                "TSGRPID": instrument.code,
                "TSPARMCD": terms.QRS_TSPARM[0],
                "TSPARM": terms.QRS_TSPARM[1],
                "TSVAL": _text(f"{instrument.name_en} ({terms.qscat(instrument)})"),
                "TSVALNF": "",
                "TSVALCD": "",
                "TSVCDREF": "",
                "TSVCDVER": "",
            }
        )
    for row in rows:
        row.update(STUDYID=trial.protocol_id, DOMAIN="TS")
    return rows


def ts(source: Source) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for trial in source.trials():
        rows += _ts_rows(trial, list(instrumentation.instruments(trial.instrument_version)))
    frame = _frame(TS_SPEC, rows)
    frame["TSSEQ"] = frame["TSSEQ"].astype("int64")
    return frame


# --------------------------------------------------------------------------- QS


def missed_reason_text(reason: pd.Series, text: pd.Series) -> pd.Series:
    """QSREASND of a missed form: the reason's label in upper case; OTHER: <text>."""
    labels = {k: str(v).upper() for k, v in Assessment.MissedReason.choices}
    out = reason.fillna("").map(lambda r: labels.get(r, str(r).upper())).astype(object)
    other = (reason == Assessment.MissedReason.OTHER).to_numpy()
    detail = text.fillna("").astype(str).str.strip()
    out[other] = np.where(detail[other] != "", "OTHER: " + detail[other], "OTHER")
    return out.map(_text).astype(object)


def _item_rows(forms: pd.DataFrame) -> pd.DataFrame:
    """Every item of every form, in form order, with its position and instrument."""
    blocks = []
    for pinned, group in forms.groupby("instver", sort=False):
        where = [
            (item, inst) for inst in instrumentation.instruments(str(pinned)) for item in inst.items
        ]
        n = len(where)
        block = group.loc[np.repeat(group.index.to_numpy(), n)].reset_index(drop=True)
        block["item_code"] = np.tile(np.array([i.code for i, _ in where], dtype=object), len(group))
        block["position"] = np.tile(np.arange(1, n + 1), len(group))
        block["subscale"] = np.tile(
            np.array([i.subscale for i, _ in where], dtype=object), len(group)
        )
        block["qscat"] = np.tile(
            np.array([terms.qscat(inst) for _, inst in where], dtype=object), len(group)
        )
        blocks.append(block)
    if not blocks:
        empty = forms.iloc[0:0].copy()
        for name in ("item_code", "subscale", "qscat"):
            empty[name] = pd.Series(dtype=object)
        empty["position"] = pd.Series(dtype="int64")
        return empty
    return pd.concat(blocks, ignore_index=True)


def _not_done_rows(forms: pd.DataFrame) -> pd.DataFrame:
    """One QSALL record per instrument of every form not done at all."""
    blocks = []
    for pinned, group in forms.groupby("instver", sort=False):
        insts = instrumentation.instruments(str(pinned))
        n = len(insts)
        block = group.loc[np.repeat(group.index.to_numpy(), n)].reset_index(drop=True)
        block["item_code"] = "QSALL"
        block["position"] = np.tile(np.arange(QSALL_OFFSET + 1, QSALL_OFFSET + n + 1), len(group))
        block["subscale"] = ""
        block["qscat"] = np.tile(
            np.array([terms.qscat(i) for i in insts], dtype=object), len(group)
        )
        blocks.append(block)
    if not blocks:
        return _item_rows(forms.iloc[0:0])
    return pd.concat(blocks, ignore_index=True)


def qs_seq(visitnum: pd.Series, position: pd.Series) -> pd.Series:
    """MT.QSSEQ: VISITNUM x 1000 + position on the form (QSALL: 900 + instrument)."""
    return (visitnum.astype("int64") * SEQ_BLOCK + position.astype("int64")).astype("int64")


def qs(source: Source) -> pd.DataFrame:
    """SDTM QS: every stored answer of every form, NOT DONE records, QSALL for forms not done."""
    forms = source.forms
    done = forms.loc[forms["fstat"] != NOT_DONE]
    grid = _item_rows(done)
    answers = source.answers.set_index(["assessment_id", "item_code"])
    at = answers.index.get_indexer(pd.MultiIndex.from_frame(grid[["assessment_id", "item_code"]]))
    found = at >= 0
    stored = np.full(len(grid), np.nan)
    stored[found] = answers["value"].to_numpy(dtype=float)[at[found]]
    declined = np.zeros(len(grid), dtype=bool)
    declined[found] = answers["declined"].to_numpy(dtype=bool)[at[found]]
    grid["value"] = stored
    grid["declined"] = declined
    # A form still in progress at the cut-off: only what was answered so far.
    keep = found | (grid["fstat"] != IN_PROGRESS).to_numpy()
    grid = grid.loc[keep].reset_index(drop=True)
    value = grid["value"]
    answered = value.notna().to_numpy()
    reason_missed = missed_reason_text(grid["missed_reason"], grid["missed_reason_text"])
    reasnd = np.where(
        grid["declined"].to_numpy(dtype=bool),
        DECLINED,
        np.where(answered | (grid["fstat"] == COMPLETED).to_numpy(), "", reason_missed),
    )
    items = pd.DataFrame(
        {
            "usubjid": grid["usubjid"],
            "studyid": grid["studyid"],
            "QSSEQ": qs_seq(grid["visitnum"], grid["position"]),
            "QSGRPID": grid["visitcd"].str.upper(),
            "QSTESTCD": grid["item_code"],
            "QSTEST": grid["item_code"].map(terms.qstest),
            "QSCAT": grid["qscat"],
            "QSSCAT": grid["subscale"].map(SUBSCALE_NAMES),
            "QSORRES": value.map(RESPONSE_LABELS).where(answered, "").astype(object),
            "QSSTRESC": np.where(answered, value.fillna(0).astype("int64").astype(str), ""),
            "QSSTRESN": value,
            "QSSTAT": np.where(answered, "", "NOT DONE"),
            "QSREASND": reasnd,
            "QSBLFL": np.where(
                answered
                & grid["is_baseline"].to_numpy(dtype=bool)
                & (grid["fstat"] == COMPLETED).to_numpy(),
                "Y",
                "",
            ),
            "VISITNUM": grid["visitnum"].astype("int64"),
            "VISIT": grid["visit"],
            "EPOCH": grid["epoch"],
            "QSDTC": iso_minute(grid["form_local"]),
            "QSDY": grid["form_day"],
        }
    )
    missed = _not_done_rows(forms.loc[forms["fstat"] == NOT_DONE])
    if len(missed):
        items = pd.concat(
            [
                items,
                pd.DataFrame(
                    {
                        "usubjid": missed["usubjid"],
                        "studyid": missed["studyid"],
                        "QSSEQ": qs_seq(missed["visitnum"], missed["position"]),
                        "QSGRPID": "",
                        "QSTESTCD": "QSALL",
                        "QSTEST": "Questionnaire",
                        "QSCAT": missed["qscat"],
                        "QSSCAT": "",
                        "QSORRES": "",
                        "QSSTRESC": "",
                        "QSSTRESN": np.nan,
                        "QSSTAT": "NOT DONE",
                        "QSREASND": missed_reason_text(
                            missed["missed_reason"], missed["missed_reason_text"]
                        ),
                        "QSBLFL": "",
                        "VISITNUM": missed["visitnum"].astype("int64"),
                        "VISIT": missed["visit"],
                        "EPOCH": missed["epoch"],
                        "QSDTC": "",
                        "QSDY": pd.array([pd.NA] * len(missed), dtype="Int64"),
                    }
                ),
            ],
            ignore_index=True,
        )
    items = items.sort_values(["usubjid", "QSSEQ"], kind="stable").reset_index(drop=True)
    cols: dict[str, Any] = {
        "STUDYID": items["studyid"],
        "DOMAIN": "QS",
        "USUBJID": items["usubjid"],
        **{name: items[name] for name in items.columns if name.isupper()},
        "QSEVLINT": "-P7D",
    }
    frame = _ordered(QS_SPEC, cols, items.index)
    frame["QSDY"] = frame["QSDY"].astype("Int64")
    frame["QSSTRESN"] = frame["QSSTRESN"].astype("float64")
    for var in QS_SPEC.variables:
        if var.type == "char":
            frame[var.name] = frame[var.name].fillna("").astype(object)
    return frame


# --------------------------------------------------------------------------- SUPPQS

SUPP_QUALIFIERS = (
    # QNAM, QLABEL, QORIG, source column
    ("QSLANG", "Language of the Form", "Collected", "lang"),
    ("QSMODE", "Mode of Administration", "Collected", "mode"),
    ("QSMODSTF", "Staff Member, Phone Mode", "Collected", "mode_staff"),
    ("QSASSIST", "Assistance Given", "Collected", "assist"),
    ("QSFSTAT", "Form Completion Status", "Derived", "fstat"),
)


def suppqs(source: Source) -> pd.DataFrame:
    """Language, mode (and the phone mode's staff member), assistance and completion status
    of each form with answers."""
    forms = source.forms.loc[source.forms["fstat"] != NOT_DONE]
    values = {
        "lang": forms["lang"].fillna("").map(lambda v: LANGUAGES.get(v, str(v).upper())),
        "mode": forms["mode"].fillna("").str.upper().str.replace("_", " "),
        "mode_staff": forms["mode_staff"].fillna(""),
        "assist": forms["assist"].fillna("").map(lambda v: ASSISTANCE.get(v, str(v).upper())),
        "fstat": forms["fstat"],
    }
    blocks: list[pd.DataFrame] = []
    for qnam, qlabel, qorig, column in SUPP_QUALIFIERS:
        block = pd.DataFrame(
            {
                "STUDYID": forms["studyid"],
                "RDOMAIN": "QS",
                "USUBJID": forms["usubjid"],
                "IDVAR": "QSGRPID",
                "IDVARVAL": forms["visitcd"].str.upper(),
                "QNAM": qnam,
                "QLABEL": qlabel,
                "QVAL": values[column].astype(object),
                "QORIG": qorig,
                "QEVAL": "",
                "visitnum": forms["visitnum"],
                "order": len(blocks),
            }
        )
        blocks.append(block.loc[block["QVAL"].fillna("") != ""])
    rows = pd.concat(blocks, ignore_index=True)
    rows = rows.sort_values(["USUBJID", "visitnum", "order"], kind="stable").reset_index(drop=True)
    return _ordered(SUPPQS_SPEC, {str(k): v for k, v in rows.items()}, rows.index)


# --------------------------------------------------------------------------- kinds


def sdtm_qs(filters: ExportFilters) -> pd.DataFrame:
    """The ``sdtm_qs`` export kind: QS on its own."""
    return qs(load(filters))
