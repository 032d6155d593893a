"""Inbox queries: straight from human-task rows, never from a workflow."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.auth import policy
from service.people.models import User
from service.tasks.models import HumanTask, TaskStatus


def open_tasks_for(session: Session, user: User, limit: int = 200) -> list[HumanTask]:
    stmt = (
        select(HumanTask)
        .where(HumanTask.status == TaskStatus.OPEN.value, policy.workable_tasks_filter(user))
        .order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.created_at)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def tasks_of_case(session: Session, instance_id: int) -> list[HumanTask]:
    return list(
        session.scalars(
            select(HumanTask)
            .where(HumanTask.instance_id == instance_id)
            .order_by(HumanTask.created_at, HumanTask.id)
        )
    )
