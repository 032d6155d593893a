"""Every model, imported in one place so that metadata and migrations see them all."""

from service.api.models import AlarmReceipt, ApiClient, RegisteredAlarm
from service.audit.models import AuditEvent, AuditSeal
from service.auth.models import LoginAttempt
from service.auth.second_factor_models import RecoveryCode, SecondFactor
from service.casenotes.models import Attachment, CaseComment
from service.cases.models import CaseLink, CaseStatus, ProcessInstance
from service.cases.schedule_models import ScheduledStart
from service.db import Base
from service.definitions.migration_models import InstanceMigration
from service.definitions.models import ProcessDefinition, ProcessDraft
from service.jobs.models import Job, JobStatus, WorkerHeartbeat
from service.notify.models import Notification
from service.people.models import Category, Organisation, Party, Person, Role, User, UserRole
from service.retention.models import DisposalRecord, LegalHold
from service.secrecy.models import ReleaseDecision
from service.tasks.models import HumanTask, TaskStatus

__all__ = [
    "AlarmReceipt",
    "ApiClient",
    "Attachment",
    "AuditEvent",
    "AuditSeal",
    "Base",
    "CaseComment",
    "CaseLink",
    "CaseStatus",
    "Category",
    "DisposalRecord",
    "HumanTask",
    "InstanceMigration",
    "Job",
    "JobStatus",
    "LegalHold",
    "LoginAttempt",
    "Notification",
    "Organisation",
    "Party",
    "Person",
    "ProcessDefinition",
    "ProcessDraft",
    "ProcessInstance",
    "RecoveryCode",
    "RegisteredAlarm",
    "ReleaseDecision",
    "Role",
    "ScheduledStart",
    "SecondFactor",
    "TaskStatus",
    "User",
    "UserRole",
    "WorkerHeartbeat",
]
