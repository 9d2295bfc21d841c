"""The statistician's workspace (``/statistician/``): exports and analysis runs.

Read-only on trial data.

* :mod:`~surveys.statistician.urls`, :mod:`~surveys.statistician.views` — the pages;
* :mod:`~surveys.statistician.forms` — the export and analysis-run forms;
* :mod:`~surveys.statistician.exports` — datasets, codebooks, files, export jobs;
* :mod:`~surveys.statistician.analysis` — analysis runs: snapshot, statistics, plot, results.

Both kinds of job run through the one background-job runner, :mod:`surveys.jobs`.
"""
