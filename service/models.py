"""Every model, imported in one place so that metadata and migrations see them all."""

from service.audit.models import AuditEvent
from service.auth.models import LoginAttempt
from service.cases.models import CaseLink, CaseStatus, ProcessInstance
from service.db import Base
from service.definitions.models import ProcessDefinition
from service.people.models import Category, Organisation, Party, Person, Role, User, UserRole
from service.tasks.models import HumanTask, TaskStatus

__all__ = [
    "AuditEvent",
    "Base",
    "CaseLink",
    "CaseStatus",
    "Category",
    "HumanTask",
    "LoginAttempt",
    "Organisation",
    "Party",
    "Person",
    "ProcessDefinition",
    "ProcessInstance",
    "Role",
    "TaskStatus",
    "User",
    "UserRole",
]
