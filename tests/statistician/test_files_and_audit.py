"""Generated files: private on disk (0600), deleted after the retention period, and every
download and record view in the audit trail.

Before: export files were world-readable (0644) and kept forever, and export
downloads, run-file downloads and participant page views left no audit event.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ecogprom.celery import app
from surveys.jobs.claims import Outcome
from surveys.jobs.retention import expire_exports
from surveys.models import AuditEvent, ExportJob, JobStatus
from surveys.statistician.analysis import runs
from surveys.statistician.exports.jobs import export_create, run_export_job

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def mode(path: str | Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def made_export(user, fmt: str = "csv") -> ExportJob:
    job = export_create(user=user, kind="scored", fmt=fmt, filters={})
    assert run_export_job(job.pk) is Outcome.DONE
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    return job


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xpt"])
def test_export_files_and_their_folders_are_private(study, stat_user, fmt):
    job = made_export(stat_user, fmt)
    for field in (job.file, job.codebook):
        assert mode(field.path) == 0o600, field.name
    folder = Path(job.file.path).parent
    assert mode(folder) == 0o700 and mode(folder.parent) == 0o700  # exports/<id>/<stamp>/
    assert not list(folder.glob("*.partial"))


def test_analysis_files_are_private(study, stat_user):
    run = runs.run_start(user=stat_user, parameters={"measures": ["TOI"], "mixed_model": False})
    assert runs.execute_run(run.pk) is Outcome.DONE
    run.refresh_from_db()
    for field in (run.snapshot, run.plot_png, run.plot_svg):
        assert mode(field.path) == 0o600, field.name
    assert settings.FILE_UPLOAD_DIRECTORY_PERMISSIONS == 0o700


def test_exports_older_than_the_retention_period_lose_their_files(study, stat_user):
    old, recent = made_export(stat_user), made_export(stat_user, "parquet")
    now = timezone.now()
    ExportJob.objects.filter(pk=old.pk).update(finished_at=now - dt.timedelta(days=31))
    ExportJob.objects.filter(pk=recent.pk).update(finished_at=now - dt.timedelta(days=29))
    folder = Path(settings.MEDIA_ROOT) / "exports" / str(old.pk)
    assert folder.is_dir()

    result = expire_exports(now=now)
    assert result == {"expired": [old.pk], "retention_days": 30}
    old.refresh_from_db()
    assert old.status == JobStatus.EXPIRED and not old.file and not old.codebook
    assert not folder.exists()
    recent.refresh_from_db()
    assert recent.status == JobStatus.SUCCEEDED and Path(recent.file.path).exists()
    event = AuditEvent.objects.get(action="export_expired")
    assert event.actor_label == "system:retention" and event.details["export"] == old.pk
    assert expire_exports(now=now) == {"expired": [], "retention_days": 30}  # twice: harmless

    client = signed_in(stat_user)
    assert client.get(reverse("statistician:export_download", args=[old.pk])).status_code == 404
    assert client.get(reverse("api:export-download", args=[old.pk])).status_code == 404
    page = client.get(reverse("statistician:export", args=[old.pk])).content.decode()
    assert 'id="export-expired"' in page and "30 days" in page


def test_the_retention_job_is_on_beats_schedule_with_a_soft_limit_below_the_hard_one():
    from surveys import tasks

    entry = app.conf.beat_schedule["expire-exports"]
    assert entry["task"] == "surveys.expire_exports" == tasks.expire_exports_task.name
    task = app.tasks["surveys.expire_exports"]
    assert 0 < task.soft_time_limit < task.time_limit


def test_export_downloads_are_audited_on_the_pages_and_the_api(study, stat_user):
    job = made_export(stat_user)
    client = signed_in(stat_user)
    for name in (
        "statistician:export_download",
        "statistician:export_codebook",
        "api:export-download",
        "api:export-codebook",
    ):
        response = client.get(reverse(name, args=[job.pk]))
        assert response.status_code == 200, name
        b"".join(response.streaming_content)
    events = AuditEvent.objects.filter(action="export_download").order_by("pk")
    assert [(e.details["file"], e.details["via"]) for e in events] == [
        ("data", "page"),
        ("codebook", "page"),
        ("data", "api"),
        ("codebook", "api"),
    ]
    assert all(e.actor == stat_user and e.details["export"] == job.pk for e in events)


def test_run_file_downloads_are_audited(study, stat_user):
    run = runs.run_start(user=stat_user, parameters={"measures": ["TOI"], "mixed_model": False})
    assert runs.execute_run(run.pk) is Outcome.DONE
    client = signed_in(stat_user)
    for name in ("plot.png", "snapshot.csv", "results.json", "snapshot.parquet"):
        assert client.get(reverse("statistician:run_file", args=[run.pk, name])).status_code == 200
    assert client.get(reverse("api:analysisrun-plot-svg", args=[run.pk])).status_code == 200
    assert client.get(reverse("statistician:run_file", args=[run.pk, "nope"])).status_code == 404
    files = list(
        AuditEvent.objects.filter(action="run_file_download").values_list(
            "details__file", flat=True
        )
    )
    assert files == ["plot.png", "snapshot.csv", "results.json", "snapshot.parquet", "plot.svg"]


def test_participant_record_views_are_audited(study, coordinator_a, stat_user):
    participant = study.participants[0]
    assert (
        signed_in(coordinator_a)
        .get(reverse("coordinator:participant", args=[participant.pk]))
        .status_code
        == 200
    )
    assert (
        signed_in(stat_user)
        .get(reverse("api:participant-detail", args=[participant.pk]))
        .status_code
        == 200
    )
    views = AuditEvent.objects.filter(action="record_view", participant=participant)
    assert [(e.actor, e.details["via"]) for e in views.order_by("pk")] == [
        (coordinator_a, "page"),
        (stat_user, "api"),
    ]
    other_site = study.participants[-1]
    assert (
        signed_in(coordinator_a)
        .get(reverse("coordinator:participant", args=[other_site.pk]))
        .status_code
        == 404
    )
    assert not AuditEvent.objects.filter(action="record_view", participant=other_site).exists()
