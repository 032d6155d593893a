"""Case lists and the case page's record, filtered by the policy module."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, defer

from service.audit.models import AuditEvent
from service.auth import policy
from service.cases.models import CaseLink, ProcessInstance
from service.errors import N_, Forbidden, NotFound
from service.people.models import User


def visible_cases(session: Session, user: User, limit: int = 200) -> list[ProcessInstance]:
    stmt = (
        select(ProcessInstance)
        # The list never shows the engine state: not read, not decrypted (as in the inbox).
        .options(defer(ProcessInstance.state))
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


@dataclass(frozen=True)
class LinkedCase:
    instance: ProcessInstance
    direction: str  # "started_by" (this case was started by it) or "started" (it started it)
    visible: bool  # may the viewer open it


def linked_cases(session: Session, user: User, instance_id: int) -> list[LinkedCase]:
    """Cases this one started and the case that started it, each marked if the user may open it."""
    links = session.scalars(
        select(CaseLink).where(
            or_(CaseLink.from_instance_id == instance_id, CaseLink.to_instance_id == instance_id)
        )
    ).all()
    other_ids = {
        link.to_instance_id if link.from_instance_id == instance_id else link.from_instance_id: (
            "started" if link.from_instance_id == instance_id else "started_by"
        )
        for link in links
    }
    if not other_ids:
        return []
    visible = set(
        session.scalars(
            select(ProcessInstance.id).where(
                ProcessInstance.id.in_(other_ids), policy.visible_cases_filter(user)
            )
        )
    )
    others = session.scalars(select(ProcessInstance).where(ProcessInstance.id.in_(other_ids)))
    return [
        LinkedCase(instance=other, direction=other_ids[other.id], visible=other.id in visible)
        for other in sorted(others, key=lambda o: o.id)
    ]
