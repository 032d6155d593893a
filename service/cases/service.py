"""Start cases and complete their tasks: lock, load, act, engine steps, save, audit.

Every function takes the acting user and a session, never touches Flask, and
leaves committing to the caller (one request = one transaction). If the
engine fails on the model's code, the case is saved with the error recorded
(status ``error``) so nothing the person submitted is lost; any other
failure propagates and the caller's rollback keeps the last saved state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from service.audit.service import record
from service.auth import policy
from service.cases.models import CaseStatus, ProcessInstance
from service.context import Services
from service.db import utcnow
from service.definitions.catalog import latest_definition
from service.definitions.models import ProcessDefinition
from service.engine import EngineError, ScriptError, WorkflowHandle
from service.errors import N_, Conflict, Forbidden, InvalidInput, NotFound
from service.formdefs import FieldError, FormDef, validate_submission
from service.formdefs.validation import FormInput
from service.people.models import Organisation, Person, Role, User
from service.tasks.due import due_from
from service.tasks.models import HumanTask, TaskStatus

log = logging.getLogger(__name__)

CONCURRENT_CHANGE = N_(
    "Someone else changed the case at the same time. Reload the page and try again."
)


class FormInvalid(InvalidInput):
    """The submission did not validate; carries the field errors and what was typed."""

    def __init__(self, errors: list[FieldError], values: dict[str, Any]) -> None:
        super().__init__("The form has errors")
        self.errors = errors
        self.values = values


@dataclass(frozen=True)
class StartResult:
    instance: ProcessInstance
    danger_ongoing: bool


def dynamic_choices(session: Session) -> dict[str, tuple[Any, ...]]:
    return {"organisations": tuple(session.scalars(select(Organisation.id)))}


def validate_form(session: Session, form: FormDef, submitted: FormInput) -> dict[str, Any]:
    result = validate_submission(form, submitted, dynamic_choices(session))
    if not result.ok:
        raise FormInvalid(result.errors, result.values)
    return result.data


def startable_definition(session: Session, user: User, process_id: str) -> ProcessDefinition:
    definition = latest_definition(session, process_id)
    if definition is None:
        raise NotFound(N_("The process does not exist."))
    if not policy.can_start_process(user, definition):
        raise Forbidden(N_("You may not start this process."))
    return definition


def start_case(
    services: Services,
    session: Session,
    user: User,
    process_id: str,
    subject: Person,
    submitted: FormInput,
) -> StartResult:
    definition = startable_definition(session, user, process_id)
    if not policy.can_report_for(user, subject, session):
        raise Forbidden(N_("You may not start cases for this person."))
    parsed = services.definitions.parsed(definition)
    form_data: dict[str, Any] = {}
    if parsed.start_form:
        form = services.definitions.form(definition, parsed.start_form)
        form_data = validate_form(session, form, submitted)
    on_behalf = user.person_id != subject.id
    data = {
        **form_data,
        "subject_category": subject.category,
        "subject_party_id": subject.party_id,
        "subject_person_id": subject.id,
        "reported_on_behalf": on_behalf,
    }
    now = utcnow()
    instance = ProcessInstance(
        definition_id=definition.id,
        process_id=definition.process_id,
        subject_person_id=subject.id,
        party_id=subject.party_id,
        organisation_id=_organisation_from(data, session),
        started_by_id=user.id,
        on_behalf=on_behalf,
        state="",
        created_at=now,
        updated_at=now,
    )
    handle: WorkflowHandle | None
    try:
        handle = services.runner.start(parsed, data)
    except ScriptError as exc:
        handle = _handle_from_error(exc)
    except EngineError as exc:
        # The model cannot even start: keep the report, mark the case, tell people.
        handle = None
        instance.status = CaseStatus.ERROR.value
        instance.error_message = exc.message
    session.add(instance)
    if handle is not None:
        save_state(services, instance, handle)
    session.flush()
    if parsed.start_form:
        session.add(
            HumanTask(
                instance_id=instance.id,
                task_uuid=f"start-{instance.id}",
                bpmn_id="start",
                name=str(definition.meta.get("title", definition.name)),
                role=_starter_role(user, subject).value,
                party_id=subject.party_id,
                form_id=parsed.start_form,
                status=TaskStatus.COMPLETED.value,
                created_at=now,
                completed_at=now,
                completed_by_id=user.id,
                submitted_data=form_data,
            )
        )
    if handle is not None:
        sync_human_tasks(session, instance, handle)
    record(
        session,
        user,
        "case.started",
        instance_id=instance.id,
        process_id=process_id,
        version=definition.version,
        on_behalf=on_behalf,
        fields=sorted(form_data),
    )
    if instance.status == CaseStatus.ERROR.value:
        record(
            session,
            None,
            "case.error",
            instance_id=instance.id,
            element=handle_error_element(handle),
        )
    return StartResult(instance=instance, danger_ongoing=bool(form_data.get("danger_ongoing")))


def _handle_from_error(exc: ScriptError) -> WorkflowHandle:
    if not isinstance(exc.handle, WorkflowHandle):
        raise exc
    return exc.handle


def handle_error_element(handle: WorkflowHandle | None) -> str | None:
    if handle is None or handle.error is None:
        return None
    return handle.error.element_id


def _starter_role(user: User, subject: Person) -> Role:
    if user.person_id == subject.id:
        return Role.OFFICIAL
    for role in (Role.PARTY_OFFICE, Role.SECURITY, Role.SECURITY_LEAD, Role.TIB):
        if role in user.roles:
            return role
    return Role.OFFICIAL


def _organisation_from(data: dict[str, Any], session: Session) -> int | None:
    org_id = data.get("organisation_id")
    if isinstance(org_id, int) and session.get(Organisation, org_id) is not None:
        return org_id
    return None


def load_task_for_work(session: Session, user: User, task_id: int) -> HumanTask:
    task = session.get(HumanTask, task_id)
    if task is None:
        raise NotFound(N_("The task does not exist."))
    if not policy.can_work_task(user, task):
        raise Forbidden(N_("The task is not yours or your group's."))
    return task


def complete_task(
    services: Services,
    session: Session,
    user: User,
    task_id: int,
    submitted: FormInput,
) -> HumanTask:
    task = load_task_for_work(session, user, task_id)
    if task.status != TaskStatus.OPEN.value:
        raise Conflict(N_("The task is already done. Someone else may have finished it first."))
    instance = _lock_instance(session, task.instance_id)
    # Re-read the task under the lock: a concurrent request may have finished it.
    session.refresh(task)
    if task.status != TaskStatus.OPEN.value:
        raise Conflict(N_("The task is already done. Someone else may have finished it first."))
    definition = instance.definition
    data: dict[str, Any] = {}
    if task.form_id:
        data = validate_form(
            session, services.definitions.form(definition, task.form_id), submitted
        )
    try:
        handle = services.runner.load(instance.state)
        services.runner.complete_task(handle, task.task_uuid, data)
    except ScriptError as exc:
        handle = _handle_from_error(exc)
    except EngineError as exc:
        raise Conflict(N_("The task is no longer waiting. Reload the page.")) from exc
    now = utcnow()
    task.status = TaskStatus.COMPLETED.value
    task.completed_at = now
    task.completed_by_id = user.id
    task.submitted_data = data
    if "organisation_id" in data:
        instance.organisation_id = _organisation_from(data, session) or instance.organisation_id
    save_state(services, instance, handle)
    try:
        # Write the instance first: its version check is what tells two
        # simultaneous completions apart (SQLite has no row lock).
        session.flush()
    except StaleDataError as exc:
        raise Conflict(CONCURRENT_CHANGE) from exc
    sync_human_tasks(session, instance, handle, completed_uuid=task.task_uuid)
    record(
        session,
        user,
        "task.completed",
        instance_id=instance.id,
        human_task_id=task.id,
        task=task.bpmn_id,
        fields=sorted(data),
    )
    if instance.status == CaseStatus.ERROR.value:
        record(
            session,
            None,
            "case.error",
            instance_id=instance.id,
            element=handle_error_element(handle),
        )
    return task


def _lock_instance(session: Session, instance_id: int) -> ProcessInstance:
    """Take the row lock (PostgreSQL) so concurrent completions queue up, not interleave."""
    stmt = select(ProcessInstance).where(ProcessInstance.id == instance_id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=ProcessInstance)
    instance = session.scalar(stmt.execution_options(populate_existing=True))
    if instance is None:
        raise NotFound(N_("The case does not exist."))
    return instance


def save_state(services: Services, instance: ProcessInstance, handle: WorkflowHandle) -> None:
    instance.state = services.runner.dump(handle)
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


def _assignee_for(session: Session, instance: ProcessInstance) -> int | None:
    if instance.subject_person_id is None:
        return None
    return session.scalar(select(User.id).where(User.person_id == instance.subject_person_id))


def sync_human_tasks(
    session: Session,
    instance: ProcessInstance,
    handle: WorkflowHandle,
    completed_uuid: str | None = None,
) -> None:
    """Make the open human-task rows match the workflow's READY user tasks."""
    ready = {t.uuid: t for t in handle.ready_user_tasks()}
    open_rows = list(
        session.scalars(
            select(HumanTask).where(
                HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.OPEN.value
            )
        )
    )
    now = utcnow()
    for row in open_rows:
        if row.task_uuid not in ready and row.task_uuid != completed_uuid:
            row.status = TaskStatus.CANCELLED.value
            row.completed_at = now
    known = {row.task_uuid for row in open_rows}
    for uuid, task in ready.items():
        if uuid in known:
            continue
        role = task.lane or Role.SECURITY.value
        session.add(
            HumanTask(
                instance_id=instance.id,
                task_uuid=uuid,
                bpmn_id=task.bpmn_id,
                name=task.name,
                role=role,
                party_id=instance.party_id,
                organisation_id=instance.organisation_id if role == Role.COMMITTEE.value else None,
                assignee_id=_assignee_for(session, instance)
                if role == Role.OFFICIAL.value
                else None,
                form_id=task.form,
                instructions=task.instructions,
                status=TaskStatus.OPEN.value,
                created_at=now,
                due_at=due_from(now, task.due_in),
            )
        )
