"""Start cases and complete their tasks: lock, load, act, engine steps, save, audit.

Every function takes the acting user and a session, never touches Flask, and
leaves committing to the caller (one request = one transaction). If the
engine fails on the model's code, the case is saved with the error recorded
(status ``error``) so nothing the person submitted is lost; any other
failure propagates and the caller's rollback keeps the last saved state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.service import record
from service.auth import policy
from service.cases.models import CaseLink, CaseStatus, ProcessInstance
from service.cases.persist import settle
from service.context import Services
from service.db import utcnow
from service.definitions.catalog import latest_definition
from service.definitions.models import ProcessDefinition
from service.engine import EngineError, ScriptError, WorkflowHandle
from service.errors import N_, Conflict, Forbidden, InvalidInput, NotFound
from service.formdefs import FieldError, FormDef, validate_submission
from service.formdefs.validation import FormInput
from service.people.models import Organisation, Party, Person, Role, User
from service.tasks.claims import ALREADY_DONE, check_workable, take_for_completion
from service.tasks.models import HumanTask, TaskStatus

MAX_LINK_DEPTH = 5  # a model whose cases start each other in a ring stops here


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
    return {
        "organisations": tuple(session.scalars(select(Organisation.id))),
        "parties": tuple(session.scalars(select(Party.id))),
    }


def validate_form(session: Session, form: FormDef, submitted: FormInput) -> dict[str, Any]:
    # Only forms that offer database choices (organisations, parties) ask for them.
    choices = dynamic_choices(session) if any(f.options_source for f in form.fields) else {}
    result = validate_submission(form, submitted, choices)
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


def needs_subject(definition: ProcessDefinition) -> bool:
    return bool(definition.meta.get("subject", "required") != "none")


def _subject_data(subject: Person | None) -> dict[str, Any]:
    return {
        "subject_category": subject.category if subject else None,
        "subject_party_id": subject.party_id if subject else None,
        "subject_person_id": subject.id if subject else None,
    }


class CaseStarter:
    """Creates cases, by a person's start form or by another case's case/start."""

    def __init__(
        self, services: Services, session: Session, actor: User | None, depth: int = 0
    ) -> None:
        self.services = services
        self.session = session
        self.actor = actor
        self.depth = depth

    def create(
        self,
        definition: ProcessDefinition,
        data: dict[str, Any],
        *,
        subject: Person | None,
        party_id: int | None,
        organisation_id: int | None,
        on_behalf: bool,
    ) -> tuple[ProcessInstance, WorkflowHandle | None]:
        now = utcnow()
        instance = ProcessInstance(
            definition=definition,
            process_id=definition.process_id,
            subject_person_id=subject.id if subject else None,
            party_id=party_id,
            organisation_id=organisation_id,
            started_by_id=self.actor.id if self.actor else None,
            on_behalf=on_behalf,
            state="",
            created_at=now,
            updated_at=now,
        )
        self.session.add(instance)
        handle: WorkflowHandle | None
        try:
            handle = self.services.runner.start(self.services.definitions.parsed(definition), data)
        except ScriptError as exc:
            handle = _handle_from_error(exc)
        except EngineError as exc:
            # The model cannot even start: keep what was sent, mark the case.
            handle = None
            instance.status = CaseStatus.ERROR.value
            instance.error_message = exc.message
            self.session.flush()
            record(self.session, None, "case.error", instance_id=instance.id, element=None)
        if handle is not None:
            settle(self.services, self.session, self.actor, instance, handle, self._child())
        return instance, handle

    def _child(self) -> CaseStarter:
        return CaseStarter(self.services, self.session, self.actor, self.depth + 1)

    def start_about(
        self,
        definition: ProcessDefinition,
        subject: Person | None,
        data: dict[str, Any],
        *,
        party_id: int | None = None,
        organisation_id: int | None = None,
    ) -> ProcessInstance:
        """A case started by the system (a link, the scheduler, the alarm centre), not a form.

        Every start-form field exists (None unless ``data`` gives it), then
        ``data``, then the subject's variables; the party is the subject's
        unless given.
        """
        parsed = self.services.definitions.parsed(definition)
        initial: dict[str, Any] = {}
        if parsed.start_form:
            initial = dict.fromkeys(
                self.services.definitions.form(definition, parsed.start_form).names
            )
        initial.update(data)
        initial.update(_subject_data(subject))
        initial.setdefault("reported_on_behalf", False)
        if party_id is None and subject is not None:
            party_id = subject.party_id
        instance, _handle = self.create(
            definition,
            initial,
            subject=subject,
            party_id=party_id,
            organisation_id=organisation_id,
            on_behalf=False,
        )
        return instance

    def start_linked(self, parent: ProcessInstance, request: dict[str, Any]) -> None:
        """Fulfil a model's case/start: a new case about the same person, linked both ways."""
        if self.depth >= MAX_LINK_DEPTH:
            raise EngineError(f"Cases started each other more than {MAX_LINK_DEPTH} levels deep")
        definition = latest_definition(self.session, str(request["process_id"]))
        if definition is None:
            raise EngineError(f"The process {request['process_id']!r} to start does not exist")
        data = {**(request.get("data") or {}), "linked_from_case": parent.id}
        child = self.start_about(
            definition,
            parent.subject,
            data,
            party_id=parent.party_id,
            organisation_id=parent.organisation_id,
        )
        self.session.add(
            CaseLink(
                from_instance_id=parent.id,
                to_instance_id=child.id,
                element_id=str(request.get("element", "")),
            )
        )
        record(
            self.session,
            self.actor,
            "case.linked",
            instance_id=parent.id,
            linked_case=child.id,
            process_id=definition.process_id,
        )
        record(
            self.session,
            self.actor,
            "case.started",
            instance_id=child.id,
            process_id=definition.process_id,
            version=definition.version,
            linked_from=parent.id,
        )


def start_case(
    services: Services,
    session: Session,
    user: User,
    process_id: str,
    subject: Person | None,
    submitted: FormInput,
) -> StartResult:
    definition = startable_definition(session, user, process_id)
    if needs_subject(definition):
        if subject is None:
            raise InvalidInput(N_("Choose the person the case concerns."))
        if not policy.can_report_for(user, subject, session):
            raise Forbidden(N_("You may not start cases for this person."))
    else:
        subject = None
    parsed = services.definitions.parsed(definition)
    form_data: dict[str, Any] = {}
    if parsed.start_form:
        form = services.definitions.form(definition, parsed.start_form)
        form_data = validate_form(session, form, submitted)
    on_behalf = subject is not None and user.person_id != subject.id
    data = {**form_data, **_subject_data(subject), "reported_on_behalf": on_behalf}
    if subject is not None:
        party_id, organisation_id = subject.party_id, _organisation_from(data, session)
    else:  # the case belongs to the starter's own organisation or party
        party_id, organisation_id = user.party_id, user.organisation_id
        data.setdefault("organisation_id", organisation_id)
    instance, _handle = CaseStarter(services, session, user).create(
        definition,
        data,
        subject=subject,
        party_id=party_id,
        organisation_id=organisation_id,
        on_behalf=on_behalf,
    )
    if parsed.start_form:
        now = utcnow()
        session.add(
            HumanTask(
                instance_id=instance.id,
                task_uuid=f"start-{instance.id}",
                bpmn_id="start",
                name=str(definition.meta.get("title", definition.name)),
                role=_starter_role(user, subject).value,
                party_id=party_id,
                form_id=parsed.start_form,
                status=TaskStatus.COMPLETED.value,
                created_at=now,
                completed_at=now,
                completed_by_id=user.id,
                submitted_data=form_data,
            )
        )
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
    return StartResult(instance=instance, danger_ongoing=bool(form_data.get("danger_ongoing")))


def _handle_from_error(exc: ScriptError) -> WorkflowHandle:
    if not isinstance(exc.handle, WorkflowHandle):
        raise exc
    return exc.handle


def _starter_role(user: User, subject: Person | None) -> Role:
    if subject is not None and user.person_id == subject.id:
        return Role.OFFICIAL
    for role in (Role.PARTY_OFFICE, Role.SECURITY, Role.SECURITY_LEAD, Role.TIB, Role.COMMITTEE):
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
    check_workable(user, task)  # 403 outside the group; 409 naming the colleague who has it
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
        raise Conflict(ALREADY_DONE)
    instance = lock_instance(session, task.instance_id)
    # Re-read the task under the lock: a concurrent request may have finished or taken it.
    session.refresh(task, ["status", "assignee_id", "assignee"])
    if task.status != TaskStatus.OPEN.value:
        raise Conflict(ALREADY_DONE)
    data: dict[str, Any] = {}
    if task.form_id:
        form = services.definitions.form(instance.definition, task.form_id)
        data = validate_form(session, form, submitted)
    # After validating: a form sent back with errors must not have taken the task.
    take_for_completion(session, user, task)
    try:
        handle = services.load_case(instance)
        services.runner.complete_task(handle, task.task_uuid, data)
    except ScriptError as exc:
        handle = _handle_from_error(exc)
    except EngineError as exc:
        raise Conflict(N_("The task is no longer waiting. Reload the page.")) from exc
    task.status = TaskStatus.COMPLETED.value
    task.completed_at = utcnow()
    task.completed_by_id = user.id
    task.submitted_data = data
    settle(
        services,
        session,
        user,
        instance,
        handle,
        CaseStarter(services, session, user),
        completed_uuid=task.task_uuid,
    )
    record(
        session,
        user,
        "task.completed",
        instance_id=instance.id,
        human_task_id=task.id,
        task=task.bpmn_id,
        fields=sorted(data),
    )
    return task


def lock_instance(session: Session, instance_id: int) -> ProcessInstance:
    """Take the row lock (PostgreSQL) so concurrent completions queue up, not interleave."""
    stmt = select(ProcessInstance).where(ProcessInstance.id == instance_id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=ProcessInstance)
    instance = session.scalar(stmt.execution_options(populate_existing=True))
    if instance is None:
        raise NotFound(N_("The case does not exist."))
    return instance
