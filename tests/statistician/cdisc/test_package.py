"""The CDISC package of the test trial: contents, the self-check, and each rule failing."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest
from django.core.management import call_command
from lxml import etree

from scoring.instruments import INSTRUMENTS, ITEMS
from surveys.models import Assessment, OdmOid, Response
from surveys.statistician.exports import ExportFilters, build_dataset
from surveys.statistician.exports.cdisc import terms
from surveys.statistician.exports.cdisc.check import check_folder, findings_table
from surveys.statistician.exports.cdisc.odm import build_odm, item_data_count, validate_odm
from surveys.statistician.exports.cdisc.package import SPECS, package_frames, write_package_folder
from surveys.statistician.exports.cdisc.source import load
from surveys.trial.participants import assessment_record_missed_reason, participant_go_off_study
from tests.statistician.conftest import SWEEP_AT

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def folder(study, tmp_path) -> Path:
    root = tmp_path / "package"
    write_package_folder(ExportFilters(), root)
    return root


def failed(root: Path) -> set[str]:
    return {f.rule for f in check_folder(root) if f.failed}


def test_the_package_has_every_dataset_define_json_and_manifest_and_passes_the_check(folder):
    names = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    for ds in ("dm", "ds", "ts", "qs", "suppqs"):
        assert {f"tabulations/sdtm/{ds}.{ext}" for ext in ("xpt", "json", "csv")} <= names
    for ds in ("adsl", "adqs"):
        assert {f"analysis/adam/datasets/{ds}.{ext}" for ext in ("xpt", "json", "csv")} <= names
    assert {
        "tabulations/sdtm/define.xml",
        "analysis/adam/datasets/define.xml",
        "manifest.csv",
        "misc/odm.xml",
    } <= names
    findings = check_folder(folder)
    assert not [f for f in findings if f.failed], findings_table(findings)
    assert {f.rule for f in findings if f.status == "PASS"} >= {
        "MANIFEST", "DEFXSD", "ODMXSD", "DEFVARS", "NAMES", "LABELS", "TEXT200", "STUDYDAY",
        "QSSEQ", "SEQSTABLE", "ANSWERS", "SRCSEQ", "COPIES",
    }  # fmt: skip
    manifest = pd.read_csv(folder / "manifest.csv", keep_default_na=False)
    assert set(manifest["file"]) == names - {"manifest.csv"}
    assert manifest["sha256"].str.fullmatch(r"[0-9a-f]{64}").all()
    assert manifest["scoring_version"].ne("").all() and manifest["software_version"].ne("").all()


# ------------------------------------------------------------------ each rule can fail


def rewrite_xpt(path: Path, change, version: int = 5, relabel=None) -> None:
    frame, meta = pyreadstat.read_xport(str(path), disable_datetime_conversion=True)
    labels = dict(zip(meta.column_names, meta.column_labels, strict=True)) | (relabel or {})
    frame = change(frame)
    pyreadstat.write_xport(
        frame,
        str(path),
        file_label=meta.file_label,
        column_labels=[labels.get(c, "Changed") for c in frame.columns],
        table_name=meta.table_name,
        file_format_version=version,
    )


def _edit_text(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _first_answered(frame: pd.DataFrame) -> int:
    return int(np.flatnonzero(frame["QSSTRESN"].notna().to_numpy())[0])


def _set(frame, row, column, value):
    frame.loc[frame.index[row], column] = value
    return frame


QS = "tabulations/sdtm/qs.xpt"
TAMPER = {
    "MANIFEST": lambda root: (root / "tabulations/sdtm/ts.csv").open("a").write("\n"),
    "DEFXSD": lambda root: _edit_text(
        root / "tabulations/sdtm/define.xml", "def:Structure=", "def:Shape="
    ),
    "ODMXSD": lambda root: _edit_text(root / "misc/odm.xml", 'FileType="Snapshot"', 'FileType="X"'),
    "DEFVARS": lambda root: _edit_text(
        root / "analysis/adam/datasets/define.xml",
        'ItemOID="IT.ADQS.SRCSEQ"',
        'ItemOID="IT.ADQS.AVAL"',
    ),
    "NAMES": lambda root: rewrite_xpt(
        root / "tabulations/sdtm/ts.xpt", lambda f: f.rename(columns={"TSVCDVER": "TSVCDVERS"}), 8
    ),
    "LABELS": lambda root: rewrite_xpt(
        root / "tabulations/sdtm/ts.xpt", lambda f: f, 8, {"TSVCDVER": "Version " * 6}
    ),
    "TEXT200": lambda root: _edit_text(
        root / "tabulations/sdtm/ts.json",
        '"TITLE", "Trial Title", "',
        '"TITLE", "Trial Title", "' + "x" * 201,
    ),
    "STUDYDAY": lambda root: rewrite_xpt(
        root / QS,
        lambda f: _set(f, _first_answered(f), "QSDY", f["QSDY"].iloc[_first_answered(f)] + 1),
    ),
    "QSSEQ": lambda root: rewrite_xpt(root / QS, lambda f: _set(f, 1, "QSSEQ", f["QSSEQ"].iloc[0])),
    "SEQSTABLE": lambda root: rewrite_xpt(root / QS, lambda f: _set(f, 0, "QSSEQ", 999_999)),
    "ANSWERS": lambda root: rewrite_xpt(
        root / QS, lambda f: _set(f, _first_answered(f), "QSSTRESN", 9.0)
    ),
    "SRCSEQ": lambda root: rewrite_xpt(
        root / "analysis/adam/datasets/adqs.xpt",
        lambda f: _set(f, int(np.flatnonzero((f["SRCDOM"] == "QS").to_numpy())[0]), "SRCSEQ", 7.0),
    ),
    "COPIES": lambda root: _edit_text(root / "tabulations/sdtm/dm.csv", ',"F",', ',"M",'),
}


@pytest.mark.parametrize("rule", sorted(TAMPER))
def test_each_rule_of_the_self_check_fails_on_a_package_that_breaks_it(folder, rule):
    assert rule not in failed(folder)
    TAMPER[rule](folder)
    assert rule in failed(folder)


def test_check_cdisc_prints_the_table_and_exits_non_zero_on_an_error(study, tmp_path, capsys):
    out = tmp_path / "out"
    call_command("export_cdisc", "--out", str(out), "--trial", "E2108")
    package = next(out.glob("*.zip"))
    call_command("check_cdisc", str(package))
    table = capsys.readouterr().out
    assert "COPIES" in table and "all 13 rules passed" in table
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(broken, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "tabulations/sdtm/dm.csv":
                data = data.replace(b',"F",', b',"M",', 1)
            dst.writestr(item, data)
    with pytest.raises(SystemExit) as exit_:
        call_command("check_cdisc", str(broken))
    assert exit_.value.code == 1


# ------------------------------------------------------------------ QS content


def test_qsseq_is_the_same_whatever_the_filters(study):
    """Old code numbered QSSEQ 1, 2, ... per export: a visit filter renumbered records."""
    key = ["USUBJID", "VISITNUM", "QSTESTCD", "QSCAT"]
    full = build_dataset("sdtm_qs").set_index(key)["QSSEQ"]
    for filters in ({"visits": ["m6"]}, {"sites": ["B01"]}, {"arms": ["B"], "visits": ["m18"]}):
        part = build_dataset("sdtm_qs", filters).set_index(key)["QSSEQ"]
        assert len(part) and part.index.isin(full.index).all()
        assert (part == full.loc[part.index]).all(), filters
    gp1 = full.xs(("E2108-0001", 2, "GP1", "FACT-B V4"))
    assert gp1 == 2 * 1000 + 1


def test_qstest_is_a_whole_phrase_and_qscat_a_released_version(study):
    frame = build_dataset("sdtm_qs")
    tests = dict(zip(frame["QSTESTCD"], frame["QSTEST"], strict=False))
    for code in ("B7", "LR5", "LR7", "LR8", "LR9"):
        assert tests[code] == terms.QSTEST_NAMES[code]
        assert not ITEMS[code].label_en.startswith(tests[code])  # not a cut label
    assert frame["QSTEST"].str.len().max() <= 40
    assert not frame["QSCAT"].str.contains("DRAFT").any()


def test_a_started_then_missed_form_keeps_its_answers_in_qs(study, coordinator_a):
    """Old code: QS took completed forms only, so these answers were missing."""
    form = study.assessment(15, "m6")
    assert form.status == Assessment.Status.MISSED
    saved = dt.datetime(2025, 7, 22, 15, tzinfo=dt.UTC)
    Response.objects.bulk_create(
        Response(assessment=form, item_code=code, value=v, saved_at=saved)
        for code, v in (("GP1", 0), ("GP2", 3), ("GS7", None))
    )
    Response.objects.filter(assessment=form, item_code="GS7").update(declined=True)
    assessment_record_missed_reason(
        assessment=form, reason="other", text="tablet broken", actor=coordinator_a, now=SWEEP_AT
    )
    qs = build_dataset("sdtm_qs")
    rows = qs.loc[(qs["USUBJID"] == "E2108-0016") & (qs["VISITNUM"] == 2)].set_index("QSTESTCD")
    assert rows.loc["GP1", "QSSTRESN"] == 0 and rows.loc["GP2", "QSSTRESN"] == 3
    assert rows.loc["GS7", "QSREASND"] == "PREFER NOT TO ANSWER"
    assert rows.loc["GP3", "QSSTAT"] == "NOT DONE"
    assert rows.loc["GP3", "QSREASND"] == "OTHER: tablet broken"
    assert rows.loc["GP1", "QSDTC"].startswith("2025-07-22") and rows.loc["GP1", "QSBLFL"] == ""
    assert "QSALL" not in rows.index
    source = load(ExportFilters())
    supp = package_frames(source)["SUPPQS"]
    status = supp.loc[
        (supp["USUBJID"] == "E2108-0016") & (supp["IDVARVAL"] == "M6") & (supp["QNAM"] == "QSFSTAT")
    ]
    assert status["QVAL"].tolist() == ["INCOMPLETE"]


def test_dm_ds_ts_adsl_anchor_the_study_days_and_record_the_disposition(study):
    participant_go_off_study(
        participant=study.participants[4],
        off_study_on=dt.date(2026, 3, 1),
        reason="death",
        actor="test",
        now=dt.datetime(2026, 3, 2, tzinfo=dt.UTC),
    )
    frames = package_frames(load(ExportFilters()))
    dm = frames["DM"].set_index("USUBJID")
    assert dm.loc["E2108-0001", "RFSTDTC"] == "2025-01-06"
    assert dm.loc["E2108-0005", ["DTHFL", "DTHDTC"]].tolist() == ["Y", "2026-03-01"]
    assert set(dm["SEX"]) == {"F"} and set(dm["COUNTRY"]) == {"USA"}
    ds = frames["DS"]
    off = ds.loc[(ds["USUBJID"] == "E2108-0005") & (ds["DSSEQ"] == 2)].squeeze()
    assert (off["DSDECOD"], off["DSCAT"], off["DSSTDTC"]) == (
        "DEATH",
        "DISPOSITION EVENT",
        "2026-03-01",
    )
    ts = frames["TS"]
    assert {"TITLE", "SPONSOR", "REGID", "SSTDTC", "QRSINST"} <= set(ts["TSPARMCD"])
    assert ts.loc[ts["TSPARMCD"] == "REGID", "TSVAL"].item() == "NCT01242800"
    assert ts.loc[ts["TSPARMCD"] == "SSTDTC", "TSVAL"].item() == "2025-01-06"
    adsl = frames["ADSL"].set_index("USUBJID")
    assert adsl.loc["E2108-0005", ["DTHFL", "DCSREAS", "EOSSTT"]].tolist() == [
        "Y", "DEATH", "DISCONTINUED",
    ]  # fmt: skip
    assert adsl["ITTFL"].eq("Y").all() and adsl["PROEVLFL"].eq("Y").all()


def test_adqs_items_trace_to_qs_and_scores_carry_flags_and_windows(study):
    frames = package_frames(load(ExportFilters()))
    adqs, qs = frames["ADQS"], frames["QS"]
    items = adqs.loc[adqs["SRCDOM"] == "QS"]
    assert set(INSTRUMENTS["FACT-B"].item_codes) <= set(items["PARAMCD"])
    merged = items.merge(qs, left_on=["USUBJID", "SRCSEQ"], right_on=["USUBJID", "QSSEQ"])
    assert len(merged) == len(items)
    assert np.array_equal(merged["AVAL"], merged["QSSTRESN"], equal_nan=True)
    pwb = adqs.loc[(adqs["USUBJID"] == "E2108-0003") & (adqs["PARAMCD"] == "PWB")].iloc[0]
    assert (pwb["ITMANS"], pwb["ITMTOT"], pwb["PRORFL"]) == (6, 7, "Y")  # GP1 left blank
    base = adqs.loc[(adqs["AVISITN"] == 1)]
    assert (
        base["AWTARGET"].eq(1).all() and base["AWLO"].eq(-28).all() and base["AWU"].eq("DAYS").all()
    )
    assert adqs.loc[adqs["AVAL"].notna(), "ANL01FL"].eq("Y").all()


# ------------------------------------------------------------------ exact values, ODM


def test_the_xpt_files_read_back_with_pyreadstat_equal_the_source_exactly(folder, study):
    frames = package_frames(load(ExportFilters(include_dates=True)))
    for name, frame in frames.items():
        spec = SPECS[name]
        sub = "tabulations/sdtm" if spec.standard == "SDTMIG" else "analysis/adam/datasets"
        back, _ = pyreadstat.read_xport(str(folder / sub / f"{name.lower()}.xpt"))
        assert list(back.columns) == list(frame.columns)
        for var in spec.variables:
            ours, theirs = frame[var.name], back[var.name]
            if var.date:
                assert [None if pd.isna(v) else pd.Timestamp(v).date() for v in ours] == [
                    None if pd.isna(v) else v for v in theirs
                ], var.name
            elif var.type == "num":
                a = pd.to_numeric(ours).to_numpy(dtype=float, na_value=np.nan)
                b = theirs.to_numpy(dtype=float)
                assert np.array_equal(a, b, equal_nan=True), var.name  # exact: zero stays 0.0
            else:
                assert ours.fillna("").astype(str).tolist() == theirs.tolist(), var.name
    zeros = back if name == "ADQS" else None
    assert zeros is not None and (zeros["AVAL"] == 0.0).any()


def test_the_odm_file_validates_and_has_one_itemdata_per_answered_qs_record(study, tmp_path):
    OdmOid.objects.create(trial=study.trial, kind="event", key="baseline", oid="SCREEN")
    OdmOid.objects.create(trial=study.trial, kind="item", key="GP1", oid="FACTB_GP1")
    source = load(ExportFilters(trial="E2108"))
    path = tmp_path / "odm.xml"
    build_odm(source, created=dt.datetime.now(dt.UTC), software="test").write(str(path))
    assert validate_odm(path) == []
    qs = build_dataset("sdtm_qs", {"trial": "E2108"})
    assert item_data_count(path) == int(qs["QSSTRESN"].notna().sum())
    text = path.read_text()
    assert 'StudyEventOID="SCREEN"' in text and 'ItemOID="FACTB_GP1"' in text
    assert "<AuditRecord>" in text and "<DateTimeStamp>" in text
    tree = etree.parse(str(path))
    assert tree.getroot().get("ODMVersion") == "1.3.2"


def test_the_define_files_validate_and_describe_codelists_methods_and_value_levels(folder):
    sdtm = (folder / "tabulations/sdtm/define.xml").read_text()
    adam = (folder / "analysis/adam/datasets/define.xml").read_text()
    assert 'Alias Context="nci:ExtCodeID" Name="C66742"' in sdtm  # NY codelist
    assert 'def:ValueListDef OID="VL.QS.QSSTRESN"' in sdtm and "WC.QS.QSTESTCD.GP1" in sdtm
    assert 'MethodDef OID="MT.SCORE.TOI"' in adam and 'MethodDef OID="MT.BASELINE"' in adam
    assert 'Name="ADaMIG"' in adam and f'Version="{terms.CT_VERSION}"' in adam
    assert 'KeySequence="1"' in sdtm and "ExternalCodeList" in sdtm
