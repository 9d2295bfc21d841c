"""ecogprom's data model: trial set-up, assessments and answers, kiosk sessions, jobs, audit,
API tokens and login attempts, home links and calls, contact details, reminder policies and
messages."""

from surveys.models.accounts import ApiToken, LoginAttempt
from surveys.models.assessment import (
    SCORE_CODES,
    SCORE_FIELDS,
    Assessment,
    Response,
    ResponseCorrection,
    Score,
    ScoreRevision,
)
from surveys.models.audit import Actor, AuditEvent, AuditTrailIsImmutable, actor_fields
from surveys.models.home import CallAttempt, HomeAccess, HomeLink
from surveys.models.jobs import FINISHED, AnalysisRun, ExportJob, Job, JobStatus, TaskRun
from surveys.models.kiosk import AnswerTap, InstrumentText, KioskSession, PreservedAnswer
from surveys.models.outreach import (
    Channel,
    ContactDetails,
    Message,
    OutboxMessage,
    ReminderPolicy,
    ReminderRule,
)
from surveys.models.presets import AnalysisPreset
from surveys.models.trial import Arm, OdmOid, Participant, Site, Trial, Visit

__all__ = [
    "FINISHED",
    "SCORE_CODES",
    "SCORE_FIELDS",
    "Actor",
    "AnalysisPreset",
    "AnalysisRun",
    "AnswerTap",
    "ApiToken",
    "Arm",
    "Assessment",
    "AuditEvent",
    "AuditTrailIsImmutable",
    "CallAttempt",
    "Channel",
    "ContactDetails",
    "ExportJob",
    "HomeAccess",
    "HomeLink",
    "InstrumentText",
    "Job",
    "JobStatus",
    "KioskSession",
    "LoginAttempt",
    "Message",
    "OdmOid",
    "OutboxMessage",
    "Participant",
    "PreservedAnswer",
    "ReminderPolicy",
    "ReminderRule",
    "Response",
    "ResponseCorrection",
    "Score",
    "ScoreRevision",
    "Site",
    "TaskRun",
    "Trial",
    "Visit",
    "actor_fields",
]
