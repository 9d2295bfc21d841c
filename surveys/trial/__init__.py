"""The trial itself: set-up, randomization, the status machine and its sweep, compliance.

* :mod:`~surveys.trial.setup` — a trial, its arms and visit schedule from a protocol;
* :mod:`~surveys.trial.participants` — randomization, off study and its undo, randomization
  corrections (each with the plan its confirmation page shows), missed reasons, rescheduling;
* :mod:`~surveys.trial.assessments` — staff submitting a started form as answered;
* :mod:`~surveys.trial.scores` — scoring a received (completed or partial) form;
* :mod:`~surveys.trial.sessions` — ending the tablet sessions of forms that stop taking answers;
* :mod:`~surveys.trial.transitions` — the one place where an assessment changes status;
* :mod:`~surveys.trial.sweep` — the periodic sweep that applies what the clock makes due;
* :mod:`~surveys.trial.compliance` — expected versus received assessments.

Every workspace (tablet, coordinator, statistician) writes trial data through here.
"""
