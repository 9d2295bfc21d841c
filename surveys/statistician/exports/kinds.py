"""The one list of export kinds: each kind's dataset spec, builder and size estimate.

The kinds themselves (code and label) are ``ExportJob.Kind``, the vocabulary
stored on the job row; everything else about a kind is its line in
:data:`KINDS`, and nothing else lists them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from surveys.models import ExportJob
from surveys.statistician.exports.datasets import adqs, items_long, scored_wide, sdtm_qs
from surveys.statistician.exports.filters import ExportFilters
from surveys.statistician.exports.spec import (
    ADQS_SPEC,
    ITEMS_SPEC,
    QS_SPEC,
    SCORED_SPEC,
    DatasetSpec,
)


@dataclass(frozen=True)
class ExportKind:
    code: str  # an ExportJob.Kind value
    spec: DatasetSpec
    build: Callable[[ExportFilters], pd.DataFrame]
    #: output rows per completed assessment (items: every item of the E2108 form), for
    #: the quick estimate that decides between building in the request and in a worker.
    rows_per_form: int


KINDS: Mapping[str, ExportKind] = {
    kind.code: kind
    for kind in (
        ExportKind(ExportJob.Kind.ITEMS, ITEMS_SPEC, items_long, rows_per_form=46),
        ExportKind(ExportJob.Kind.SCORED, SCORED_SPEC, scored_wide, rows_per_form=1),
        ExportKind(ExportJob.Kind.SDTM_QS, QS_SPEC, sdtm_qs, rows_per_form=46),
        ExportKind(ExportJob.Kind.ADQS, ADQS_SPEC, adqs, rows_per_form=17),
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
    """The dataset *kind* (``items``, ``scored``, ``sdtm_qs``, ``adqs``) for *filters*."""
    if not isinstance(filters, ExportFilters):
        filters = ExportFilters.from_dict(filters)
    return export_kind(kind).build(filters)
