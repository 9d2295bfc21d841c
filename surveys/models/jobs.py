"""Background work recorded as rows: periodic task runs, exports, analysis runs.

A job's status row decides what happens next: workers claim it with a
compare-and-set update, so a redelivered message never runs it twice at once.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q

from surveys.models.audit import AuditEvent


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired (files deleted)"


#: A job in one of these states is never run again.
FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.EXPIRED)


class TaskRun(models.Model):
    """One execution of a periodic task, with the small dict it returned."""

    name = models.CharField(max_length=100, db_index=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    worker = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.name} {self.started_at:%Y-%m-%d %H:%M}"


class Job(models.Model):
    """A background job recorded as a row: queued, then run once by the job runner.

    ``surveys.jobs`` executes every concrete kind the same way: a lease, a
    claim that counts attempts and stamps a claim token in ``worker``, the
    work, a compare-and-set on that token, and an audit event. Each kind says
    which Celery task (by its stable name) runs it, its advisory-lock
    namespace and its audit action.
    """

    #: stable name of the Celery task that runs a job of this kind (beat and queued
    #: messages use it: never rename).
    task_name: ClassVar[str]
    #: first key of ``pg_advisory_lock(int, int)`` for this kind's leases.
    lease_namespace: ClassVar[int]
    #: the audit action recorded when a job of this kind succeeds.
    audit_action: ClassVar[str]
    #: how the recovery report names this kind.
    report_key: ClassVar[str]
    #: a job whose executor died this many times is failed instead of tried again.
    max_attempts: ClassVar[int] = 3

    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    @property
    def is_pending(self) -> bool:
        return self.status in (JobStatus.QUEUED, JobStatus.RUNNING)


def past_retention_q(now: dt.datetime, days: int) -> Q:
    """SQL twin of :meth:`ExportJob.is_past_retention`."""
    return Q(status=JobStatus.SUCCEEDED, finished_at__lt=now - dt.timedelta(days=days))


class ExportJobQuerySet(models.QuerySet["ExportJob"]):
    def past_retention(self, now: dt.datetime, days: int) -> ExportJobQuerySet:
        """Succeeded exports whose files are older than the retention period."""
        return self.filter(past_retention_q(now, days))


class ExportJob(Job):
    task_name = "surveys.run_export"
    lease_namespace = 72_108_001
    audit_action = AuditEvent.Action.EXPORT
    report_key = "exports"

    class Kind(models.TextChoices):
        ITEMS = "items", "Item-level (long)"
        SCORED = "scored", "Scored (wide)"
        ITEMS_WIDE = "items_wide", "Item-level (one row per form)"
        SDTM_QS = "sdtm_qs", "CDISC SDTM QS"
        ADQS = "adqs", "CDISC ADaM ADQS"
        CDISC_PACKAGE = "cdisc_package", "CDISC submission package (SDTM + ADaM + define.xml)"
        CDISC_ODM = "cdisc_odm", "CDISC ODM 1.3.2 (for Medidata Rave)"

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        PARQUET = "parquet", "Parquet"
        XPT = "xpt", "SAS XPT"
        DTA = "dta", "Stata (.dta)"
        SAV = "sav", "SPSS (.sav)"
        ZIP = "zip", "Zip package"
        XML = "xml", "ODM XML"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    format = models.CharField(max_length=8, choices=Format.choices)
    filters = models.JSONField(default=dict, blank=True)
    file = models.FileField(upload_to="exports/", blank=True)
    codebook = models.FileField(upload_to="exports/", blank=True)
    row_count = models.PositiveIntegerField(null=True, blank=True)
    #: the other files of the export (manifest, JSON codebook, SAS/R/Stata programs):
    #: download name -> storage name.
    files = models.JSONField(default=dict, blank=True)

    objects = ExportJobQuerySet.as_manager()

    def __str__(self) -> str:
        return f"export {self.pk} {self.kind}.{self.format} {self.status}"

    def is_past_retention(self, now: dt.datetime, days: int) -> bool:
        """Made more than *days* ago, files still kept (SQL twin: :func:`past_retention_q`)."""
        return (
            self.status == JobStatus.SUCCEEDED
            and self.finished_at is not None
            and self.finished_at < now - dt.timedelta(days=days)
        )


class AnalysisRun(Job):
    """A protocol analysis over a frozen snapshot of the scored data."""

    task_name = "surveys.run_analysis"
    lease_namespace = 72_108_002
    audit_action = AuditEvent.Action.ANALYSIS
    report_key = "analysis_runs"

    parameters = models.JSONField(default=dict)
    preset = models.ForeignKey(
        "surveys.AnalysisPreset",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="runs",
    )
    snapshot_hash = models.CharField(max_length=64, blank=True)
    snapshot = models.FileField(upload_to="analysis/", blank=True)
    results = models.JSONField(default=dict, blank=True)
    plot_png = models.FileField(upload_to="analysis/", blank=True)
    plot_svg = models.FileField(upload_to="analysis/", blank=True)

    def __str__(self) -> str:
        return f"analysis run {self.pk} {self.status}"
