"""After engine steps: save the state, mirror the open user tasks, start requested linked cases."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from service.api.models import RegisteredAlarm
from service.audit.service import record
from service.cases.models import CaseStatus, ProcessInstance
from service.context import Services
from service.db import utcnow
from service.engine import EngineError, WorkflowHandle
from service.errors import N_, Conflict
from service.jobs.queue import enqueue, wake_workers
from service.notify.service import notify_request
from service.people.models import Organisation, Party, Role, User
from service.tasks.due import due_from
from service.tasks.models import HumanTask, TaskStatus
from service.tasks.priority import priority_for

if TYPE_CHECKING:
    from service.cases.service import CaseStarter

log = logging.getLogger(__name__)

CONCURRENT_CHANGE = N_(
    "Someone else changed the case at the same time. Reload the page and try again."
)
# Case variables that route party-office and committee tasks elsewhere than
# the subject's party / the case's organisation (processes/README.md).
PARTY_VARIABLE = "threatened_party_id"
ORGANISATION_VARIABLE = "organisation_id"


def save_state(services: Services, instance: ProcessInstance, handle: WorkflowHandle) -> None:
    instance.state = services.runner.dump(handle)
    if handle.spec_json and services.definitions.spec_json(instance.definition) is None:
        services.definitions.remember_spec(instance.definition, handle.spec_json)
    instance.updated_at = utcnow()
    instance.next_wakeup = handle.next_wakeup()
    if handle.error is not None:
        instance.status = CaseStatus.ERROR.value
        instance.error_message = handle.error.message[:2000]
        log.warning(
            "case stopped on a model error",
            extra={"instance": instance.id, "element": handle.error.element_id},
        )
    elif handle.is_completed:
        instance.status = CaseStatus.COMPLETED.value
        instance.completed_at = instance.updated_at
        instance.error_message = None
    else:
        instance.status = CaseStatus.RUNNING.value
        instance.error_message = None


def settle(
    services: Services,
    session: Session,
    actor: User | None,
    instance: ProcessInstance,
    handle: WorkflowHandle,
    starter: CaseStarter,
    completed_uuid: str | None = None,
) -> None:
    """Save what the engine did and everything that follows from it, in this transaction."""
    _scope_from_data(session, instance, handle.data())
    had_wakeup = instance.next_wakeup
    save_state(services, instance, handle)
    if instance.next_wakeup is not None and instance.next_wakeup != had_wakeup:
        wake_workers(session)
    try:
        # The instance row's version check tells simultaneous writers apart
        # (SQLite has no row lock); flush it before anything else.
        session.flush()
    except StaleDataError as exc:
        raise Conflict(CONCURRENT_CHANGE) from exc
    sync_human_tasks(session, instance, handle, completed_uuid)
    for request in handle.outbox:
        operation = request.get("operation")
        if operation == "notify/send":
            notify_request(session, instance, str(request["to"]), str(request["topic"]))
            continue
        if operation == "alarm/register":
            _register_alarm(session, instance, str(request["alarm_id"]), str(request["kind"]))
            continue
        try:
            # start_linked checks everything before it writes, so a refusal
            # leaves nothing half-made.
            starter.start_linked(instance, request)
        except EngineError as exc:
            # The case itself moved on and is saved; the link it asked for is
            # recorded as failed so that people see it and can act.
            instance.status = CaseStatus.ERROR.value
            instance.error_message = f"{request.get('process_id')}: {exc.message}"[:2000]
            record(
                session,
                None,
                "case.link_failed",
                instance_id=instance.id,
                process_id=str(request.get("process_id")),
            )
    handle.outbox.clear()
    if instance.status == CaseStatus.ERROR.value:
        element = handle.error.element_id if handle.error else None
        record(session, None, "case.error", instance_id=instance.id, element=element)
    del actor  # who acted is audited by the caller


def _register_alarm(session: Session, instance: ProcessInstance, alarm_id: str, kind: str) -> None:
    """The case's subject now holds this alarm: alarm events for it will find them."""
    if instance.subject_person_id is None:
        raise EngineError("alarm/register needs a case about a person")
    alarm = session.scalar(select(RegisteredAlarm).where(RegisteredAlarm.alarm_id == alarm_id))
    if alarm is None:
        alarm = RegisteredAlarm(alarm_id=alarm_id, person_id=instance.subject_person_id, kind=kind)
        session.add(alarm)
    alarm.person_id, alarm.kind, alarm.measure_case_id = (
        instance.subject_person_id,
        kind,
        instance.id,
    )
    record(session, None, "alarm.registered", instance_id=instance.id, kind=kind)


def _valid_id(session: Session, model: type[Any], value: Any) -> int | None:
    is_id = isinstance(value, int) and not isinstance(value, bool)
    return value if is_id and session.get(model, value) is not None else None


def _scope_from_data(session: Session, instance: ProcessInstance, data: dict[str, Any]) -> None:
    org = _valid_id(session, Organisation, data.get(ORGANISATION_VARIABLE))
    if org is not None:
        instance.organisation_id = org


def _assignee_for(session: Session, instance: ProcessInstance) -> int | None:
    """An official's task goes to the official; if they have no account, to whoever
    started the case on their behalf (the guideline lets others act for them)."""
    if instance.subject_person_id is not None:
        own = session.scalar(select(User.id).where(User.person_id == instance.subject_person_id))
        if own is not None:
            return own
    return instance.started_by_id if instance.on_behalf else None


def sync_human_tasks(
    session: Session,
    instance: ProcessInstance,
    handle: WorkflowHandle,
    completed_uuid: str | None = None,
) -> None:
    """Make the open human-task rows match the workflow's READY user tasks.

    An official's task is assigned to the official when it is created; group
    tasks start unassigned until someone claims them. Every open task gets the
    case's priority (service/tasks/priority.py), again each time the case moves.
    """
    ready = {t.uuid: t for t in handle.ready_user_tasks()}
    open_rows = list(
        session.scalars(
            select(HumanTask).where(
                HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.OPEN.value
            )
        )
    )
    now = utcnow()
    data = handle.data()
    priority = priority_for(data).value
    for row in open_rows:
        if row.task_uuid not in ready and row.task_uuid != completed_uuid:
            row.status = TaskStatus.CANCELLED.value
            row.completed_at = now
        elif row.priority != priority:
            row.priority = priority
    known = {row.task_uuid for row in open_rows}
    new = [t for uuid, t in ready.items() if uuid not in known]
    if not new:
        return
    party = _valid_id(session, Party, data.get(PARTY_VARIABLE)) or instance.party_id
    rows = []
    for task in new:
        role = task.lane or Role.SECURITY.value
        row = HumanTask(
            instance_id=instance.id,
            task_uuid=task.uuid,
            bpmn_id=task.bpmn_id,
            name=task.name,
            role=role,
            party_id=party if role == Role.PARTY_OFFICE.value else instance.party_id,
            organisation_id=instance.organisation_id if role == Role.COMMITTEE.value else None,
            assignee_id=_assignee_for(session, instance) if role == Role.OFFICIAL.value else None,
            form_id=task.form,
            instructions=task.instructions,
            status=TaskStatus.OPEN.value,
            created_at=now,
            due_at=task.deadline or due_from(now, task.due_in),
            priority=priority,
        )
        session.add(row)
        rows.append(row)
    session.flush()
    # Who should hear of the new tasks is worked out by the worker: the
    # request only queues one job, whatever the number of people.
    enqueue(session, "notify.new_tasks", {"task_ids": [row.id for row in rows]})
