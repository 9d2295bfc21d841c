"""The one list of export kinds: each kind's dataset spec, builder, formats and size estimate.

The kinds themselves (code and label) are ``ExportJob.Kind``, the vocabulary
stored on the job row; everything else about a kind is its line in
:data:`KINDS`, and nothing else lists them. A dataset kind builds one
DataFrame (written as CSV, Parquet, XPT, Stata or SPSS); a file kind
(the CDISC package, the ODM file) writes its own file into a folder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from surveys.models import ExportJob
from surveys.statistician.exports.cdisc.adam import adqs
from surveys.statistician.exports.cdisc.sdtm import sdtm_qs
from surveys.statistician.exports.cdisc.spec import ADQS_SPEC, QS_SPEC
from surveys.statistician.exports.datasets import items_long, items_wide, scored_wide
from surveys.statistician.exports.filters import ExportFilters
from surveys.statistician.exports.results import FileResult
from surveys.statistician.exports.spec import (
    ITEMS_SPEC,
    ITEMS_WIDE_SPEC,
    SCORED_SPEC,
    DatasetSpec,
)

F = ExportJob.Format
DATASET_FORMATS = (F.CSV, F.PARQUET, F.XPT, F.DTA, F.SAV)


def _package(filters: ExportFilters, folder: Path) -> FileResult:
    from surveys.statistician.exports.cdisc.package import build_package

    return build_package(filters, folder)


def _odm(filters: ExportFilters, folder: Path) -> FileResult:
    from surveys.statistician.exports.cdisc.odm import write_odm_export

    return write_odm_export(filters, folder)


@dataclass(frozen=True)
class ExportKind:
    code: str  # an ExportJob.Kind value
    formats: tuple[str, ...]
    #: output rows per completed assessment, for the quick estimate that decides between
    #: building in the request and in a worker.
    rows_per_form: int
    spec: DatasetSpec | None = None
    build: Callable[[ExportFilters], pd.DataFrame] | None = None
    #: a file kind: writes into a folder and says what it wrote (always a background job)
    write: Callable[[ExportFilters, Path], FileResult] | None = None

    @property
    def is_dataset(self) -> bool:
        return self.build is not None

    def dataset_spec(self) -> DatasetSpec:
        if self.spec is None:
            raise ValueError(f"{self.code} is not a single-dataset export")
        return self.spec


KINDS: Mapping[str, ExportKind] = {
    kind.code: kind
    for kind in (
        ExportKind(ExportJob.Kind.ITEMS, DATASET_FORMATS, 46, ITEMS_SPEC, items_long),
        ExportKind(ExportJob.Kind.SCORED, DATASET_FORMATS, 1, SCORED_SPEC, scored_wide),
        ExportKind(ExportJob.Kind.ITEMS_WIDE, DATASET_FORMATS, 1, ITEMS_WIDE_SPEC, items_wide),
        ExportKind(ExportJob.Kind.SDTM_QS, DATASET_FORMATS, 46, QS_SPEC, sdtm_qs),
        ExportKind(ExportJob.Kind.ADQS, DATASET_FORMATS, 54, ADQS_SPEC, adqs),
        ExportKind(ExportJob.Kind.CDISC_PACKAGE, (F.ZIP,), 160, write=_package),
        ExportKind(ExportJob.Kind.CDISC_ODM, (F.XML,), 46, write=_odm),
    )
}
if set(KINDS) != set(ExportJob.Kind.values):  # pragma: no cover - a kind added to one place only
    raise ImportError("ExportJob.Kind and exports.kinds.KINDS list different export kinds")


def export_kind(kind: str) -> ExportKind:
    """The kind *kind*; ValueError naming the known ones otherwise."""
    if kind not in KINDS:
        raise ValueError(f"unknown export kind {kind!r}; choose one of {', '.join(KINDS)}")
    return KINDS[kind]


def build_dataset(
    kind: str, filters: ExportFilters | Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """The dataset *kind* (``items``, ``scored``, ``items_wide``, ``sdtm_qs``, ``adqs``)."""
    if not isinstance(filters, ExportFilters):
        filters = ExportFilters.from_dict(filters)
    build = export_kind(kind).build
    if build is None:
        raise ValueError(f"{kind} is not a single-dataset export")
    return build(filters)
