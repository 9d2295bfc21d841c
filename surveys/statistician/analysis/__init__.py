"""Analysis runs: snapshot, statistics, plot, and running each once.

* :mod:`~surveys.statistician.analysis.parameters` — what a run asks for;
* :mod:`~surveys.statistician.analysis.snapshot` — the frozen scored data (Parquet + SHA-256);
* :mod:`~surveys.statistician.analysis.compute` — the statistics, via ``scoring/`` only;
* :mod:`~surveys.statistician.analysis.plot` — mean score by visit and arm (Fig 2C);
* :mod:`~surveys.statistician.analysis.runs` — start, execute exactly once, re-run.
"""
