"""Write audit events. Details hold ids, field names and outcomes, never typed values."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from service.audit.models import AuditEvent
from service.people.models import User


def record(
    session: Session,
    actor: User | None,
    action: str,
    *,
    instance_id: int | None = None,
    human_task_id: int | None = None,
    **details: Any,
) -> AuditEvent:
    event = AuditEvent(
        actor_id=actor.id if actor is not None else None,
        action=action,
        instance_id=instance_id,
        human_task_id=human_task_id,
        details=details,
    )
    session.add(event)
    return event
