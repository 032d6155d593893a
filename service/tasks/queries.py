"""Inbox queries: straight from human-task rows, never from a workflow."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, union
from sqlalchemy.orm import Session

from service.auth import policy
from service.people.models import User
from service.tasks.models import HumanTask, TaskStatus


def _inbox_order() -> tuple[Any, ...]:
    return (HumanTask.due_at.asc().nulls_last(), HumanTask.created_at, HumanTask.id)


def open_tasks_for(session: Session, user: User, limit: int = 200) -> list[HumanTask]:
    """The first ``limit`` open tasks I may work, soonest due first.

    Each scope (assigned to me, my role's tasks in my party …) is read with
    its own ordered, limited query — an index range each — and only their
    union is sorted, so the inbox stays as fast with 100,000 cases as with 1,000.
    """
    branches = []
    for scope in policy.workable_task_scopes(user):
        branch = (
            select(HumanTask.id)
            .where(HumanTask.status == TaskStatus.OPEN.value, scope)
            .order_by(*_inbox_order())
            .limit(limit)
            .subquery()
        )
        branches.append(select(branch.c.id))
    if not branches:
        return []
    ids = union(*branches).subquery()
    stmt = (
        select(HumanTask).join(ids, HumanTask.id == ids.c.id).order_by(*_inbox_order()).limit(limit)
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
