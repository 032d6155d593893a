"""The API for people: what I may start, start it, my tasks, do one, read a case.

Each operation does what its web page does, through the same service
functions and the same policy module, so the API can never show or allow more
than the pages. One request is one transaction: views that change or audit
commit themselves, so that a failing commit is answered as a problem here
rather than as the app's HTML page after the view.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Response, url_for
from flask_smorest import Blueprint  # type: ignore[import-untyped]
from flask_wtf.csrf import generate_csrf
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from service.api import access
from service.api.answers import OptionSources, form_document, invalid_answers, submission
from service.api.operations import Answer, Auth, load_body, operation, path_parameter
from service.api.problems import ApiProblem, install_problem_handlers, problem, unavailable
from service.api.schemas import (
    MAX_ID,
    PROCESS_ID_PATTERN,
    CaseCreatedSchema,
    CaseSchema,
    CompleteTaskSchema,
    CsrfTokenSchema,
    ProcessSchema,
    StartCaseSchema,
    TaskDetailSchema,
    TaskSchema,
)
from service.audit.service import record
from service.auth import policy
from service.casenotes.attachments import attachments_visible_to
from service.casenotes.comments import comments_visible_to
from service.casenotes.timeline import visible_history
from service.cases import queries
from service.cases.models import ProcessInstance
from service.cases.service import (
    FormInvalid,
    complete_task,
    load_task_for_work,
    needs_subject,
    start_case,
    startable_definition,
)
from service.definitions.catalog import latest_definitions
from service.definitions.models import ProcessDefinition
from service.errors import N_, Forbidden, NotFound
from service.formdefs import FormDef
from service.people.models import Person, User
from service.tasks import claims
from service.tasks.claims import TaskTaken, load_task_for_viewing
from service.tasks.models import HumanTask, TaskStatus
from service.tasks.queries import open_tasks_for, tasks_of_case
from service.web.form_view import display_value, option_sources
from service.web.request_context import db, services

bp = Blueprint(
    "people",
    __name__,
    url_prefix="/api/v1",
    description="For people signed in to the web app: processes, tasks and cases.",
)

ID = f"int(min=1, max={MAX_ID})"
PROCESS_ID = re.compile(PROCESS_ID_PATTERN)
JSON_SCALARS = (str, int, float, bool)


def _busy(exc: Exception) -> Response:
    text = str(getattr(exc, "orig", exc)).lower()
    if not isinstance(exc, OperationalError) or any(
        word in text for word in ("locked", "could not serialize", "deadlock")
    ):
        return problem(
            409,
            "Conflict",
            "Someone else changed this at the same time. Read it again and retry.",
        )
    return unavailable(exc)


install_problem_handlers(bp, _busy)


def _commit(session: Session) -> None:
    # Here, not after the view: a failing commit is then this API's problem answer.
    session.commit()


# -- the CSRF token ------------------------------------------------------------------


@operation(
    bp,
    "/csrf-token",
    "GET",
    auth=Auth.NONE,
    answer=Answer(200, CsrfTokenSchema, "The session's CSRF token."),
    errors=(),
)
def get_csrf_token() -> dict[str, str]:
    """The CSRF token of your session

    POSTs made with the session cookie send it in the X-CSRFToken header. Signing
    in starts a new session: fetch the token again after logging in.
    """
    return {"csrf_token": generate_csrf()}


# -- processes -----------------------------------------------------------------------


def _process_document(definition: ProcessDefinition, sources: OptionSources) -> dict[str, Any]:
    parsed = services().definitions.parsed(definition)
    form = services().definitions.form(definition, parsed.start_form) if parsed.start_form else None
    return {
        "process_id": definition.process_id,
        "title": str(definition.meta.get("title", definition.name)),
        "description": str(definition.meta.get("description", "")),
        "version": definition.version,
        "needs_subject": needs_subject(definition),
        "instructions": parsed.start_instructions,
        "start_form": form_document(form, sources) if form is not None else None,
    }


@operation(
    bp,
    "/processes",
    "GET",
    auth=Auth.SESSION,
    answer=Answer(200, ProcessSchema, "The processes you may start.", many=True),
    errors=(401, 403, 503),
)
def list_processes() -> list[dict[str, Any]]:
    """The processes I may start, each with its start form"""
    me = access.person()
    session = db()
    startable = [d for d in latest_definitions(session) if policy.can_start_process(me, d)]
    sources = option_sources(session)
    return [_process_document(d, sources) for d in startable]


PROCESS_PARAMETER = path_parameter(
    "process_id", "The process, e.g. incident (see GET /api/v1/processes).", "incident"
) | {"schema": {"type": "string", "pattern": PROCESS_ID_PATTERN}}


def _subject(me: User, definition: ProcessDefinition, person_id: int | None) -> Person | None:
    session = db()
    if not needs_subject(definition):
        if person_id is not None:
            raise _invalid_subject("unknown_field", "This process concerns no person.")
        return None
    if person_id is None:
        person_id = me.person_id  # an official reports for themselves
    if person_id is None:
        raise _invalid_subject("required", "Name the person the case concerns.")
    subject = session.get(Person, person_id)
    if subject is None:
        raise _invalid_subject("not_a_choice", "There is no such person.")
    return subject


def _invalid_subject(code: str, detail: str) -> ApiProblem:
    return ApiProblem(400, detail, errors={"subject_person_id": [code]})


@operation(
    bp,
    "/processes/<process_id>/cases",
    "POST",
    auth=Auth.SESSION_CSRF,
    body=StartCaseSchema,
    answer=Answer(
        201, CaseCreatedSchema, "The case was started.", headers={"Location": "The case."}
    ),
    errors=(400, 401, 403, 404, 409, 415, 503),
    parameters=[PROCESS_PARAMETER],
    error_details={403: "You may not start this process, or not for this person."},
)
def start_process(process_id: str) -> Any:
    """Start a case of a process, with the answers to its start form

    As the web's report form: the case is about subject_person_id (left out, about
    yourself), and the answers are validated as the form is. Nothing is stored
    unless everything is valid.
    """
    me = access.person()
    session = db()
    if not PROCESS_ID.fullmatch(process_id):
        raise NotFound(N_("The process does not exist."))
    definition = startable_definition(session, me, process_id)
    body = load_body(StartCaseSchema)
    subject = _subject(me, definition, body["subject_person_id"])
    parsed = services().definitions.parsed(definition)
    form = services().definitions.form(definition, parsed.start_form) if parsed.start_form else None
    submitted = submission(session, form, body["data"])
    try:
        result = start_case(services(), session, me, process_id, subject, submitted)
    except FormInvalid as invalid:
        raise invalid_answers(invalid.errors) from None
    instance = result.instance
    created = {
        "id": instance.id,
        "process_id": instance.process_id,
        "title": instance.definition.name,
        "status": instance.status,
        "danger_ongoing": result.danger_ongoing,
    }
    _commit(session)
    return created, 201, {"Location": url_for("people.read_case", case_id=instance.id)}


# -- tasks ---------------------------------------------------------------------------


def _task_document(me: User, task: HumanTask) -> dict[str, Any]:
    return {
        "id": task.id,
        "name": task.name,
        "bpmn_id": task.bpmn_id,
        "role": task.role,
        "status": task.status,
        "case_id": task.instance_id,
        "process_id": task.instance.process_id,
        "process_title": task.instance.definition.name,
        "created_at": task.created_at,
        "due_at": task.due_at,
        "completed_at": task.completed_at,
        "assigned_to_me": task.assignee_id == me.id,
        "assignee": task.assignee.display_name if task.assignee is not None else None,
        "claimed_at": task.claimed_at,
        "priority": task.priority,
        "workable": task.status == TaskStatus.OPEN.value and policy.can_work_task(me, task),
    }


@operation(
    bp,
    "/tasks",
    "GET",
    auth=Auth.SESSION,
    answer=Answer(200, TaskSchema, "My open tasks and my groups', most urgent first.", many=True),
    errors=(401, 403, 503),
)
def list_tasks() -> list[dict[str, Any]]:
    """My tasks: the open tasks I may do (the inbox)"""
    me = access.person()
    if not policy.can_see_inbox(me):
        raise Forbidden(N_("You have no inbox."))
    return [_task_document(me, t) for t in open_tasks_for(db(), me)]


TASK_PARAMETER = path_parameter("task_id", "The task (see GET /api/v1/tasks).", 1)


def _prefill(form: FormDef, data: dict[str, Any]) -> dict[str, Any]:
    """What the case already holds for the form's fields (as the web form is filled in)."""
    found: dict[str, Any] = {}
    for f in form.fields:
        value = data.get(f.name)
        if isinstance(value, JSON_SCALARS) or (
            isinstance(value, list) and all(isinstance(v, JSON_SCALARS) for v in value)
        ):
            found[f.name] = value
    return found


@operation(
    bp,
    f"/tasks/<{ID}:task_id>",
    "GET",
    auth=Auth.SESSION,
    answer=Answer(200, TaskDetailSchema, "The task, its instructions and its form."),
    errors=(401, 403, 404, 503),
    parameters=[TASK_PARAMETER],
    error_details={403: "The task is not yours or your group's."},
)
def read_task(task_id: int) -> dict[str, Any]:
    """A task, with the form to complete it: fields, types, choices, required, labels"""
    me = access.person()
    session = db()
    task = load_task_for_viewing(session, me, task_id)
    instance = task.instance
    form = services().definitions.form(instance.definition, task.form_id) if task.form_id else None
    prefill: dict[str, Any] = {}
    if task.status == TaskStatus.OPEN.value:
        # What the case already holds is for whoever may do the task, not a colleague's.
        if form is not None and policy.can_work_task(me, task):
            prefill = _prefill(form, services().load_case(instance).data())
        record(session, me, "task.viewed", instance_id=task.instance_id, human_task_id=task.id)
    document = {
        **_task_document(me, task),
        "instructions": task.instructions,
        "form": form_document(form, option_sources(session)) if form is not None else None,
        "prefill": prefill,
    }
    _commit(session)
    return document


@operation(
    bp,
    f"/tasks/<{ID}:task_id>/completion",
    "POST",
    auth=Auth.SESSION_CSRF,
    body=CompleteTaskSchema,
    answer=Answer(200, TaskSchema, "The task is done and the case has moved on."),
    errors=(400, 401, 403, 404, 409, 415, 503),
    parameters=[TASK_PARAMETER],
    error_details={
        403: "The task is not yours or your group's.",
        409: "The task is already done (perhaps by someone else first).",
    },
)
def complete(task_id: int) -> dict[str, Any]:
    """Complete a task with the answers to its form

    The answers are validated as the web form's are; nothing is stored unless
    everything is valid.
    """
    me = access.person()
    session = db()
    try:
        task = load_task_for_work(session, me, task_id)
    except TaskTaken as taken:
        raise _taken(taken) from None
    if task.status != TaskStatus.OPEN.value:
        raise ApiProblem(409, "The task is already done. Someone else may have finished it first.")
    body = load_body(CompleteTaskSchema)
    definition = task.instance.definition
    form = services().definitions.form(definition, task.form_id) if task.form_id else None
    submitted = submission(session, form, body["data"])
    try:
        done = complete_task(services(), session, me, task_id, submitted)
    except FormInvalid as invalid:
        raise invalid_answers(invalid.errors) from None
    except TaskTaken as taken:
        raise _taken(taken) from None
    document = _task_document(me, done)
    _commit(session)
    return document


def _taken(taken: TaskTaken) -> ApiProblem:
    return ApiProblem(
        409,
        f"{taken.holder} has taken the task, so only they can do it now. "
        "If it needs to move, the security lead can reassign it.",
    )


@operation(
    bp,
    f"/tasks/<{ID}:task_id>/claim",
    "POST",
    auth=Auth.SESSION_CSRF,
    answer=Answer(200, TaskSchema, "The task is yours (it already was: nothing changed)."),
    errors=(400, 401, 403, 404, 409, 503),
    parameters=[TASK_PARAMETER],
    error_details={
        403: "The task is not your group's.",
        409: "Someone else has the task (the detail names them), or it is already done.",
    },
)
def claim_task(task_id: int) -> dict[str, Any]:
    """Take a group task, so that only you do it and your group sees that you have it

    As the web's "Ta uppgiften". Of two people claiming at the same moment, one
    gets the task and the other a 409 naming who has it.
    """
    me = access.person()
    session = db()
    try:
        claims.claim(session, me, task_id)
    except TaskTaken as taken:
        raise _taken(taken) from None
    document = _task_document(me, load_task_for_viewing(session, me, task_id))
    _commit(session)
    return document


@operation(
    bp,
    f"/tasks/<{ID}:task_id>/unclaim",
    "POST",
    auth=Auth.SESSION_CSRF,
    answer=Answer(200, TaskSchema, "The task is back with your group (or already was)."),
    errors=(400, 401, 403, 404, 409, 503),
    parameters=[TASK_PARAMETER],
    error_details={
        403: "The task is not yours or your group's.",
        409: "Someone else has the task, it is already done, or it is an official's own.",
    },
)
def unclaim_task(task_id: int) -> dict[str, Any]:
    """Give a task you have back to your group, for anyone in it to take

    As the web's "Lämna tillbaka". An elected official's own task cannot be given back.
    """
    me = access.person()
    session = db()
    try:
        claims.unclaim(session, me, task_id)
    except TaskTaken as taken:
        raise _taken(taken) from None
    document = _task_document(me, load_task_for_viewing(session, me, task_id))
    _commit(session)
    return document


# -- cases ---------------------------------------------------------------------------


def _steps(session: Session, me: User, instance: ProcessInstance) -> list[dict[str, Any]]:
    """Completed steps and the answers the reader's roles may read, as on the case page."""
    tasks = tasks_of_case(session, instance.id)
    options = option_sources(session)
    forms: dict[str, FormDef] = {}
    steps = []
    for task in tasks:
        if task.status != TaskStatus.COMPLETED.value:
            continue
        form = None
        if task.form_id:
            if task.form_id not in forms:
                forms[task.form_id] = services().definitions.form(instance.definition, task.form_id)
            form = forms[task.form_id]
        submitted = task.submitted_data or {}
        answers = [
            {
                "field": f.name,
                "label": f.label,
                "value": submitted[f.name],
                "text": display_value(form, f.name, submitted[f.name], options),
            }
            for f in (form.fields if form is not None else ())
            if submitted.get(f.name) is not None and f.readable_by(me.roles)
        ]
        steps.append(
            {
                "task_id": task.id,
                "bpmn_id": task.bpmn_id,
                "name": task.name,
                "role": task.role,
                "completed_at": task.completed_at,
                "completed_by": task.completed_by.display_name if task.completed_by else None,
                "answers": answers,
            }
        )
    return steps


def _waiting(session: Session, me: User, instance: ProcessInstance) -> list[dict[str, Any]]:
    return [
        {
            "id": t.id,
            "name": t.name,
            "role": t.role,
            "due_at": t.due_at,
            "workable": policy.can_work_task(me, t),
        }
        for t in tasks_of_case(session, instance.id)
        if t.status == TaskStatus.OPEN.value
    ]


CASE_PARAMETER = path_parameter("case_id", "The case.", 1)


@operation(
    bp,
    f"/cases/<{ID}:case_id>",
    "GET",
    auth=Auth.SESSION,
    answer=Answer(200, CaseSchema, "The case, what waits, its timeline and its history."),
    errors=(401, 403, 404, 503),
    parameters=[CASE_PARAMETER],
    error_details={403: "You may not see this case."},
)
def read_case(case_id: int) -> dict[str, Any]:
    """A case and its timeline: completed steps with their answers, comments, files and history

    Answers a field's visible_to keeps from your roles are left out, as on the
    case page; so are comments and files written for a circle you are not in
    (and their rows in the history). Reading a case is recorded in its audit trail.
    """
    me = access.person()
    session = db()
    instance = queries.case_for_viewing(session, me, case_id)
    record(session, me, "case.viewed", instance_id=instance.id)
    attachments = attachments_visible_to(session, me, instance.id)
    subject = instance.subject
    document = {
        "id": instance.id,
        "process_id": instance.process_id,
        "title": instance.definition.name,
        "version": instance.definition.version,
        "status": instance.status,
        "subject": (
            {
                "id": subject.id,
                "full_name": subject.full_name,
                "party": subject.party.short_name if subject.party else None,
            }
            if subject is not None
            else None
        ),
        "started_at": instance.created_at,
        "started_by": instance.started_by.display_name if instance.started_by else None,
        "on_behalf": instance.on_behalf,
        "completed_at": instance.completed_at,
        "waiting": _waiting(session, me, instance),
        "links": [
            {
                "case_id": link.instance.id,
                "process_id": link.instance.process_id,
                "title": link.instance.definition.name,
                "direction": link.direction,
                "visible": link.visible,
            }
            for link in queries.linked_cases(session, me, instance.id)
        ],
        "timeline": _steps(session, me, instance),
        "history": [
            {
                "id": event.id,
                "at": event.at,
                "actor": event.actor.display_name if event.actor else None,
                "action": event.action,
                "task": _text_or_none(event.details.get("task")),
            }
            for event in visible_history(
                queries.history(session, instance.id), me, {a.id for a in attachments}
            )
        ],
        "comments": [
            {
                "id": c.id,
                "at": c.created_at,
                "author": c.author.display_name,
                "visibility": c.visibility,
                "body": c.body,
            }
            for c in comments_visible_to(session, me, instance.id)
        ],
        "attachments": [
            {
                "id": a.id,
                "at": a.created_at,
                "added_by": a.uploaded_by.display_name,
                "visibility": a.visibility,
                "name": a.original_name,
                "media_type": a.media_type,
                "size": a.size,
                "sha256": a.sha256,
                "description": a.description,
                "download": url_for(
                    "casenotes.download", instance_id=instance.id, attachment_id=a.id
                ),
            }
            for a in attachments
        ],
    }
    _commit(session)
    return document


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
