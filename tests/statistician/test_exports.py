"""Exports: what the datasets hold, that every file reads back, the codebooks, the filters."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pyreadstat
import pytest

from scoring.instruments import INSTRUMENTS
from surveys.models import SCORE_CODES, SCORE_FIELDS, ExportJob, Score
from surveys.statistician.exports import (
    ExportFilters,
    build_dataset,
    codebook,
    export_kind,
    write_dataset,
)
from surveys.statistician.exports.datasets import _study_day, codebook_context
from surveys.statistician.exports.kinds import KINDS as EXPORT_KINDS

pytestmark = pytest.mark.django_db

KINDS = ("items", "scored", "items_wide", "sdtm_qs", "adqs")
ALL_KINDS = ("items", "scored", "items_wide", "sdtm_qs", "adqs", "cdisc_package", "cdisc_odm")
SDTM_QS_REQUIRED = {
    # variable: SDTM type (SDTMIG QS; Req and Exp variables, plus those the issue names)
    "STUDYID": "char",
    "DOMAIN": "char",
    "USUBJID": "char",
    "QSSEQ": "num",
    "QSTESTCD": "char",
    "QSTEST": "char",
    "QSCAT": "char",
    "QSSCAT": "char",
    "QSORRES": "char",
    "QSSTRESC": "char",
    "QSSTRESN": "num",
    "QSSTAT": "char",
    "QSREASND": "char",
    "VISITNUM": "num",
    "VISIT": "char",
    "QSDTC": "char",
    "QSDY": "num",
    "QSEVLINT": "char",
}
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def read_back(path, fmt: str, kind: str) -> pd.DataFrame:
    spec = export_kind(kind).dataset_spec()
    dates = [v.name for v in spec.variables if v.date]
    if fmt == "csv":
        text = {v.name: str for v in spec.variables if v.type == "char"}
        frame = pd.read_csv(
            path, dtype=text, keep_default_na=False, na_values=[""], float_precision="round_trip"
        )
        # Text a spreadsheet would run as a formula was written with a leading apostrophe
        # (scoring.csvsafe, e.g. QSEVLINT "-P7D" as "'-P7D"): the documented way back.
        for name in frame.columns.intersection(list(text)):
            frame[name] = frame[name].str.replace(r"^'(?=[=+\-@\t\r])", "", regex=True)
    elif fmt == "parquet":
        frame = pd.read_parquet(path)
    elif fmt == "xpt":
        frame, _ = pyreadstat.read_xport(str(path))
    else:
        frame, _ = getattr(pyreadstat, f"read_{fmt}")(str(path))
    for name in dates:
        if name in frame:
            frame[name] = pd.to_datetime(frame[name]).astype("datetime64[s]")
    return frame


def as_numbers(values: pd.Series, is_date: bool) -> np.ndarray:
    if is_date:
        return (pd.to_datetime(values) - pd.Timestamp("1960-01-01")).dt.days.to_numpy(
            dtype=float, na_value=np.nan
        )
    return pd.to_numeric(values).to_numpy(dtype=float, na_value=np.nan)


def test_scored_wide_has_one_row_per_completed_form_with_the_stored_scores(study):
    frame = build_dataset("scored")
    assert len(frame) == 16 + 14
    assert not frame.duplicated(["SUBJID", "VISITNUM"]).any()
    stored = Score.objects.get(
        assessment__participant__study_id="E2108-0003", assessment__visit__code="baseline"
    )
    row = frame.loc[(frame["SUBJID"] == "E2108-0003") & (frame["VISITCD"] == "baseline")].iloc[0]
    assert row["TOI"] == stored.toi and row["PWB"] == stored.pwb and row["FACTB"] == stored.factb
    assert row["PWB_N"] == 6  # GP1 left blank
    assert row["TOI_N"] == stored.toi_n and row["TOI_OK"] == 1
    assert row["ARMCD"] == "A" and row["BASEFL"] == "Y" and row["SCORVER"] == stored.scoring_version
    assert row["COMPDY"] == 1  # completed on the randomization day
    assert set(frame.columns) >= {f"LR{i}" for i in range(1, 10)}
    assert "ARM" not in frame.columns  # the trial gives no FACT-B+4 arm items


def test_study_days_count_randomization_as_day_one_and_skip_day_zero():
    origin = pd.Series(pd.to_datetime(["2025-01-06"] * 4))
    dates = pd.Series(pd.to_datetime(["2025-01-04", "2025-01-05", "2025-01-06", "2025-01-07"]))
    assert _study_day(dates, origin).tolist() == [-2, -1, 1, 2]


@pytest.mark.parametrize("kind", KINDS)
def test_every_dataset_reads_back_from_csv_parquet_and_xpt(study, tmp_path, kind):
    frame = build_dataset(kind)
    assert len(frame) > 0
    spec = export_kind(kind).dataset_spec()
    for fmt in ("csv", "parquet", "xpt", "dta", "sav"):
        path = tmp_path / f"{kind}.{fmt}"
        write_dataset(frame, fmt, path, kind=kind)
        back = read_back(path, fmt, kind)
        assert list(back.columns) == list(frame.columns), fmt
        assert len(back) == len(frame), fmt
        for name in frame.columns:
            ours, theirs = frame[name], back[name]
            if spec.var(name).type == "num":
                np.testing.assert_array_equal(
                    as_numbers(ours, spec.var(name).date),
                    as_numbers(theirs, spec.var(name).date),
                    err_msg=f"{fmt} {name}",
                )
            else:
                assert ours.fillna("").astype(str).tolist() == (
                    theirs.fillna("").astype(str).tolist()
                ), f"{fmt} {name}"

    # XPT: SAS transport v5, labelled, short names; pandas reads it too.
    _, meta = pyreadstat.read_xport(str(tmp_path / f"{kind}.xpt"))
    assert meta.table_name == spec.name[:8] and len(spec.name) <= 8
    assert all(len(name) <= 8 for name in meta.column_names)
    assert meta.column_names_to_labels == {c: spec.var(c).label for c in frame.columns}
    assert all(len(label) <= 40 for label in meta.column_labels)
    with_pandas = pd.read_sas(str(tmp_path / f"{kind}.xpt"), format="xport", encoding="utf-8")
    assert list(with_pandas.columns) == list(frame.columns) and len(with_pandas) == len(frame)
    # Parquet: the labels travel in the schema.
    schema = pq.read_schema(tmp_path / f"{kind}.parquet")
    assert schema.field(0).metadata[b"label"].decode() == spec.var(frame.columns[0]).label


def test_sdtm_qs_has_the_required_variables_typed_as_sdtm_says(study, tmp_path):
    frame = build_dataset("sdtm_qs")
    path = tmp_path / "qs.xpt"
    write_dataset(frame, "xpt", path, kind="sdtm_qs")
    _, meta = pyreadstat.read_xport(str(path))
    types = meta.readstat_variable_types
    for name, sdtm_type in SDTM_QS_REQUIRED.items():
        assert name in frame.columns, name
        assert types[name] == ("string" if sdtm_type == "char" else "double"), name
    assert set(frame["DOMAIN"]) == {"QS"}
    assert frame["QSTESTCD"].str.len().max() <= 8 and frame["QSTEST"].str.len().max() <= 40
    assert not frame.duplicated(["USUBJID", "QSSEQ"]).any()
    results = frame.loc[frame["QSSTAT"] == ""]
    assert results["QSSTRESN"].between(0, 4).all()
    assert (results["QSSTRESC"] == results["QSSTRESN"].astype(int).astype(str)).all()
    assert set(frame["QSCAT"]) == {"FACT-B V4", "E2108-LR V1"}
    assert set(frame["QSEVLINT"]) == {"-P7D"}


def test_sdtm_qs_records_what_was_not_done_and_why(study):
    frame = build_dataset("sdtm_qs")

    def rows(usubjid: str, visitnum: int, testcd: str) -> pd.DataFrame:
        return frame.loc[
            (frame["USUBJID"] == usubjid)
            & (frame["VISITNUM"] == visitnum)
            & (frame["QSTESTCD"] == testcd)
        ]

    declined = rows("E2108-0002", 1, "GS7").squeeze()
    assert (declined["QSSTAT"], declined["QSREASND"]) == ("NOT DONE", "PREFER NOT TO ANSWER")
    assert np.isnan(declined["QSSTRESN"]) and declined["QSORRES"] == ""
    blank = rows("E2108-0003", 1, "GP1").squeeze()
    # Left blank on a submitted form: not done, and no reason was given (no placeholder).
    assert (blank["QSSTAT"], blank["QSREASND"]) == ("NOT DONE", "")
    missed = rows("E2108-0001", 3, "QSALL")
    assert set(missed["QSSTAT"]) == {"NOT DONE"}
    assert set(missed["QSREASND"]) == {"PATIENT TOO ILL"}
    assert set(missed["QSCAT"]) == {"FACT-B V4", "E2108-LR V1"}
    assert set(rows("E2108-0002", 3, "QSALL")["QSREASND"]) == {""}
    assert not frame["QSREASND"].isin(["NOT ANSWERED", "NOT RECORDED"]).any()
    answered = rows("E2108-0001", 1, "GP2").squeeze()
    assert answered["QSSTAT"] == "" and answered["QSBLFL"] == "Y" and answered["QSDY"] == 1
    assert (
        answered["QSORRES"]
        == {0: "Not at all", 1: "A little bit", 2: "Somewhat", 3: "Quite a bit", 4: "Very much"}[
            answered["QSSTRESN"]
        ]
    )


def test_adqs_change_is_value_minus_the_baseline_value(study):
    frame = build_dataset("adqs")
    assert not frame.duplicated(["USUBJID", "PARAMCD", "AVISITN"]).any()
    assert "ITEMSN" not in frame.columns and {"ITMANS", "ITMTOT"} <= set(frame.columns)
    toi = frame.loc[frame["PARAMCD"] == "TOI"].set_index(["USUBJID", "AVISITN"])
    base = toi.loc[("E2108-0005", 1)]
    follow = toi.loc[("E2108-0005", 2)]
    assert base["ABLFL"] == "Y" and np.isnan(base["CHG"])
    assert follow["BASE"] == base["AVAL"] and follow["ABLFL"] == ""
    assert follow["CHG"] == pytest.approx(follow["AVAL"] - base["AVAL"])
    assert set(frame["TRTP"]) == {"Continued systemic therapy", "Early locoregional therapy"}
    assert dict(zip(frame["TRTP"], frame["TRTPN"], strict=True)) == {
        "Continued systemic therapy": 1,
        "Early locoregional therapy": 2,
    }
    scores = {"PWB", "SWB", "EWB", "FWB", "BCS", "FACTG", "FACTB", "TOI"}
    factb_items = set(INSTRUMENTS["FACT-B"].item_codes)
    assert len(factb_items) == 37
    assert set(frame["PARAMCD"]) == scores | factb_items | {f"LR{i}" for i in range(1, 10)}
    lr = frame.loc[frame["PARAMCD"] == "LR1"]
    assert lr["ITMTOT"].eq(1).all() and lr["AVAL"].between(0, 4).all()


def test_items_long_lists_every_item_of_every_completed_form(study):
    frame = build_dataset("items")
    assert len(frame) == 30 * 46
    form = frame.loc[(frame["SUBJID"] == "E2108-0002") & (frame["VISITNUM"] == 1)]
    assert form["ITEMSEQ"].tolist() == list(range(1, 47))
    gs7 = form.loc[form["ITEMCD"] == "GS7"].iloc[0]
    assert gs7["DECLINED"] == 1 and np.isnan(gs7["VALUE"])
    gp2 = form.loc[form["ITEMCD"] == "GP2"].iloc[0]
    assert gp2["ITEMSCR"] == 4 - gp2["VALUE"]  # GP2 is reverse-keyed
    gs1 = form.loc[form["ITEMCD"] == "GS1"].iloc[0]
    assert gs1["ITEMSCR"] == gs1["VALUE"]
    assert form["SAVEDY"].eq(1).all() and form["SAVESEC"].dropna().ge(0).all()


def test_the_codebook_describes_every_column_of_every_dataset_in_order(study):
    filters = ExportFilters()
    context = codebook_context(filters)
    for kind in KINDS:
        frame = build_dataset(kind, filters)
        book = codebook(kind, frame, context)
        assert book["variable"].tolist() == list(frame.columns), kind
        assert book[["label", "type", "derivation"]].ne("").all().all(), kind
        assert set(book["type"]) <= {"char", "num"}
        if "ARMCD" in frame.columns:
            arm = book.set_index("variable").loc["ARMCD", "allowed_values"]
            assert arm == "A = Continued systemic therapy; B = Early locoregional therapy"


def test_filters_select_visits_sites_arms_and_the_cutoff(study):
    everything = build_dataset("scored")
    some = build_dataset("scored", {"visits": ["m6"], "sites": ["A01"], "arms": ["B"]})
    assert set(some["VISITCD"]) == {"m6"} and set(some["SITEID"]) == {"A01"}
    assert set(some["ARMCD"]) == {"B"}
    assert len(some) == len(
        everything.query("VISITCD == 'm6' and SITEID == 'A01' and ARMCD == 'B'")
    )
    # Cut-off: the day participant 3's baseline was completed keeps participants 1-3.
    cut = build_dataset("scored", {"cutoff": "2025-01-08"})
    assert sorted(cut["SUBJID"]) == ["E2108-0001", "E2108-0002", "E2108-0003"]
    qs = build_dataset("sdtm_qs", {"cutoff": "2025-01-08", "visits": ["baseline"]})
    assert set(qs["USUBJID"]) == {"E2108-0001", "E2108-0002", "E2108-0003"}
    adqs = build_dataset("adqs", {"visits": ["m6"]})
    assert set(adqs["AVISITN"]) == {2} and adqs["BASE"].notna().any()  # baselines still used


def test_exports_carry_study_days_not_calendar_dates_unless_asked(study):
    # The CDISC datasets always carry dates (QSDTC, ADT): the issue asks for it.
    for kind in ("items", "scored", "items_wide"):
        frame = build_dataset(kind)
        for name in frame.columns:
            if frame[name].dtype == object:
                values = frame[name].dropna().astype(str)
                assert not values.str.contains(ISO_DATE).any(), (kind, name)
    dated = build_dataset("sdtm_qs")
    done = dated.loc[dated["QSSTAT"] == ""]
    assert done["QSDTC"].str.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}").all()
    assert done.loc[done["USUBJID"] == "E2108-0001", "QSDTC"].iloc[0].startswith("2025-01-06")
    assert "RANDDT" in build_dataset("scored", {"include_dates": True}).columns


def test_filters_reject_unknown_keys_and_bad_dates():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        ExportFilters.from_dict({"visit": ["m6"]})
    with pytest.raises(ValidationError):
        ExportFilters.from_dict({"cutoff": "31/12/2025"})
    assert ExportFilters.from_dict({"cutoff": "2025-12-31"}).cutoff == dt.date(2025, 12, 31)


def test_an_empty_selection_gives_empty_datasets_with_every_column(study, tmp_path):
    for kind in KINDS:
        frame = build_dataset(kind, {"sites": ["NOPE"]})
        assert len(frame) == 0 and len(frame.columns) > 5
        for fmt in ("csv", "parquet", "xpt", "dta", "sav"):
            write_dataset(frame, fmt, tmp_path / f"{kind}.{fmt}", kind=kind)


def test_the_export_kinds_are_listed_once_and_match_the_job_vocabulary():
    assert tuple(EXPORT_KINDS) == ALL_KINDS == tuple(ExportJob.Kind.values)
    for kind in ALL_KINDS:
        assert export_kind(kind).code == kind
    with pytest.raises(ValueError, match="unknown export kind"):
        export_kind("nope")


def test_the_score_columns_follow_scorings_definitions():
    assert tuple(s.code for s in INSTRUMENTS["FACT-B+4"].scores) == SCORE_CODES
    columns = {f.name for f in Score._meta.get_fields()}
    for field in SCORE_FIELDS:
        assert {field, f"{field}_n"} <= columns
