"""Who has a group task: claim it, give it back, or be given it by the security lead.

Each change is one conditional UPDATE (``… WHERE assignee_id IS NULL`` and
the like) whose row count says whether it won, so two people pressing "Ta
uppgiften" at the same moment never both get it: on PostgreSQL the second
UPDATE waits for the first to commit and then matches no row; on SQLite
writers queue for the database. The loser is told who has the task. Who may
do what is the policy module's; this module checks the task's state and acts.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from service.audit.service import record
from service.auth import policy
from service.db import utcnow
from service.errors import N_, Conflict, Forbidden, InvalidInput, NotFound
from service.notify.service import notify_assigned
from service.people.models import Role, User
from service.tasks.models import HumanTask, TaskStatus

ALREADY_DONE = N_("The task is already done. Someone else may have finished it first.")
NOT_YOURS = N_("The task is not yours or your group's.")
CHANGED_MEANWHILE = N_(
    "Someone else changed the task at the same time. Reload the page and try again."
)

# Why the security lead hands a task to someone else: a fixed list, so that
# the audit trail records a code and never free text about a person.
REASSIGN_REASONS: dict[str, str] = {
    "absence": N_("The person who has it is away"),
    "workload": N_("To share out the workload"),
    "expertise": N_("It needs other knowledge or experience"),
    "conflict_of_interest": N_("Conflict of interest"),
    "other": N_("Another reason"),
}


class TaskTaken(Conflict):
    """Someone else has the task: only they (or whom the security lead gives it to) can work it.

    The message is the general one; pages that can say who has it use ``holder``.
    """

    def __init__(self, holder: str) -> None:
        super().__init__(
            N_(
                "Someone else in your group has taken the task. "
                "The security lead can reassign it if needed."
            )
        )
        self.holder = holder


TAKEN_BY = N_(
    "%(name)s has taken the task, so only they can do it now. "
    "If it needs to move, the security lead can reassign it."
)


def _holder_name(task: HumanTask) -> str:
    return task.assignee.display_name if task.assignee is not None else "?"


def _get(session: Session, task_id: int) -> HumanTask:
    task = session.get(HumanTask, task_id)
    if task is None:
        raise NotFound(N_("The task does not exist."))
    return task


def check_workable(user: User, task: HumanTask) -> None:
    """Refuse unless ``user`` may work the task now: 403 outside the group, 409 if a colleague has it."""
    if policy.can_work_task(user, task):
        return
    if policy.can_see_task(user, task) and task.assignee_id is not None:
        raise TaskTaken(_holder_name(task))
    raise Forbidden(NOT_YOURS)


def load_task_for_viewing(session: Session, user: User, task_id: int) -> HumanTask:
    """A task I may see: mine, or my group's (perhaps taken by a colleague)."""
    task = _get(session, task_id)
    if not policy.can_see_task(user, task):
        raise Forbidden(NOT_YOURS)
    return task


def _rowcount(result: Any) -> int:
    return result.rowcount if isinstance(result, CursorResult) else 0


def _conflict(session: Session, task: HumanTask) -> Conflict:
    """Why a conditional UPDATE matched nothing: read the row again and say what happened."""
    session.refresh(task)
    if task.status != TaskStatus.OPEN.value:
        return Conflict(ALREADY_DONE)
    if task.assignee_id is not None:
        return TaskTaken(_holder_name(task))
    return Conflict(CHANGED_MEANWHILE)


def _set_assignee(
    session: Session, task: HumanTask, expected: int | None, assignee: int | None
) -> bool:
    """Move the task from ``expected`` to ``assignee`` if it is still open and still ``expected``'s."""
    holder = (
        HumanTask.assignee_id.is_(None) if expected is None else HumanTask.assignee_id == expected
    )
    result = session.execute(
        update(HumanTask)
        .where(HumanTask.id == task.id, HumanTask.status == TaskStatus.OPEN.value, holder)
        .values(assignee_id=assignee, claimed_at=utcnow() if assignee is not None else None)
        .execution_options(synchronize_session=False)
    )
    if _rowcount(result) != 1:
        return False
    session.refresh(task, ["assignee_id", "claimed_at", "assignee"])
    return True


def claim(session: Session, user: User, task_id: int) -> bool:
    """Take a group task. Returns False if it was already mine (nothing to do)."""
    task = _get(session, task_id)
    if task.assignee_id == user.id and task.status == TaskStatus.OPEN.value:
        return False
    if not policy.can_claim_task(user, task):
        raise Forbidden(NOT_YOURS)
    if task.status != TaskStatus.OPEN.value:
        raise Conflict(ALREADY_DONE)
    if task.assignee_id is not None:
        raise TaskTaken(_holder_name(task))
    if not _set_assignee(session, task, None, user.id):
        problem = _conflict(session, task)
        if task.assignee_id == user.id:
            return False  # my own earlier click won
        raise problem
    record(session, user, "task.claimed", instance_id=task.instance_id, human_task_id=task.id)
    return True


def unclaim(session: Session, user: User, task_id: int) -> bool:
    """Give my task back to the group. Returns False if nobody had it (nothing to do)."""
    task = _get(session, task_id)
    if not policy.can_see_task(user, task):
        raise Forbidden(NOT_YOURS)
    if task.status != TaskStatus.OPEN.value:
        raise Conflict(ALREADY_DONE)
    if task.role == Role.OFFICIAL.value:
        raise Conflict(
            N_("This task concerns you and is yours alone: it cannot be given to a group.")
        )
    if task.assignee_id is None:
        return False
    if task.assignee_id != user.id:
        raise TaskTaken(_holder_name(task))
    if not _set_assignee(session, task, user.id, None):
        problem = _conflict(session, task)
        if task.assignee_id is None:
            return False
        raise problem
    record(session, user, "task.unclaimed", instance_id=task.instance_id, human_task_id=task.id)
    return True


def task_for_reassigning(session: Session, lead: User, task_id: int) -> HumanTask:
    task = _get(session, task_id)
    if not policy.can_reassign_task(lead, task):
        if Role.SECURITY_LEAD in lead.roles and lead.is_active:
            raise Conflict(N_("An elected official's own task cannot be given to anyone else."))
        raise Forbidden(N_("Only the security lead can reassign tasks."))
    if task.status != TaskStatus.OPEN.value:
        raise Conflict(ALREADY_DONE)
    return task


def eligible_assignees(session: Session, task: HumanTask) -> list[User]:
    """Everyone the task may be given to (``policy.task_holders_filter``), by name."""
    return list(
        session.scalars(
            select(User).where(policy.task_holders_filter(task)).order_by(User.display_name)
        )
    )


def reassign(session: Session, lead: User, task_id: int, to_user_id: int, reason: str) -> User:
    """The security lead gives the task to someone of its group; they are notified."""
    task = task_for_reassigning(session, lead, task_id)
    if reason not in REASSIGN_REASONS:
        raise InvalidInput(N_("Choose why the task is reassigned."))
    target = session.get(User, to_user_id)
    if target is None or not policy.can_hold_task(target, task):
        raise InvalidInput(
            N_(
                "Choose someone from the list: only active users with the task's role, "
                "for its party or organisation, can be given it."
            )
        )
    if task.assignee_id == target.id:
        raise InvalidInput(N_("That person already has the task. Choose someone else."))
    previous = task.assignee_id
    if not _set_assignee(session, task, previous, target.id):
        session.refresh(task)
        done = task.status != TaskStatus.OPEN.value
        raise Conflict(ALREADY_DONE if done else CHANGED_MEANWHILE)
    record(
        session,
        lead,
        "task.reassigned",
        instance_id=task.instance_id,
        human_task_id=task.id,
        from_user=previous,
        to_user=target.id,
        reason=reason,
    )
    notify_assigned(session, task, target)
    return target


def take_for_completion(session: Session, user: User, task: HumanTask) -> None:
    """Completing a group task nobody has taken makes it the completer's, as a claim would.

    Called under the case's lock with the task re-read; the conditional UPDATE
    still guards against a claim made in between.
    """
    if task.assignee_id == user.id:
        return
    if task.assignee_id is not None:
        raise TaskTaken(_holder_name(task))
    if not _set_assignee(session, task, None, user.id):
        raise _conflict(session, task)
