"""Exports for statisticians: datasets, codebooks and files (see DESIGN.md "Exports").

* :func:`build_dataset` — ``items``, ``scored``, ``sdtm_qs`` or ``adqs`` as a DataFrame;
* :func:`codebook` — the data dictionary of a built dataset;
* :func:`write_dataset` — CSV, Parquet or SAS XPT v5;
* :mod:`surveys.exports.jobs` — an ``ExportJob`` run once, by a worker or in the request.
"""

from surveys.exports.datasets import KINDS, build_dataset, codebook_context
from surveys.exports.filters import ExportFilters
from surveys.exports.spec import SPECS
from surveys.exports.writers import FORMATS, codebook, write_codebook, write_dataset

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
