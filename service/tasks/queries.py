"""Inbox queries: straight from human-task rows, never from a workflow.

Every list and count is one SQL query over the policy's scopes
(``policy.task_list_scopes`` / ``workable_task_scopes``), with the filters
added as conditions, so that what a list shows, what its counts say and what
a task page allows can never disagree.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select, union
from sqlalchemy.orm import Session, defaultload, lazyload

from service.auth import policy
from service.cases.models import ProcessInstance
from service.definitions.catalog import latest_definitions
from service.people.models import Party, Person, User
from service.tasks.models import HumanTask, Priority, TaskStatus

LIST_LIMIT = 200
COUNT_CAP = 999


class Show(enum.StrEnum):
    """The inbox's status filter."""

    OPEN = "open"  # every open task in my lists: mine and my groups'
    MINE = "mine"  # open and assigned to me
    UNCLAIMED = "unclaimed"  # open group tasks nobody has taken
    COMPLETED = "completed"  # done by me


class Sort(enum.StrEnum):
    DUE = "due"
    PRIORITY = "priority"
    CREATED = "created"


@dataclass(frozen=True)
class InboxQuery:
    show: Show = Show.OPEN
    process_id: str | None = None
    party_id: int | None = None
    overdue: bool = False
    sort: Sort = Sort.DUE
    descending: bool = False


@dataclass(frozen=True)
class InboxCounts:
    """Counts under the process and party filters (not the status and overdue ones).

    Exact up to ``COUNT_CAP``; a larger number only says "more than the cap".
    """

    open: int
    overdue: int
    mine: int
    unclaimed: int
    completed: int


@dataclass(frozen=True)
class Inbox:
    mine: list[HumanTask]
    group: list[HumanTask]
    completed: list[HumanTask]
    counts: InboxCounts


def _inbox_order(sort: Sort = Sort.DUE, descending: bool = False) -> tuple[Any, ...]:
    """The sort key first, then due, created and id so that the order is total and stable."""
    due = HumanTask.due_at.desc() if descending and sort is Sort.DUE else HumanTask.due_at.asc()
    if sort is Sort.PRIORITY:
        first = HumanTask.priority.desc() if descending else HumanTask.priority.asc()
        return (first, HumanTask.due_at.asc().nulls_last(), HumanTask.created_at, HumanTask.id)
    if sort is Sort.CREATED:
        if descending:
            return (HumanTask.created_at.desc(), HumanTask.id.desc())
        return (HumanTask.created_at.asc(), HumanTask.id.asc())
    return (due.nulls_last(), HumanTask.created_at, HumanTask.id)


def _overdue(now: datetime) -> ColumnElement[bool]:
    return and_(HumanTask.due_at.is_not(None), HumanTask.due_at < now)


def _narrowing(query: InboxQuery) -> list[ColumnElement[bool]]:
    """The process and party filters, which the counts share with the lists."""
    found: list[ColumnElement[bool]] = []
    if query.process_id is not None:
        # Correlated on the primary key: one lookup per task row read, never a
        # scan of every case of the process.
        found.append(
            exists(
                select(ProcessInstance.id).where(
                    ProcessInstance.id == HumanTask.instance_id,
                    ProcessInstance.process_id == query.process_id,
                )
            )
        )
    if query.party_id is not None:
        found.append(HumanTask.party_id == query.party_id)
    return found


# What a list row shows (the case's process and subject, who has the task) is
# loaded with the rows; the case's saved engine state and the people's own
# party, organisation and person are not (a list of 200 rows would carry them all).
_ROW_LOADING = (
    defaultload(HumanTask.instance).defer(ProcessInstance.state),
    defaultload(HumanTask.instance).defaultload(ProcessInstance.subject).lazyload(Person.party),
    defaultload(HumanTask.assignee).lazyload("*"),
    lazyload(HumanTask.completed_by),
)


def _read(
    session: Session,
    scopes: list[ColumnElement[bool]],
    conditions: list[ColumnElement[bool]],
    order: tuple[Any, ...],
    limit: int,
    sort: Sort = Sort.DUE,
) -> list[HumanTask]:
    """The first ``limit`` tasks in any of ``scopes`` meeting ``conditions``, in ``order``.

    Each scope (assigned to me, my role's tasks in my party …) is read with
    its own ordered, limited query — an index range each — and only their
    union is sorted, so the inbox stays as fast with 100,000 cases as with 1,000.
    Sorted by priority, each scope is read once per priority, in due order, from
    (status, role, priority, due_at): a sort over the few hundred rows read
    instead of over every open task of the role.
    """
    branch_order = order
    if sort is Sort.PRIORITY:
        scopes = [and_(scope, HumanTask.priority == p.value) for scope in scopes for p in Priority]
        branch_order = _inbox_order(Sort.DUE)
    branches: list[Select[Any]] = []
    for scope in scopes:
        branch = (
            select(HumanTask.id)
            .where(scope, *conditions)
            .order_by(*branch_order)
            .limit(limit)
            .subquery()
        )
        branches.append(select(branch.c.id))
    if not branches:
        return []
    ids = union(*branches).subquery()
    stmt = (
        select(HumanTask)
        .join(ids, HumanTask.id == ids.c.id)
        .options(*_ROW_LOADING)
        .order_by(*order)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def open_tasks_for(session: Session, user: User, limit: int = LIST_LIMIT) -> list[HumanTask]:
    """The first ``limit`` open tasks I may work (mine, and my groups' nobody has taken), soonest due first."""
    return _read(
        session,
        policy.workable_task_scopes(user),
        [HumanTask.status == TaskStatus.OPEN.value],
        _inbox_order(),
        limit,
    )


def inbox(
    session: Session, user: User, query: InboxQuery, now: datetime, limit: int = LIST_LIMIT
) -> Inbox:
    """My inbox under ``query``: my tasks, my groups' tasks (or what I did), and the counts."""
    narrowing = _narrowing(query)
    order = _inbox_order(query.sort, query.descending)
    mine: list[HumanTask] = []
    group: list[HumanTask] = []
    completed: list[HumanTask] = []
    if query.show is Show.COMPLETED:
        conditions = _done_by(user, narrowing)
        if query.overdue:  # done after its due time
            conditions.append(HumanTask.completed_at > HumanTask.due_at)
        completed = _read(
            session, policy.task_list_scopes(user), conditions, order, limit, query.sort
        )
    else:
        conditions = [HumanTask.status == TaskStatus.OPEN.value, *narrowing]
        if query.overdue:
            conditions.append(_overdue(now))
        if query.show in (Show.OPEN, Show.MINE) and user.is_active:
            mine = _read(
                session, [HumanTask.assignee_id == user.id], conditions, order, limit, query.sort
            )
        if query.show in (Show.OPEN, Show.UNCLAIMED):
            others = (
                HumanTask.assignee_id.is_(None)
                if query.show is Show.UNCLAIMED
                else or_(HumanTask.assignee_id.is_(None), HumanTask.assignee_id != user.id)
            )
            group = _read(
                session,
                policy.group_task_scopes(user),
                [*conditions, others],
                order,
                limit,
                query.sort,
            )
    return Inbox(mine, group, completed, count_inbox(session, user, narrowing, now))


def _capped_count(
    session: Session, scopes: list[ColumnElement[bool]], conditions: list[ColumnElement[bool]]
) -> int:
    """How many tasks are in any of ``scopes`` under ``conditions``, exact up to ``COUNT_CAP``.

    Each scope reads at most ``COUNT_CAP + 1`` ids from its index range and only
    their union is counted: a count costs the same with 100,000 open cases as
    with 1,000, and above the cap the page says "999+" instead of scanning on.
    """
    if not scopes:
        return 0
    branches: list[Select[Any]] = []
    for scope in scopes:
        branch = select(HumanTask.id).where(scope, *conditions).limit(COUNT_CAP + 1).subquery()
        branches.append(select(branch.c.id))
    ids = union(*branches).subquery()
    return int(session.scalar(select(func.count()).select_from(ids)) or 0)


def count_inbox(
    session: Session, user: User, narrowing: list[ColumnElement[bool]], now: datetime
) -> InboxCounts:
    """The counts beside the inbox, each from the same scopes as its list (capped)."""
    if not user.is_active:
        return InboxCounts(0, 0, 0, 0, 0)
    is_open = [HumanTask.status == TaskStatus.OPEN.value, *narrowing]
    listed = policy.task_list_scopes(user)
    mine = [HumanTask.assignee_id == user.id]
    return InboxCounts(
        open=_capped_count(session, listed, is_open),
        overdue=_capped_count(session, listed, [*is_open, _overdue(now)]),
        mine=_capped_count(session, mine, is_open),
        unclaimed=_capped_count(
            session, policy.group_task_scopes(user), [*is_open, HumanTask.assignee_id.is_(None)]
        ),
        completed=_capped_count(session, listed, _done_by(user, narrowing)),
    )


def _done_by(user: User, narrowing: list[ColumnElement[bool]]) -> list[ColumnElement[bool]]:
    return [
        HumanTask.status == TaskStatus.COMPLETED.value,
        HumanTask.completed_by_id == user.id,
        *narrowing,
    ]


def inbox_parties(session: Session, user: User) -> list[Party]:
    """The parties the party filter offers (``policy.inbox_parties_filter``)."""
    return list(
        session.scalars(select(Party).where(policy.inbox_parties_filter(user)).order_by(Party.name))
    )


def inbox_processes(session: Session) -> list[tuple[str, str]]:
    """(process id, name) of every process, for the process filter: the names the rows show."""
    found = {d.process_id: d.name for d in latest_definitions(session)}
    return sorted(found.items(), key=lambda item: item[1].lower())


def tasks_of_case(session: Session, instance_id: int) -> list[HumanTask]:
    return list(
        session.scalars(
            select(HumanTask)
            .where(HumanTask.instance_id == instance_id)
            .order_by(HumanTask.created_at, HumanTask.id)
        )
    )
