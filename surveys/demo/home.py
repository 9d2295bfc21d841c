"""The demo's way to try a home link end to end: a known access code (demo only!).

A real participant gets a random code on paper from her coordinator. In the
demo, the most recently randomized participant with an open form gets the
code :data:`DEMO_ACCESS_CODE`, and ``seed_demo`` prints a fresh home link to
that form, so that a person can open it on a phone-sized window, enter the
code, answer and see the form completed with mode "home". Nothing in the
paper cohort changes (the recent participants are after its data cut-off,
and a code or a link changes no form).
"""

from __future__ import annotations

import datetime as dt

from surveys.home.links import issue_access_code, issue_link
from surveys.models import Assessment

#: The demo participant's access code. Demo only: never a fixed code in a real trial.
DEMO_ACCESS_CODE = "210800"


def demo_home_link(*, now: dt.datetime) -> tuple[str, str] | None:
    """(study id, ``/r/<token>``) of a recent participant's open form, her code set to
    :data:`DEMO_ACCESS_CODE`; None when no form is open at *now*."""
    form = (
        Assessment.objects.answerable(now)
        .filter(participant__off_study_on__isnull=True)
        .select_related("participant")
        .order_by("-participant__randomized_on", "-closes_at", "pk")
        .first()
    )
    if form is None:
        return None
    issue_access_code(form.participant, actor=None, now=now, code=DEMO_ACCESS_CODE)
    return form.participant.study_id, issue_link(form, actor=None, now=now)
