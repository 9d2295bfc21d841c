"""The patient tablet: everything from the coordinator's hand-off to the submitted form.

* :mod:`~surveys.tablet.urls`, :mod:`~surveys.tablet.views` — ``/tablet/``: the
  hand-off page, one page per section, review, submit, lock, leave, the JSON
  answer endpoint;
* :mod:`~surveys.tablet.forms` — the hand-off and PIN forms;
* :mod:`~surveys.tablet.pages` — what the tablet shows (the read model of a form);
* :mod:`~surveys.tablet.kiosk` — kiosk sessions: start, answer, lock, unlock, end, submit;
* :mod:`~surveys.tablet.answers` — saving answers, submitting and scoring an assessment;
* :mod:`~surveys.tablet.middleware` — confines a handed-over browser to the tablet pages.
"""
