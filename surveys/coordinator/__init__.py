"""The coordinator's workspace (``/coordinator/``): worklist, participants, compliance.

* :mod:`~surveys.coordinator.urls`, :mod:`~surveys.coordinator.views` — the pages;
* :mod:`~surveys.coordinator.forms` — randomization, off study (confirmed; undone with a
  reason), randomization corrections, missed reason, submit as answered (no presets);
* :mod:`~surveys.coordinator.selectors` — the worklist and its counts, her participants;
* :mod:`~surveys.coordinator.digest` — the daily email of windows opening and closing.

The writes are the trial's services (:mod:`surveys.trial`); the compliance
table is :mod:`surveys.trial.compliance`, shared with the statistician's runs.
"""
