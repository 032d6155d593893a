"""Create notifications (in-app, and an e-mail job each) for the people a task or request concerns."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.cases.models import ProcessInstance
from service.jobs.queue import enqueue, handler
from service.notify.messages import is_topic
from service.notify.models import Notification
from service.people.models import Role, User, UserRole
from service.tasks.models import HumanTask


def _role_members(
    session: Session, role: str, party_id: int | None, organisation_id: int | None
) -> list[User]:
    stmt = select(User).join(UserRole).where(UserRole.role == role, User.active.is_(True))
    if role == Role.PARTY_OFFICE.value:
        if party_id is None:
            return []
        stmt = stmt.where(User.party_id == party_id)
    elif role == Role.COMMITTEE.value:
        if organisation_id is None:
            return []
        stmt = stmt.where(User.organisation_id == organisation_id)
    return list(session.scalars(stmt))


def _create(
    session: Session,
    users: list[User],
    kind: str,
    topic: str,
    instance_id: int | None,
    task_id: int | None = None,
) -> list[Notification]:
    created = []
    for user in {u.id: u for u in users}.values():
        note = Notification(
            user_id=user.id, kind=kind, topic=topic, instance_id=instance_id, human_task_id=task_id
        )
        session.add(note)
        created.append(note)
    session.flush()
    for note in created:
        enqueue(session, "notify.email", {"notification_id": note.id})
    return created


def notify_new_task(session: Session, task: HumanTask) -> list[Notification]:
    if task.assignee_id is not None:
        assignee = session.get(User, task.assignee_id)
        users = [assignee] if assignee is not None and assignee.active else []
    else:
        users = _role_members(session, task.role, task.party_id, task.organisation_id)
    return _create(session, users, "new_task", "new_task", task.instance_id, task.id)


def notify_assigned(session: Session, task: HumanTask, user: User) -> list[Notification]:
    """The security lead gave ``user`` the task: tell them (in the app and by e-mail)."""
    users = [user] if user.active else []
    return _create(session, users, "new_task", "task_assigned", task.instance_id, task.id)


def notify_request(
    session: Session, instance: ProcessInstance, to: str, topic: str, kind: str = "escalation"
) -> list[Notification]:
    """A model's notify/send: the subject, or a role within the case's scope."""
    if not is_topic(topic):
        topic = "task_overdue"
    if to == "subject":
        users = (
            list(
                session.scalars(
                    select(User).where(
                        User.person_id == instance.subject_person_id, User.active.is_(True)
                    )
                )
            )
            if instance.subject_person_id
            else []
        )
    else:
        users = _role_members(session, to, instance.party_id, instance.organisation_id)
    kind = "reminder" if topic in REMINDER_TOPICS else kind
    return _create(session, users, kind, topic, instance.id)


REMINDER_TOPICS = frozenset(
    {"conversation_tomorrow", "event_coming_up", "police_report_not_filed", "measure_ends"}
)


@handler("notify.new_tasks")
def notify_new_tasks(_services: Any, session: Session, payload: dict[str, Any]) -> None:
    """Notify everyone who may work each new task (a job, so requests stay short)."""
    for task_id in payload.get("task_ids", []):
        task = session.get(HumanTask, int(task_id))
        if task is not None and task.status == "open":
            notify_new_task(session, task)
