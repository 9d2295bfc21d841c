"""Saved analysis presets: named run parameters, with published figures to compare against."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords


class AnalysisPreset(models.Model):
    """A named set of analysis-run parameters (``AnalysisRun.parameters``).

    ``reference`` optionally holds published figures (with their source) that
    a run of the preset shows beside its own; see docs/analysis-runs.md for
    its keys. Validated by ``surveys.statistician.analysis.presets``.
    """

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    trial = models.ForeignKey(
        "surveys.Trial",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="analysis_presets",
    )
    parameters = models.JSONField(default=dict)
    reference = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
