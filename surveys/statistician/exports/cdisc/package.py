"""The CDISC submission package: one zip laid out as an eCTD module 5 study folder.

::

    manifest.csv                      every file: rows, SHA-256, cut-off, versions, filters
    tabulations/sdtm/                 dm ds ts qs suppqs: .xpt, .json (Dataset-JSON 1.1), .csv
    tabulations/sdtm/define.xml       Define-XML 2.1
    analysis/adam/datasets/           adsl adqs: .xpt, .json, .csv; define.xml
    misc/odm.xml                      the answers as ODM 1.3.2 (as the ``cdisc_odm`` export)

:func:`build_package` is the plain function behind the ``cdisc_package`` export
job and ``manage.py export_cdisc``. Calendar dates are always included.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zipfile
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
from django.utils import timezone

from surveys.statistician.exports.cdisc import terms
from surveys.statistician.exports.cdisc.adam import adqs_from, adsl, arm_numbers
from surveys.statistician.exports.cdisc.datasetjson import dataset_json, write_dataset_json
from surveys.statistician.exports.cdisc.define import (
    Dataset,
    DefineInput,
    build_define,
    used_codelists,
    validate_define,
    write_define,
)
from surveys.statistician.exports.cdisc.odm import build_odm, validate_odm, write_odm
from surveys.statistician.exports.cdisc.sdtm import dm, ds, qs, suppqs, ts
from surveys.statistician.exports.cdisc.source import Source, load
from surveys.statistician.exports.cdisc.spec import (
    ADQS_SPEC,
    ADSL_SPEC,
    DM_SPEC,
    DS_SPEC,
    QS_SPEC,
    SUPPQS_SPEC,
    TS_SPEC,
)
from surveys.statistician.exports.filters import ExportFilters
from surveys.statistician.exports.manifest import (
    MANIFEST_NAME,
    manifest,
    software_version,
    write_manifest,
)
from surveys.statistician.exports.results import FileResult
from surveys.statistician.exports.spec import DatasetSpec
from surveys.statistician.exports.writers import write_csv, write_xpt

SDTM_DIR = "tabulations/sdtm"
ADAM_DIR = "analysis/adam/datasets"
ODM_PATH = "misc/odm.xml"

__all__ = ["ADAM_DIR", "ODM_PATH", "SDTM_DIR", "build_package", "software_version"]


def trial_codelists(frames: dict[str, pd.DataFrame]) -> list[terms.Codelist]:
    """Sponsor-defined codelists whose values are the trial's: arms, visits, items, parameters."""
    dm_, qs_, adqs_, adsl_ = frames["DM"], frames["QS"], frames["ADQS"], frames["ADSL"]
    arms = dict(zip(dm_["ARMCD"], dm_["ARM"], strict=False))
    numbers = dict(zip(adsl_["TRT01PN"].astype(int).astype(str), adsl_["TRT01P"], strict=False))
    visits = (
        qs_[["VISITNUM", "VISIT"]]
        .drop_duplicates()
        .sort_values("VISITNUM")
        .astype({"VISITNUM": int})
        .astype({"VISITNUM": str})
    )
    tests = qs_[["QSTESTCD", "QSTEST"]].drop_duplicates("QSTESTCD")
    params = adqs_[["PARAMCD", "PARAM", "PARAMN"]].drop_duplicates("PARAMCD").sort_values("PARAMN")
    make = terms.codelist_from
    return [
        make("ARMCD", "Arm code", sorted(arms.items())),
        make("ARM", "Arm", [(v, v) for v in sorted(set(arms.values()))]),
        make("TRTN", "Planned treatment (N)", sorted(numbers.items()), datatype="integer"),
        make("VISITNUM", "Visit number", visits.itertuples(index=False), datatype="integer"),
        make("VISIT", "Visit", [(v, v) for v in dict.fromkeys(visits["VISIT"])]),
        make("QSTESTCD", "Question short name", tests.itertuples(index=False)),
        make("QSTEST", "Question name", [(v, v) for v in tests["QSTEST"]]),
        make("QSCAT", "Category of question", [(v, v) for v in sorted(set(qs_["QSCAT"]))]),
        make(
            "QSSCAT",
            "Subcategory of question",
            [(v, v) for v in dict.fromkeys(qs_["QSSCAT"]) if v],
        ),
        make("PARAMCD", "Parameter code", params[["PARAMCD", "PARAM"]].itertuples(index=False)),
        make("PARAM", "Parameter", [(v, v) for v in params["PARAM"]]),
        make(
            "PARAMN",
            "Parameter (N)",
            [(str(int(n)), p) for n, p in zip(params["PARAMN"], params["PARAM"], strict=True)],
            datatype="integer",
        ),
        make("PARCAT2", "Parameter category 2", [(v, v) for v in dict.fromkeys(adqs_["PARCAT2"])]),
    ]


def package_frames(source: Source) -> dict[str, pd.DataFrame]:
    """Every dataset of the package, from one source (ADQS baselines from every visit)."""
    qs_frame = qs(source)
    whole = source
    if source.filters.visits:
        whole = load(dataclasses.replace(source.filters, visits=()))
        whole.filters = source.filters
    return {
        "DM": dm(source),
        "DS": ds(source),
        "TS": ts(source),
        "QS": qs_frame,
        "SUPPQS": suppqs(source),
        "ADSL": adsl(source),
        "ADQS": adqs_from(whole, qs(whole) if whole is not source else qs_frame),
    }


SPECS: dict[str, DatasetSpec] = {
    s.name: s for s in (DM_SPEC, DS_SPEC, TS_SPEC, QS_SPEC, SUPPQS_SPEC, ADSL_SPEC, ADQS_SPEC)
}


def _write_group(
    folder: Path,
    names: Iterable[str],
    frames: dict[str, pd.DataFrame],
    kind: str,
    source: Source,
    created: dt.datetime,
    codelists: list[terms.Codelist],
) -> list[tuple[Path, int | None]]:
    folder.mkdir(parents=True, exist_ok=True)
    trial = source.trials()[0] if source.trials() else None
    protocol = trial.protocol_id if trial else (source.filters.trial or "STUDY")
    study_oid = f"STUDY.{protocol}"
    written: list[tuple[Path, int | None]] = []
    datasets = []
    for name in names:
        spec, frame = SPECS[name], frames[name]
        stem = name.lower()
        write_xpt(frame, folder / f"{stem}.xpt", spec)
        write_csv(frame, folder / f"{stem}.csv", spec)
        document = dataset_json(
            frame,
            spec,
            study_oid=study_oid,
            mdv_oid=f"MDV.{study_oid}.{kind}",
            created=created,
            software=software_version(),
        )
        write_dataset_json(document, folder / f"{stem}.json")
        datasets.append(Dataset(spec, frame, f"{stem}.xpt"))
        written += [(folder / f"{stem}.{ext}", len(frame)) for ext in ("xpt", "json", "csv")]
    define = build_define(
        DefineInput(
            kind=kind,
            study_oid=study_oid,
            protocol=protocol,
            title=trial.title if trial else protocol,
            datasets=datasets,
            codelists=used_codelists(datasets, codelists),
            created=created,
            software=software_version(),
        )
    )
    write_define(define, folder / "define.xml")
    errors = validate_define(folder / "define.xml")
    if errors:
        raise ValueError(f"{kind} define.xml does not validate: " + "; ".join(errors[:5]))
    written.append((folder / "define.xml", None))
    return written


def write_package_folder(filters: ExportFilters, root: Path) -> list[tuple[Path, int | None]]:
    """Write the package's files under *root* (manifest included); return them with rows."""
    filters = dataclasses.replace(filters, include_dates=True)
    created = timezone.now()
    source = load(filters)
    frames = package_frames(source)
    codelists = trial_codelists(frames)
    files = _write_group(
        root / SDTM_DIR,
        ("DM", "DS", "TS", "QS", "SUPPQS"),
        frames,
        "SDTM",
        source,
        created,
        codelists,
    )
    files += _write_group(
        root / ADAM_DIR, ("ADSL", "ADQS"), frames, "ADaM", source, created, codelists
    )
    if len(source.trials()) == 1:
        odm_path = root / ODM_PATH
        odm_path.parent.mkdir(parents=True, exist_ok=True)
        write_odm(build_odm(source, created=created, software=software_version()), odm_path)
        errors = validate_odm(odm_path)
        if errors:
            raise ValueError("odm.xml does not validate: " + "; ".join(errors[:5]))
        answered = int(frames["QS"]["QSSTRESN"].notna().sum())
        files.append((odm_path, answered))
    write_manifest(manifest(root, files, filters, created), root / MANIFEST_NAME)
    return files


def zip_folder(root: Path, target: Path) -> None:
    """Zip everything under *root* (paths relative to it), deterministic order."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            archive.write(path, path.relative_to(root).as_posix())


def build_package(filters: ExportFilters, folder: Path) -> FileResult:
    """Build the package zip in *folder*; the row count is the datasets' total."""
    root = folder / "package"
    files = write_package_folder(filters, root)
    protocol = filters.trial or "study"
    target = folder / f"{protocol.lower()}_cdisc_package.zip"
    zip_folder(root, target)
    rows = sum(r for p, r in files if r is not None and p.suffix == ".xpt")
    return FileResult(target, rows)


__all__ += ["arm_numbers", "package_frames", "trial_codelists", "write_package_folder"]
