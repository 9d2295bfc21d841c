"""The conformance self-check of a CDISC package (``manage.py check_cdisc PACKAGE.zip``).

Each rule returns a :class:`Finding`; :func:`check_package` runs them all and
:func:`findings_table` prints them. Rules that compare the package with the
database (QSSEQ stable across filtered exports, every stored answer in QS)
need the database the package was built from, and are skipped without it.

========  ============================================================================
rule      what it checks
========  ============================================================================
MANIFEST  every file listed in manifest.csv exists with that SHA-256, and no file is
          missing from the manifest
DEFXSD    both define.xml files validate against the Define-XML 2.1 schema
ODMXSD    misc/odm.xml validates against the ODM 1.3.2 schema
DEFVARS   every dataset variable is described in define.xml, and every variable
          define.xml describes is in the dataset
NAMES     dataset and variable names at most 8 characters (SAS V5)
LABELS    dataset and variable labels at most 40 characters
TEXT200   character values at most 200 characters
STUDYDAY  QSDY (and DSSTDY) = the day of QSDTC (DSSTDTC) counted from DM.RFSTDTC, no
          day 0, blank exactly when the date is blank
QSSEQ     QSSEQ unique within USUBJID
SEQSTABLE each record's QSSEQ in an export filtered to one visit equals its QSSEQ in
          the package (database)
ANSWERS   every stored answer (within the package's filters) is a QS record with the
          same value, or NOT DONE with PREFER NOT TO ANSWER when declined (database)
SRCSEQ    every ADQS record with SRCDOM = QS points to a QS record (same USUBJID,
          QSSEQ = SRCSEQ) whose QSSTRESN equals AVAL
COPIES    XPT, Dataset-JSON and CSV copies of each dataset are equal cell for cell
========  ============================================================================
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyreadstat
from lxml import etree

from scoring.csvsafe import unescape_frame
from surveys.statistician.exports.cdisc.datasetjson import read_dataset_json
from surveys.statistician.exports.cdisc.define import DEF_NS, ODM_NS, schema_errors
from surveys.statistician.exports.cdisc.package import ADAM_DIR, ODM_PATH, SDTM_DIR
from surveys.statistician.exports.filters import ExportFilters
from surveys.statistician.exports.manifest import MANIFEST_NAME, sha256
from surveys.statistician.exports.writers import SAS_EPOCH

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"
DECLINED = "PREFER NOT TO ANSWER"


@dataclass
class Finding:
    rule: str
    status: str
    checked: int
    problems: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def failed(self) -> bool:
        return self.status == FAIL


def _finding(rule: str, checked: int, problems: list[str], note: str = "") -> Finding:
    return Finding(rule, FAIL if problems else PASS, checked, problems, note)


@dataclass
class Dataset:
    name: str
    folder: str
    xpt: pd.DataFrame
    labels: dict[str, str]
    file_label: str
    json_doc: dict[str, object]
    json: pd.DataFrame
    csv: pd.DataFrame

    @property
    def dates(self) -> set[str]:
        columns = self.json_doc["columns"]
        assert isinstance(columns, list)
        return {c["name"] for c in columns if c.get("targetDataType") == "integer"}


class Package:
    """An unpacked package: its datasets (as XPT, JSON and CSV), define files and manifest."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.datasets: dict[str, Dataset] = {}
        for folder in (SDTM_DIR, ADAM_DIR):
            for path in sorted((root / folder).glob("*.xpt")):
                self.datasets[path.stem.upper()] = self._read(folder, path)
        manifest = root / MANIFEST_NAME
        self.manifest = (
            pd.read_csv(manifest, dtype=str, keep_default_na=False) if manifest.exists() else None
        )

    def _read(self, folder: str, path: Path) -> Dataset:
        xpt, meta = pyreadstat.read_xport(str(path), disable_datetime_conversion=True)
        document, json_frame = read_dataset_json(path.with_suffix(".json"))
        text = {
            c["name"]: str
            for c in document["columns"]
            if c["dataType"] in ("string", "date", "datetime") and "targetDataType" not in c
        }
        dates = [c["name"] for c in document["columns"] if c.get("targetDataType") == "integer"]
        csv = pd.read_csv(
            path.with_suffix(".csv"),
            dtype=text,
            keep_default_na=False,
            na_values={c["name"]: [""] for c in document["columns"] if c["name"] not in text},
            float_precision="round_trip",
        )
        csv = unescape_frame(csv, text)  # formula-like text was written with a leading "'"
        for name in dates:
            csv[name] = pd.to_datetime(csv[name], format="%Y-%m-%d")
        return Dataset(
            path.stem.upper(),
            folder,
            xpt,
            dict(zip(meta.column_names, [str(x or "") for x in meta.column_labels], strict=True)),
            meta.file_label or "",
            document,
            json_frame,
            csv,
        )

    def filters(self) -> ExportFilters:
        if self.manifest is None or not len(self.manifest):
            return ExportFilters()
        return ExportFilters.from_dict(json.loads(self.manifest["filters"].iloc[0] or "{}"))

    def frame(self, name: str) -> pd.DataFrame:
        """The dataset as the XPT file holds it (dates as SAS day numbers)."""
        return self.datasets[name].xpt


# --------------------------------------------------------------------------- rules


def rule_manifest(pkg: Package) -> Finding:
    if pkg.manifest is None:
        return _finding("MANIFEST", 0, ["manifest.csv is missing"])
    problems = []
    listed = set()
    records: Any = pkg.manifest.itertuples(index=False)
    for row in records:
        listed.add(row.file)
        path = pkg.root / row.file
        if not path.exists():
            problems.append(f"{row.file}: listed but missing")
        elif sha256(path) != row.sha256:
            problems.append(f"{row.file}: SHA-256 differs from the manifest")
    for path in pkg.root.rglob("*"):
        name = path.relative_to(pkg.root).as_posix()
        if path.is_file() and name != MANIFEST_NAME and name not in listed:
            problems.append(f"{name}: not in the manifest")
    return _finding("MANIFEST", len(pkg.manifest), problems)


def rule_define_xsd(pkg: Package) -> Finding:
    problems = []
    for folder in (SDTM_DIR, ADAM_DIR):
        path = pkg.root / folder / "define.xml"
        if not path.exists():
            problems.append(f"{folder}/define.xml is missing")
            continue
        problems += [f"{folder}/define.xml {e}" for e in schema_errors(path, "define", "2.1")]
    return _finding("DEFXSD", 2, problems)


def rule_odm_xsd(pkg: Package) -> Finding:
    path = pkg.root / ODM_PATH
    if not path.exists():
        return Finding("ODMXSD", SKIP, 0, note="no misc/odm.xml (a package of several trials)")
    return _finding("ODMXSD", 1, [f"odm.xml {e}" for e in schema_errors(path, "odm", "1.3.2")])


def _define_variables(path: Path) -> dict[str, list[str]]:
    tree = etree.parse(str(path))
    ns = {"odm": ODM_NS, "def": DEF_NS}
    names = {i.get("OID"): i.get("Name") for i in tree.iterfind(".//odm:ItemDef", ns)}
    out = {}
    for group in tree.iterfind(".//odm:ItemGroupDef", ns):
        out[group.get("Name")] = [
            names.get(ref.get("ItemOID"), f"?{ref.get('ItemOID')}")
            for ref in group.iterfind("odm:ItemRef", ns)
        ]
    return out


def rule_define_vars(pkg: Package) -> Finding:
    problems = []
    checked = 0
    described: dict[str, list[str]] = {}
    for folder in (SDTM_DIR, ADAM_DIR):
        path = pkg.root / folder / "define.xml"
        if path.exists():
            described.update(_define_variables(path))
    for name, ds in pkg.datasets.items():
        columns = list(ds.xpt.columns)
        checked += len(columns)
        if name not in described:
            problems.append(f"{name}: no ItemGroupDef in define.xml")
            continue
        for missing in sorted(set(columns) - set(described[name])):
            problems.append(f"{name}.{missing}: in the data, not in define.xml")
        for extra in sorted(set(described[name]) - set(columns)):
            problems.append(f"{name}.{extra}: in define.xml, not in the data")
    for name in sorted(set(described) - set(pkg.datasets)):
        problems.append(f"{name}: described in define.xml, no dataset")
    return _finding("DEFVARS", checked, problems)


def rule_names(pkg: Package) -> Finding:
    problems = [
        f"{name}.{col}" if col else name
        for name, ds in pkg.datasets.items()
        for col in ["", *ds.xpt.columns]
        if len(col or name) > 8
    ]
    return _finding("NAMES", sum(len(ds.xpt.columns) + 1 for ds in pkg.datasets.values()), problems)


def rule_labels(pkg: Package) -> Finding:
    problems = []
    for name, ds in pkg.datasets.items():
        if len(ds.file_label) > 40:
            problems.append(f"{name}: dataset label longer than 40")
        for column, label in ds.labels.items():
            if len(label or "") > 40:
                problems.append(f"{name}.{column}: label longer than 40 ({label!r})")
            if not label:
                problems.append(f"{name}.{column}: no label")
    return _finding("LABELS", sum(len(ds.labels) for ds in pkg.datasets.values()), problems)


def rule_text_length(pkg: Package) -> Finding:
    problems = []
    checked = 0
    for name, ds in pkg.datasets.items():
        for column in ds.json.columns:
            if ds.json[column].dtype != object:
                continue
            lengths = ds.json[column].astype(str).str.len()
            checked += len(lengths)
            if len(lengths) and lengths.max() > 200:
                problems.append(f"{name}.{column}: {int((lengths > 200).sum())} values over 200")
    return _finding("TEXT200", checked, problems)


def _day(date: pd.Series, reference: pd.Series) -> np.ndarray:
    delta = (date - reference).dt.days.to_numpy(dtype=float)
    return np.where(delta >= 0, delta + 1, delta)


def rule_study_day(pkg: Package) -> Finding:
    dm = pkg.frame("DM")
    ref = pd.to_datetime(dm.set_index("USUBJID")["RFSTDTC"].replace("", None))
    problems: list[str] = []
    checked = 0
    for name, dtc, dy in (("QS", "QSDTC", "QSDY"), ("DS", "DSSTDTC", "DSSTDY")):
        frame = pkg.frame(name)
        checked += len(frame)
        date = pd.to_datetime(frame[dtc].str.slice(0, 10).replace("", None))
        expected = _day(date, frame["USUBJID"].map(ref))
        got = frame[dy].to_numpy(dtype=float)
        zero = np.flatnonzero(got == 0)
        blank_mismatch = np.flatnonzero(np.isnan(got) != np.isnan(expected))
        wrong = np.flatnonzero(~np.isnan(got) & ~np.isnan(expected) & (got != expected))
        for label, rows in (
            ("day 0", zero),
            ("blank on one side only", blank_mismatch),
            ("differs", wrong),
        ):
            if len(rows):
                row = frame.iloc[rows[0]]
                problems.append(
                    f"{name}: {len(rows)} {dy} {label} (e.g. {row['USUBJID']} {dtc}="
                    f"{row[dtc]!r} {dy}={row[dy]} RFSTDTC={ref.get(row['USUBJID'])})"
                )
    return _finding("STUDYDAY", checked, problems)


def rule_qsseq_unique(pkg: Package) -> Finding:
    qs = pkg.frame("QS")
    dupes = qs.loc[qs.duplicated(["USUBJID", "QSSEQ"], keep=False)]
    problems = []
    if len(dupes):
        first = dupes.iloc[0]
        problems.append(
            f"{len(dupes)} records share a QSSEQ (e.g. {first['USUBJID']} QSSEQ {first['QSSEQ']:g})"
        )
    return _finding("QSSEQ", len(qs), problems)


RECORD = ["USUBJID", "VISITNUM", "QSTESTCD", "QSCAT"]


def rule_qsseq_stable(pkg: Package) -> Finding:
    from surveys.models import Visit
    from surveys.statistician.exports.cdisc.sdtm import sdtm_qs

    qs = pkg.frame("QS")
    filters = pkg.filters()
    full = qs.set_index(RECORD)["QSSEQ"]
    full = full.loc[~full.index.duplicated()]
    problems: list[str] = []
    checked = 0
    visits = Visit.objects.filter(
        trial__protocol_id__in=sorted(set(qs["STUDYID"])), number__in=sorted(set(qs["VISITNUM"]))
    ).values_list("code", flat=True)
    for code in sorted(set(visits)):
        one = sdtm_qs(dataclasses.replace(filters, visits=(code,))).set_index(RECORD)["QSSEQ"]
        common = one.index.intersection(full.index)
        checked += len(common)
        differ = common[one.loc[common].to_numpy() != full.loc[common].to_numpy()]
        if len(differ):
            problems.append(f"visit {code}: {len(differ)} records change QSSEQ (e.g. {differ[0]})")
    return _finding("SEQSTABLE", checked, problems)


def rule_answers(pkg: Package) -> Finding:
    from surveys.models import Response
    from surveys.statistician.exports.datasets import _local, _usubjid

    filters = pkg.filters()
    answers = Response.objects.all()
    if filters.trial:
        answers = answers.filter(assessment__participant__trial__protocol_id=filters.trial)
    if filters.sites:
        answers = answers.filter(assessment__participant__site__code__in=filters.sites)
    if filters.arms:
        answers = answers.filter(assessment__participant__arm__code__in=filters.arms)
    if filters.visits:
        answers = answers.filter(assessment__visit__code__in=filters.visits)
    if filters.cutoff:
        answers = answers.filter(assessment__participant__randomized_on__lte=filters.cutoff)
    rows = list(
        answers.values_list(
            "assessment__participant__trial__protocol_id",
            "assessment__participant__study_id",
            "assessment__visit__number",
            "item_code",
            "value",
            "declined",
            "saved_at",
            "assessment__participant__site__timezone",
        )
    )
    frame = pd.DataFrame(
        rows, columns=["studyid", "subjid", "visitnum", "code", "value", "declined", "at", "tz"]
    )
    if filters.cutoff and len(frame):
        local = _local(pd.to_datetime(frame["at"], utc=True), frame["tz"])
        frame = frame.loc[(local < pd.Timestamp(filters.cutoff) + pd.Timedelta(days=1)).to_numpy()]
    if not len(frame):
        return _finding("ANSWERS", 0, [])
    frame["usubjid"] = _usubjid(frame["studyid"], frame["subjid"])
    qs = pkg.frame("QS")
    qs = qs.loc[qs["QSTESTCD"] != "QSALL"].set_index(["USUBJID", "VISITNUM", "QSTESTCD"])
    qs = qs.loc[~qs.index.duplicated()]
    keys = pd.MultiIndex.from_arrays(
        [frame["usubjid"], frame["visitnum"].astype(float), frame["code"]]
    )
    at = qs.index.get_indexer(keys)
    problems = []
    missing = np.flatnonzero(at < 0)
    if len(missing):
        row = frame.iloc[missing[0]]
        problems.append(
            f"{len(missing)} stored answers are not in QS (e.g. {row['usubjid']} visit "
            f"{row['visitnum']} {row['code']})"
        )
    found = at >= 0
    stored = frame["value"].to_numpy(dtype=float)[found]
    declined = frame["declined"].to_numpy(dtype=bool)[found]
    result = qs["QSSTRESN"].to_numpy(dtype=float)[at[found]]
    reason = qs["QSREASND"].to_numpy(dtype=object)[at[found]]
    same = np.where(
        declined,
        np.isnan(result) & (reason == DECLINED),
        (result == stored) | (np.isnan(result) & np.isnan(stored)),
    )
    if (~same).any():
        problems.append(f"{int((~same).sum())} stored answers differ from their QS record")
    return _finding("ANSWERS", len(frame), problems)


def rule_srcseq(pkg: Package) -> Finding:
    adqs = pkg.frame("ADQS")
    qs = pkg.frame("QS").set_index(["USUBJID", "QSSEQ"])
    qs = qs.loc[~qs.index.duplicated()]  # duplicates are the QSSEQ rule's finding
    items = adqs.loc[adqs["SRCDOM"] == "QS"]
    at = qs.index.get_indexer(pd.MultiIndex.from_arrays([items["USUBJID"], items["SRCSEQ"]]))
    problems = []
    if (at < 0).any():
        row = items.iloc[int(np.flatnonzero(at < 0)[0])]
        problems.append(
            f"{int((at < 0).sum())} ADQS records point to no QS record "
            f"(e.g. {row['USUBJID']} SRCSEQ {row['SRCSEQ']})"
        )
    found = at >= 0
    aval = items["AVAL"].to_numpy(dtype=float)[found]
    source = qs["QSSTRESN"].to_numpy(dtype=float)[at[found]]
    same = (aval == source) | (np.isnan(aval) & np.isnan(source))
    if (~same).any():
        problems.append(f"{int((~same).sum())} ADQS AVAL differ from QS.QSSTRESN at SRCSEQ")
    return _finding("SRCSEQ", len(items), problems)


def _normalised(frame: pd.DataFrame, dates: set[str], *, sas_dates: bool) -> pd.DataFrame:
    out = pd.DataFrame(index=range(len(frame)))
    for name in frame.columns:
        column = frame[name].reset_index(drop=True)
        if name in dates and not sas_dates:
            days = (pd.to_datetime(column) - pd.Timestamp(SAS_EPOCH)).dt.days
            out[name] = days.astype("float64")
        elif column.dtype == object:
            out[name] = column.fillna("").astype(str)
        else:
            out[name] = pd.to_numeric(column).astype("float64")
    return out


def rule_copies(pkg: Package) -> Finding:
    problems = []
    checked = 0
    for name, ds in pkg.datasets.items():
        xpt = _normalised(ds.xpt, ds.dates, sas_dates=True)
        for label, other in (("Dataset-JSON", ds.json), ("CSV", ds.csv)):
            copy = _normalised(other, ds.dates, sas_dates=False)
            if list(copy.columns) != list(xpt.columns) or len(copy) != len(xpt):
                problems.append(f"{name}: {label} has other columns or rows than the XPT")
                continue
            for column in xpt.columns:
                a, b = xpt[column], copy[column]
                checked += len(a)
                if a.dtype == object:
                    bad = (a != b).to_numpy()
                else:
                    x, y = a.to_numpy(), b.to_numpy()
                    bad = ~((x == y) | (np.isnan(x) & np.isnan(y)))
                if bad.any():
                    i = int(np.flatnonzero(bad)[0])
                    problems.append(
                        f"{name}.{column}: {int(bad.sum())} cells differ in {label} "
                        f"(row {i + 1}: XPT {a.iloc[i]!r}, {label} {b.iloc[i]!r})"
                    )
    return _finding("COPIES", checked, problems)


FILE_RULES: tuple[Callable[[Package], Finding], ...] = (
    rule_manifest,
    rule_define_xsd,
    rule_odm_xsd,
    rule_define_vars,
    rule_names,
    rule_labels,
    rule_text_length,
    rule_study_day,
    rule_qsseq_unique,
    rule_srcseq,
    rule_copies,
)
DATABASE_RULES: tuple[Callable[[Package], Finding], ...] = (rule_qsseq_stable, rule_answers)


def check_folder(root: Path, *, database: bool = True) -> list[Finding]:
    pkg = Package(root)
    findings = [rule(pkg) for rule in FILE_RULES]
    for rule in DATABASE_RULES:
        name = {"rule_qsseq_stable": "SEQSTABLE", "rule_answers": "ANSWERS"}[rule.__name__]
        if database:
            findings.append(rule(pkg))
        else:
            findings.append(Finding(name, SKIP, 0, note="needs the database (--no-database)"))
    return findings


def check_package(path: Path, *, database: bool = True) -> list[Finding]:
    """Unpack the package zip and run every rule."""
    with tempfile.TemporaryDirectory(prefix="check-cdisc-") as tmp:
        with zipfile.ZipFile(path) as archive:
            archive.extractall(tmp)
        return check_folder(Path(tmp), database=database)


def findings_table(findings: list[Finding]) -> str:
    """The findings as a plain-text table (one line per rule, then the problems)."""
    lines = [f"{'rule':<10} {'result':<6} {'checked':>9} {'problems':>8}  first problem"]
    lines.append("-" * 100)
    for f in findings:
        first = f.problems[0] if f.problems else f.note
        lines.append(f"{f.rule:<10} {f.status:<6} {f.checked:>9,} {len(f.problems):>8}  {first}")
    failed = [f for f in findings if f.failed]
    lines.append("-" * 100)
    lines.append(
        f"{len(failed)} rule(s) failed"
        if failed
        else f"all {len(findings)} rules passed or skipped"
    )
    for f in failed:
        for problem in f.problems[1:]:
            lines.append(f"  {f.rule}: {problem}")
    return "\n".join(lines)
