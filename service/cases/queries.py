"""Case lists and the case page's record, filtered by the policy module."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.models import AuditEvent
from service.auth import policy
from service.cases.models import ProcessInstance
from service.errors import N_, Forbidden, NotFound
from service.people.models import User


def visible_cases(session: Session, user: User, limit: int = 200) -> list[ProcessInstance]:
    stmt = (
        select(ProcessInstance)
        .where(policy.visible_cases_filter(user))
        .order_by(ProcessInstance.created_at.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def own_cases(session: Session, user: User, limit: int = 50) -> list[ProcessInstance]:
    if user.person_id is None:
        return []
    stmt = (
        select(ProcessInstance)
        .where(ProcessInstance.subject_person_id == user.person_id)
        .order_by(ProcessInstance.created_at.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def case_for_viewing(session: Session, user: User, instance_id: int) -> ProcessInstance:
    instance = session.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFound(N_("The case does not exist."))
    if not policy.can_view_case(user, instance, session):
        raise Forbidden(N_("You are not allowed to see this case."))
    return instance


def history(session: Session, instance_id: int) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.instance_id == instance_id).order_by(AuditEvent.id)
        )
    )
