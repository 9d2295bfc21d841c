"""Exports for statisticians: datasets, codebooks and files.

* :func:`build_dataset` — ``items``, ``scored``, ``sdtm_qs`` or ``adqs`` as a DataFrame;
* :func:`codebook` — the data dictionary of a built dataset;
* :func:`write_dataset` — CSV, Parquet or SAS XPT v5;
* :mod:`~surveys.statistician.exports.jobs` — an ``ExportJob`` run once, by a worker
  or in the request.
"""

from surveys.statistician.exports.codebooks import codebook, codebook_json, write_dataset
from surveys.statistician.exports.datasets import codebook_context
from surveys.statistician.exports.filters import ExportFilters
from surveys.statistician.exports.kinds import KINDS, build_dataset, export_kind
from surveys.statistician.exports.writers import FORMATS, write_codebook

__all__ = [
    "FORMATS",
    "KINDS",
    "ExportFilters",
    "build_dataset",
    "codebook",
    "codebook_context",
    "codebook_json",
    "export_kind",
    "write_codebook",
    "write_dataset",
]
