"""Background jobs: one runner for every kind of job the workers execute.

* :mod:`~surveys.jobs.claims` — leases (PostgreSQL advisory locks) and the
  claim of a job's row, with its attempt cap;
* :mod:`~surveys.jobs.runner` — :func:`~surveys.jobs.runner.execute`: lease, claim,
  work, compare-and-set on the claim token, audit;
* :mod:`~surveys.jobs.dispatch` — send a job to the workers by its task's stable
  name once the transaction commits;
* :mod:`~surveys.jobs.recovery` — send again the jobs no live worker is executing;
* :mod:`~surveys.jobs.periodic` — the run lock and ``TaskRun`` record of periodic tasks.

The kinds are the concrete subclasses of :class:`surveys.models.Job`
(``ExportJob``, ``AnalysisRun``); their work lives with the statistician
(``surveys.statistician.exports.jobs``, ``surveys.statistician.analysis.runs``).
Nothing here imports a workspace or the Celery tasks.
"""
