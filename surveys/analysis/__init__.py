"""Analysis runs (DESIGN.md "Statistics", "Jobs"): snapshot, statistics, plot, job safety.

* :mod:`~surveys.analysis.parameters` — what a run asks for;
* :mod:`~surveys.analysis.snapshot` — the frozen scored data (Parquet + SHA-256);
* :mod:`~surveys.analysis.compute` — the statistics, via ``scoring/`` only;
* :mod:`~surveys.analysis.plot` — mean score by visit and arm (Fig 2C);
* :mod:`~surveys.analysis.runs` — start, execute exactly once, re-run, recover.
"""
