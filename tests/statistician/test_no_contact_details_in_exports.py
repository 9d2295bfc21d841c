"""Contact details are never exported: every export kind in every format, the CDISC package
and the ODM file included, is built from a study whose every participant has an email
address and a mobile number on file; neither appears in any file (zip members and Parquet
columns read as text), nor in the codebooks, manifests and programs."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from django.conf import settings as django_settings

from surveys.jobs.claims import Outcome
from surveys.models import ExportJob, Participant
from surveys.outreach.contacts import ContactInput, contact_save
from surveys.statistician.exports.jobs import export_create, run_export_job
from surveys.statistician.exports.kinds import KINDS

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def secrets_of(participant: Participant) -> tuple[str, str]:
    n = participant.pk
    return f"patient.{n}.zq@example.org", f"+1555987{n:04d}"


@pytest.fixture
def contacts(study, coordinator_a, coordinator_b):
    values = []
    for participant in Participant.objects.all():
        email, mobile = secrets_of(participant)
        contact_save(
            participant=participant,
            data=ContactInput(email, mobile, "sms", "en", dt.time(21), dt.time(8), True),
            actor=coordinator_a,
            now=dt.datetime(2026, 6, 1, tzinfo=dt.UTC),
        )
        values += [email, mobile, mobile.lstrip("+")]
    return values


def texts_of(path: Path) -> list[str]:
    raw = path.read_bytes()
    if path.suffix == ".zip":
        out = []
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            for name in archive.namelist():
                member = archive.read(name)
                if name.endswith(".parquet"):
                    out.append(pd.read_parquet(io.BytesIO(member)).to_csv())
                out.append(member.decode("latin-1"))
        return out
    if path.suffix == ".parquet":
        return [pd.read_parquet(path).to_csv(), raw.decode("latin-1")]
    return [raw.decode("latin-1")]


def job_files(job: ExportJob) -> list[Path]:
    root = Path(django_settings.MEDIA_ROOT)
    names = [f.name for f in (job.file, job.codebook) if f and f.name]
    names += list((job.files or {}).values())
    return [root / name for name in names]


def test_no_export_holds_an_email_address_or_a_mobile_number(contacts, stat_user):
    built = 0
    for kind, spec in KINDS.items():
        for fmt in spec.formats:
            job = export_create(user=stat_user, kind=kind, fmt=fmt, filters={})
            assert run_export_job(job.pk) is Outcome.DONE, (kind, fmt)
            job.refresh_from_db()
            files = job_files(job)
            assert files and all(path.exists() for path in files), (kind, fmt)
            texts = [text for path in files for text in texts_of(path)]
            # the files were read as text: her study id is there, her contact details are not
            assert any("E2108-0001" in text for text in texts), (kind, fmt)
            assert not any("example.org" in text for text in texts), (kind, fmt)
            leaked = {value for value in contacts for text in texts if value in text}
            assert leaked == set(), (kind, fmt)
            built += 1
    assert built == sum(len(spec.formats) for spec in KINDS.values()) >= 20
