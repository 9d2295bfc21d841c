"""The reminder job over 10,000 open assessments with contact details, then again.

10,000 participants of one Chicago site, each with an open baseline form, encrypted contact
details (half prefer SMS) and an access code; the job runs at the moment "7 days before it
closes" falls due for all of them. First run: every reminder is claimed, its home link
issued, its text rendered in her language and delivered to the outbox (the demo's
delivery: an email backend and an SMS adapter writing rows), each logged and audited.
Second run at the same moment: nothing is due any more (time and queries of the check).

Prints wall times and SQL query counts. Run: `make bench` (or directly with DATABASE_URL
pointing at PostgreSQL); uses a scratch database.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import Any

from _django import setup_scratch_database

N = 10_000
RANDOMIZED = dt.date(2027, 3, 1)
# "7 days before it closes": 2027-03-09 10:00 CST = 16:00 UTC (baseline ends 2027-03-15).
NOW = dt.datetime(2027, 3, 9, 16, 5, tzinfo=dt.UTC)


def build() -> None:
    from django.contrib.auth.hashers import make_password

    from surveys.models import Assessment, ContactDetails, HomeAccess, Participant, Site
    from surveys.outreach.policy import policy_for
    from surveys.trial.participants import assessment_build
    from surveys.trial.setup import trial_create_e2108

    trial = trial_create_e2108(start_date=dt.date(2020, 1, 1))
    policy_for(trial)
    visits = list(trial.visits.all())
    arms = list(trial.arms.all())
    site = Site.objects.create(code="CHI", name="Chicago", timezone="America/Chicago")
    Participant.objects.bulk_create(
        (
            Participant(
                trial=trial,
                study_id=f"P{n:06d}",
                site=site,
                arm=arms[n % 2],
                randomized_on=RANDOMIZED,
                language="es" if n % 5 == 0 else "en",
            )
            for n in range(N)
        ),
        batch_size=5000,
    )
    people = list(Participant.objects.all())
    forms = []
    for p in people:
        p.site, p.trial = site, trial
        for visit in visits:
            form = assessment_build(participant=p, visit=visit)
            if visit.is_baseline:
                form.status = Assessment.Status.OPEN
            forms.append(form)
    Assessment.objects.bulk_create(forms, batch_size=5000)
    ContactDetails.objects.bulk_create(
        (
            ContactDetails(
                participant=p,
                email=f"{p.study_id.lower()}@example.org",
                mobile=f"+1555{p.pk % 10_000_000:07d}",
                preferred_channel="sms" if p.pk % 2 else "email",
                language=p.language,
                consent=True,
                consent_at=NOW - dt.timedelta(days=8),
                updated_at=NOW - dt.timedelta(days=8),
            )
            for p in people
        ),
        batch_size=2000,
    )
    code_hash = make_password("246810")  # one hash for all: PBKDF2 x 10,000 is not the point
    HomeAccess.objects.bulk_create(
        (HomeAccess(participant=p, code_hash=code_hash, issued_at=NOW) for p in people),
        batch_size=5000,
    )


def timed(label: str, func: Any) -> Any:
    from django.db import connection

    count = 0

    def counted(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal count
        count += 1
        return execute(sql, params, many, context)

    start = time.perf_counter()
    with connection.execute_wrapper(counted):
        result = func()
    elapsed = time.perf_counter() - start
    print(f"  {label:<52} {elapsed:8.2f} s  {count:6d} queries")
    return result, elapsed, count


def main() -> None:
    os.environ.setdefault("CONTACT_ENCRYPTION_KEYS", "YmVuY2gtb25seS1rZXktbm90LWEtc2VjcmV0LTMyYmk=")
    os.environ.setdefault("PUBLIC_BASE_URL", "https://prom.example.org")
    os.environ["EMAIL_BACKEND"] = "surveys.outreach.outbox.OutboxEmailBackend"
    os.environ["SMS_BACKEND"] = "outbox"
    setup_scratch_database("ecogprom_bench_reminders")
    from surveys.models import Message, OutboxMessage
    from surveys.outreach.reminders import send_due_reminders

    start = time.perf_counter()
    build()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # as autovacuum would have done on a live database
    print(f"built {N:,} open forms with contact details in {time.perf_counter() - start:.1f} s")
    first, elapsed, queries = timed(
        f"reminder job: {N:,} due reminders sent",
        lambda: send_due_reminders(now=NOW),
    )
    sent = first.get("sent", 0)
    assert sent == N == Message.objects.filter(status="sent").count(), first
    assert OutboxMessage.objects.count() == N
    print(
        f"    -> {sent:,} sent ({elapsed / sent * 1000:.2f} ms and {queries / sent:.1f} "
        f"queries a message; {first['forms']:,} forms read)"
    )
    second, _, _ = timed(
        "the same moment again: nothing to send", lambda: send_due_reminders(now=NOW)
    )
    assert second.get("sent", 0) == 0 and second.get("claimed", 0) == 0, second
    later, _, _ = timed(
        "15 minutes later: nothing due",
        lambda: send_due_reminders(now=NOW + dt.timedelta(minutes=15)),
    )
    assert later.get("sent", 0) == 0, later
    print(f"    -> reasons: {later['reasons']}")


if __name__ == "__main__":
    main()
