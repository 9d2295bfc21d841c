"""Exports for statisticians: datasets, codebooks and files.

* :func:`build_dataset` — ``items``, ``scored``, ``sdtm_qs`` or ``adqs`` as a DataFrame;
* :func:`codebook` — the data dictionary of a built dataset;
* :func:`write_dataset` — CSV, Parquet or SAS XPT v5;
* :mod:`~surveys.statistician.exports.jobs` — an ``ExportJob`` run once, by a worker
  or in the request.
"""

from surveys.statistician.exports.datasets import KINDS, build_dataset, codebook_context
from surveys.statistician.exports.filters import ExportFilters
from surveys.statistician.exports.spec import SPECS
from surveys.statistician.exports.writers import FORMATS, codebook, write_codebook, write_dataset

__all__ = [
    "FORMATS",
    "KINDS",
    "SPECS",
    "ExportFilters",
    "build_dataset",
    "codebook",
    "codebook_context",
    "write_codebook",
    "write_dataset",
]
