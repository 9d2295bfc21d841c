"""ecogprom's data model; see DESIGN.md "Domain"."""

from surveys.models.assessment import SCORE_FIELDS, Assessment, Response, ResponseCorrection, Score
from surveys.models.audit import AuditEvent, AuditTrailIsImmutable
from surveys.models.jobs import AnalysisRun, ExportJob, JobStatus, TaskRun
from surveys.models.kiosk import InstrumentText, KioskSession
from surveys.models.trial import Arm, Participant, Site, Trial, Visit

__all__ = [
    "SCORE_FIELDS",
    "AnalysisRun",
    "Arm",
    "Assessment",
    "AuditEvent",
    "AuditTrailIsImmutable",
    "ExportJob",
    "InstrumentText",
    "JobStatus",
    "KioskSession",
    "Participant",
    "Response",
    "ResponseCorrection",
    "Score",
    "Site",
    "TaskRun",
    "Trial",
    "Visit",
]
