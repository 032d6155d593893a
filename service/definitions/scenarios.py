"""Scenario tests of a process: given these answers, expect this path, these tasks, this end.

Stored beside each process (processes/<id>.scenarios.json, the whole file
{"process_id", "paths": [...]}; a version and a draft keep only the list of
paths). The test suite runs every path of every shipped process
(tests/test_process_paths.py); a designer runs a draft's paths before it is
deployed, in a sandbox database that is thrown away afterwards
(run_in_sandbox), so no real case, task, notification or e-mail is touched.

The runner uses the same service functions the web pages call (start_case,
complete_task, the timer worker) with the same policy checks, and reports
each path as a PathResult in words a designer understands instead of raising.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from service.auth import policy
from service.cases.models import CaseLink, ProcessInstance
from service.cases.service import (
    CaseStarter,
    FormInvalid,
    complete_task,
    start_case,
    validate_form,
)
from service.cases.timers import fire_due_timers
from service.context import Services
from service.db import Base, Database, utcnow
from service.definitions.catalog import DefinitionCache, latest_definition, latest_definitions
from service.definitions.models import ProcessDefinition
from service.definitions.validation_rules import Finding
from service.engine import DefinitionError, EngineError, Runner
from service.engine.xmlsafety import parse_xml_safely
from service.errors import N_, DomainError
from service.people.demo import DEMO_LOGINS, load_demo_data
from service.people.models import Person, User
from service.tasks.models import HumanTask

log = logging.getLogger(__name__)

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"

PATH_KEYS = frozenset({"name", "starter", "subject", "start", "initial", "steps", "expect"})
STEP_KEYS = frozenset({"task", "as", "data"})
EXPECT_KEYS = frozenset({"status", "links", "open_tasks"})
STATUSES = ("completed", "running", "error")
DEMO_USERNAMES = frozenset(login.username for login in DEMO_LOGINS)


class ScenarioFailure(Exception):
    """A path did not go as its scenario says; the message is for the designer.

    Made from an N_() template and its params: message is the English text,
    finding the same as a Finding the designer pages show translated.
    """

    def __init__(self, template: str, **params: Any) -> None:
        self.finding = Finding.of(None, template, **params)
        super().__init__(self.finding.message)
        self.message = self.finding.message


@dataclass
class PathResult:
    name: str
    index: int
    passed: bool
    failure: str | None = None  # English, for logs and the test suite
    # The same failure with its template, for the designer's language (failure_fields).
    failure_finding: Finding | None = None
    steps_done: list[str] = field(default_factory=list)
    reached: list[str] = field(default_factory=list)  # BPMN ids of the elements reached
    status: str | None = None  # the case's final status
    open_tasks: list[str] = field(default_factory=list)
    case_id: int | None = None


def failure_fields(finding: Finding | None) -> dict[str, Any]:
    """PathResult's failure and failure_finding from one finding."""
    return {"failure": finding.message if finding else None, "failure_finding": finding}


# ---------------------------------------------------------------- structure


def _path_where(number: int, name: Any = None) -> Finding:
    if isinstance(name, str) and name.strip():
        return Finding.of(None, N_("Path %(number)s (%(name)s)"), number=number, name=name)
    return Finding.of(None, N_("Path %(number)s"), number=number)


def scenario_paths(value: Any, process_id: str) -> tuple[list[Any], list[Finding]]:
    """The list of paths from a file's object or a bare list, with problems in its shape."""
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"process_id", "paths"})
        findings = [
            Finding.of(None, N_("Unknown key '%(key)s' in the scenario file."), key=k)
            for k in unknown
        ]
        if value.get("process_id", process_id) != process_id:
            findings.append(
                Finding.of(
                    None,
                    N_("The scenarios are for process '%(other)s', not '%(process)s'."),
                    other=str(value.get("process_id")),
                    process=process_id,
                )
            )
        paths = value.get("paths")
        if not isinstance(paths, list):
            return [], [*findings, Finding.of(None, N_("The scenarios need a list 'paths'."))]
        return paths, findings
    if isinstance(value, list):
        return value, []
    return [], [
        Finding.of(
            None, N_('The scenarios are a list of paths, or {"process_id": …, "paths": […]}.')
        )
    ]


def structure_findings(paths: list[Any], user_tasks: Iterable[str] | None) -> list[Finding]:
    """Every problem in the paths' structure; user_tasks: the BPMN's user task ids (None: unknown)."""
    tasks = set(user_tasks) if user_tasks is not None else None
    findings: list[Finding] = []
    for number, path in enumerate(paths, start=1):
        where = _path_where(number)
        if not isinstance(path, dict):
            findings.append(Finding.of(None, N_("%(where)s must be a JSON object."), where=where))
            continue
        name = path.get("name")
        if isinstance(name, str) and name.strip():
            where = _path_where(number, name)
        else:
            findings.append(
                Finding.of(None, N_("%(where)s needs a 'name' saying what it tests."), where=where)
            )
        for key in sorted(set(path) - PATH_KEYS):
            findings.append(
                Finding.of(
                    None,
                    N_("%(where)s: unknown key '%(key)s'; allowed: %(allowed)s."),
                    where=where,
                    key=key,
                    allowed=", ".join(sorted(PATH_KEYS)),
                )
            )
        starter = path.get("starter")
        if starter is None and "initial" not in path:
            findings.append(
                Finding.of(None, N_("%(where)s needs a 'starter' (a demo user name)."), where=where)
            )
        elif starter is not None and starter not in DEMO_USERNAMES:
            findings.append(
                Finding.of(
                    None,
                    N_("%(where)s: the starter '%(starter)s' is not a demo user."),
                    where=where,
                    starter=str(starter),
                )
            )
        if path.get("subject") is not None and not isinstance(path.get("subject"), str):
            findings.append(
                Finding.of(
                    None, N_("%(where)s: 'subject' is a demo person's name or null."), where=where
                )
            )
        for key in ("start", "initial"):
            if key in path and not isinstance(path[key], dict):
                findings.append(
                    Finding.of(
                        None,
                        N_("%(where)s: '%(key)s' must be a JSON object."),
                        where=where,
                        key=key,
                    )
                )
        steps = path.get("steps", [])
        if not isinstance(steps, list):
            findings.append(Finding.of(None, N_("%(where)s: 'steps' must be a list."), where=where))
            steps = []
        for step_number, step in enumerate(steps, start=1):
            step_where = Finding.of(
                None, N_("%(path)s, step %(step)s"), path=where, step=step_number
            )
            findings.extend(_step_findings(step_where, step, tasks))
        expect = path.get("expect", {})
        if not isinstance(expect, dict):
            findings.append(
                Finding.of(None, N_("%(where)s: 'expect' must be a JSON object."), where=where)
            )
            continue
        for key in sorted(set(expect) - EXPECT_KEYS):
            findings.append(
                Finding.of(
                    None,
                    N_("%(where)s: unknown key '%(key)s' in 'expect'; allowed: %(allowed)s."),
                    where=where,
                    key=key,
                    allowed=", ".join(sorted(EXPECT_KEYS)),
                )
            )
        if expect.get("status", "completed") not in STATUSES:
            findings.append(
                Finding.of(
                    None,
                    N_("%(where)s: 'expect.status' is one of %(statuses)s."),
                    where=where,
                    statuses=", ".join(STATUSES),
                )
            )
        for key in ("links", "open_tasks"):
            value = expect.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                findings.append(
                    Finding.of(
                        None,
                        N_("%(where)s: 'expect.%(key)s' is a list of ids."),
                        where=where,
                        key=key,
                    )
                )
        for task_id in expect.get("open_tasks", []) if tasks is not None else []:
            if isinstance(task_id, str) and task_id not in tasks:  # type: ignore[operator]
                findings.append(
                    Finding.of(
                        task_id,
                        N_("%(where)s: '%(task)s' in 'open_tasks' is not a user task."),
                        where=where,
                        task=task_id,
                    )
                )
    return findings


def _step_findings(where: Finding, step: Any, tasks: set[str] | None) -> list[Finding]:
    if not isinstance(step, dict):
        return [Finding.of(None, N_("%(where)s must be a JSON object."), where=where)]
    if "fire_timers" in step:
        if step != {"fire_timers": True}:
            return [
                Finding.of(
                    None,
                    N_('%(where)s: a timer step is exactly {"fire_timers": true}.'),
                    where=where,
                )
            ]
        return []
    found = [
        Finding.of(
            None,
            N_(
                "%(where)s: unknown key '%(key)s'; a step has 'task', 'as' and 'data' "
                '(or is {"fire_timers": true}).'
            ),
            where=where,
            key=key,
        )
        for key in sorted(set(step) - STEP_KEYS)
    ]
    task = step.get("task")
    if not isinstance(task, str) or not task:
        found.append(
            Finding.of(None, N_("%(where)s needs 'task': the id of a user task."), where=where)
        )
    elif tasks is not None and task not in tasks:
        found.append(
            Finding.of(
                task,
                N_("%(where)s: '%(task)s' is not a user task of this process's diagram."),
                where=where,
                task=task,
            )
        )
    worker = step.get("as")
    if not isinstance(worker, str) or worker not in DEMO_USERNAMES:
        found.append(
            Finding.of(
                None, N_("%(where)s: 'as' must name the demo user who does the task."), where=where
            )
        )
    if "data" in step and not isinstance(step["data"], dict):
        found.append(
            Finding.of(None, N_("%(where)s: 'data' must be a JSON object of answers."), where=where)
        )
    return found


# ---------------------------------------------------------------- running


def form_input(data: dict[str, Any] | None) -> MultiDict[str, str]:
    """Answers the way a browser posts them."""
    pairs: list[tuple[str, str]] = []
    for key, value in (data or {}).items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, bool):
                item = "yes" if item else "no"
            pairs.append((key, "" if item is None else str(item)))
    return MultiDict(pairs)


def sequence_flows_of(bpmn_xml: str, process_id: str) -> dict[tuple[str, str], str]:
    """(source, target) → flow id of the process's own sequence flows."""
    root = parse_xml_safely(bpmn_xml)
    flows: dict[tuple[str, str], str] = {}
    for process in root.iter(f"{BPMN}process"):
        if process.get("id") != process_id:
            continue
        for flow in process.iter(f"{BPMN}sequenceFlow"):
            flows[(str(flow.get("sourceRef")), str(flow.get("targetRef")))] = str(flow.get("id"))
    return flows


def _invalid_answers(exc: FormInvalid) -> str:
    return "; ".join(f"{e.field}: {e.code}" for e in exc.errors) or exc.message


def _domain_text(exc: DomainError) -> Finding:
    """A domain error's N_() message as a phrase, translated with its params later."""
    params = dict(getattr(exc, "params", None) or {})
    message = exc.message % params if params else exc.message
    return Finding(None, message, exc.message, params)


def _engine_text(exc: EngineError | DefinitionError) -> Finding:
    """The error's own text (its template when it has one), without the element prefix."""
    return replace(Finding.from_error(exc), element_id=None)


CompleteFn = Callable[[HumanTask, User, dict[str, Any]], None]


class PathRunner:
    """Runs one path at a time through the service layer; failures raise ScenarioFailure."""

    def __init__(self, services: Services, session: Session) -> None:
        self.services = services
        self.session = session
        self.steps_done: list[str] = []
        self.last_case_id: int | None = None

    def user(self, username: str) -> User:
        found = self.session.scalar(select(User).where(User.username == username))
        if found is None:
            raise ScenarioFailure(N_("There is no demo user '%(user)s'."), user=username)
        return found

    def person(self, name: str | None) -> Person | None:
        if name is None:
            return None
        found = self.session.scalar(select(Person).where(Person.full_name == name))
        if found is None:
            raise ScenarioFailure(N_("There is no demo person '%(person)s'."), person=name)
        return found

    def open_tasks(self, case_id: int) -> list[str]:
        return sorted(
            self.session.scalars(
                select(HumanTask.bpmn_id).where(
                    HumanTask.instance_id == case_id, HumanTask.status == "open"
                )
            ).all()
        )

    def open_task(self, case_id: int, bpmn_id: str, where: Finding | str) -> HumanTask:
        self.session.expire_all()
        task = self.session.scalar(
            select(HumanTask).where(
                HumanTask.instance_id == case_id,
                HumanTask.bpmn_id == bpmn_id,
                HumanTask.status == "open",
            )
        )
        if task is None:
            case = self.session.get(ProcessInstance, case_id)
            open_now = self.open_tasks(case_id)
            if open_now:
                raise ScenarioFailure(
                    N_(
                        "%(where)s: the task '%(task)s' is not open. Open tasks: %(open)s. "
                        "Check the gateway conditions and the answers of the steps before it."
                    ),
                    where=where,
                    task=bpmn_id,
                    open=", ".join(open_now),
                )
            if case is not None:
                raise ScenarioFailure(
                    N_(
                        "%(where)s: the task '%(task)s' is not open. No task is open (the case "
                        "is %(status)s). Check the gateway conditions and the answers of the "
                        "steps before it."
                    ),
                    where=where,
                    task=bpmn_id,
                    status=case.status,
                )
            raise ScenarioFailure(
                N_(
                    "%(where)s: the task '%(task)s' is not open. No task is open. Check the "
                    "gateway conditions and the answers of the steps before it."
                ),
                where=where,
                task=bpmn_id,
            )
        return task

    def family(self, case_id: int) -> list[ProcessInstance]:
        """The case and every case started from it, transitively."""
        found, frontier = [case_id], [case_id]
        while frontier:
            children = self.session.scalars(
                select(CaseLink.to_instance_id).where(CaseLink.from_instance_id.in_(frontier))
            ).all()
            frontier = [c for c in children if c not in found]
            found += frontier
        self.session.expire_all()
        return [case for c in found if (case := self.session.get(ProcessInstance, c)) is not None]

    def fire_timers(self, case_id: int) -> None:
        for instance in self.family(case_id):
            if instance.status != "running" or instance.next_wakeup is None:
                continue
            handle = self.services.load_case(instance)
            if self.services.runner.make_timers_due(handle, utcnow() - timedelta(seconds=1)):
                instance.state = self.services.runner.dump(handle)
                instance.next_wakeup = utcnow() - timedelta(seconds=1)
        self.session.commit()
        fire_due_timers(self.services)

    def start_path(self, process_id: str, spec: dict[str, Any]) -> int:
        if "initial" in spec:
            return self.start_as_system(process_id, spec)
        result = start_case(
            self.services,
            self.session,
            self.user(spec["starter"]),
            process_id,
            self.person(spec.get("subject")),
            form_input(spec.get("start")),
        )
        self.session.commit()
        return result.instance.id

    def start_as_system(self, process_id: str, spec: dict[str, Any]) -> int:
        """Start the way another system does (the alarm-centre API): CaseStarter directly,
        with the start-form answers plus the path's ``initial`` data, no starter needed."""
        definition = latest_definition(self.session, process_id)
        if definition is None:
            raise ScenarioFailure(
                N_("The process '%(process)s' does not exist."), process=process_id
            )
        subject = self.person(spec.get("subject"))
        parsed = self.services.definitions.parsed(definition)
        data: dict[str, Any] = {}
        if parsed.start_form:
            form = self.services.definitions.form(definition, parsed.start_form)
            data = validate_form(self.session, form, form_input(spec.get("start")))
        data.update(spec["initial"])
        starter = self.user(spec["starter"]) if spec.get("starter") else None
        instance = CaseStarter(self.services, self.session, starter).start_about(
            definition, subject, data
        )
        self.session.commit()
        return instance.id

    def run_path(
        self, process_id: str, spec: dict[str, Any], complete: CompleteFn | None = None
    ) -> int:
        """Start, do every step, check the end; the case id. Raises ScenarioFailure."""
        self.steps_done = []
        try:
            case_id = self.start_path(process_id, spec)
            self.last_case_id = case_id
        except FormInvalid as exc:
            raise ScenarioFailure(
                N_("The start form refused the answers: %(errors)s."),
                errors=_invalid_answers(exc),
            ) from exc
        except DomainError as exc:
            raise ScenarioFailure(
                N_("The case could not be started: %(problem)s"), problem=_domain_text(exc)
            ) from exc
        self.steps_done.append("start")
        for number, step in enumerate(spec.get("steps", []), start=1):
            if step.get("fire_timers"):
                self.fire_timers(case_id)
                self.steps_done.append("timers fired")
                continue
            where = Finding.of(
                None,
                N_("Step %(number)s (%(task)s as %(user)s)"),
                number=number,
                task=step["task"],
                user=step["as"],
            )
            task = self.open_task(case_id, step["task"], where)
            worker = self.user(step["as"])
            if not policy.can_work_task(worker, task):
                raise ScenarioFailure(
                    N_(
                        "%(where)s: %(user)s may not do this task (it is in the lane "
                        "'%(lane)s'). Check the task's lane or the path's 'as'."
                    ),
                    where=where,
                    user=step["as"],
                    lane=task.role,
                )
            try:
                if complete is None:
                    complete_task(
                        self.services,
                        self.session,
                        worker,
                        task.id,
                        form_input(step.get("data")),
                    )
                    self.session.commit()
                else:
                    complete(task, worker, step.get("data") or {})
            except FormInvalid as exc:
                self.session.rollback()
                raise ScenarioFailure(
                    N_("%(where)s: the form refused the answers: %(errors)s."),
                    where=where,
                    errors=_invalid_answers(exc),
                ) from exc
            except DomainError as exc:
                self.session.rollback()
                raise ScenarioFailure(
                    N_("%(where)s: %(problem)s"), where=where, problem=_domain_text(exc)
                ) from exc
            self.steps_done.append(step["task"])
        self.check(spec, case_id)
        return case_id

    def check(self, spec: dict[str, Any], case_id: int) -> None:
        expect = spec.get("expect", {})
        family = self.family(case_id)
        case = family[0]
        wanted = expect.get("status", "completed")
        if case.status != wanted:
            detail = f" ({case.error_message})" if case.error_message else ""
            open_now = self.open_tasks(case_id)
            if open_now:
                raise ScenarioFailure(
                    N_(
                        "After the last step the case is %(status)s%(detail)s, expected "
                        "%(expected)s. Open tasks: %(open)s."
                    ),
                    status=case.status,
                    detail=detail,
                    expected=wanted,
                    open=", ".join(open_now),
                )
            raise ScenarioFailure(
                N_("After the last step the case is %(status)s%(detail)s, expected %(expected)s."),
                status=case.status,
                detail=detail,
                expected=wanted,
            )
        direct = sorted(
            self.session.scalars(
                select(ProcessInstance.process_id)
                .join(CaseLink, CaseLink.to_instance_id == ProcessInstance.id)
                .where(CaseLink.from_instance_id == case_id)
            ).all()
        )
        if direct != sorted(expect.get("links", [])):
            raise ScenarioFailure(
                N_("The case started the linked cases [%(links)s], expected [%(expected)s]."),
                links=", ".join(direct),
                expected=", ".join(sorted(expect.get("links", []))),
            )
        for child in family[1:]:
            if child.status == "error":
                raise ScenarioFailure(
                    N_("The linked case of %(process)s stopped with an error: %(error)s"),
                    process=child.process_id,
                    error=str(child.error_message),
                )
        if "open_tasks" in expect:
            still_open = self.open_tasks(case_id)
            if still_open != sorted(expect["open_tasks"]):
                raise ScenarioFailure(
                    N_("The tasks left open are [%(open)s], expected [%(expected)s]."),
                    open=", ".join(still_open),
                    expected=", ".join(sorted(expect["open_tasks"])),
                )

    def reached(self, case_id: int) -> list[str]:
        case = self.session.get(ProcessInstance, case_id)
        if case is None or not case.state:
            return []
        steps = self.services.load_case(case).reached_steps()
        return sorted({element for step in steps for element in step})

    def result(self, process_id: str, index: int, spec: dict[str, Any]) -> PathResult:
        """Run one path and describe it, passed or not; never raises for a failing path."""
        name = str(spec.get("name") or f"Path {index + 1}")
        failure: Finding | None = None
        self.last_case_id = None
        try:
            self.run_path(process_id, spec)
        except ScenarioFailure as exc:
            failure = exc.finding
        except (EngineError, DefinitionError) as exc:
            self.session.rollback()
            failure = Finding.of(
                None, N_("The engine stopped: %(problem)s"), problem=_engine_text(exc)
            )
        except Exception as exc:  # a designer's page shows a result, never a stack trace
            log.exception("scenario path failed unexpectedly")
            self.session.rollback()
            failure = Finding.of(
                None,
                N_(
                    "The path stopped unexpectedly (%(error)s) after %(steps)s steps. "
                    "Check the step after the last one done."
                ),
                error=type(exc).__name__,
                steps=len(self.steps_done),
            )
        status: str | None = None
        open_now: list[str] = []
        reached: list[str] = []
        last = self.last_case_id
        if last is not None:
            case = self.session.get(ProcessInstance, last)
            status = case.status if case is not None else None
            open_now = self.open_tasks(last)
            try:
                reached = self.reached(last)
            except (EngineError, DefinitionError):
                reached = []
        return PathResult(
            name=name,
            index=index,
            passed=failure is None,
            **failure_fields(failure),
            steps_done=list(self.steps_done),
            reached=reached,
            status=status,
            open_tasks=open_now,
            case_id=last,
        )


def run_scenarios(
    services: Services, session: Session, process_id: str, paths: list[Any]
) -> list[PathResult]:
    """Every path on the latest version of process_id in this database, as results."""
    runner = PathRunner(services, session)
    return [runner.result(process_id, index, spec) for index, spec in enumerate(paths)]


# ---------------------------------------------------------------- the sandbox


@dataclass(frozen=True)
class DraftVersion:
    """What the sandbox stores as the draft's version (a ProcessDraft fits)."""

    process_id: str
    bpmn_xml: str
    forms: dict[str, Any]
    decisions: dict[str, Any]
    meta: dict[str, Any]


def _copy_definition(row: ProcessDefinition) -> ProcessDefinition:
    return ProcessDefinition(
        process_id=row.process_id,
        version=row.version,
        name=row.name,
        bpmn_xml=row.bpmn_xml,
        forms=dict(row.forms or {}),
        decisions=dict(row.decisions or {}),
        meta=dict(row.meta or {}),
        sha256=row.sha256,
        author=row.author,
        note=row.note,
    )


def run_in_sandbox(
    services: Services, session: Session, draft: Any, paths: list[Any]
) -> list[PathResult]:
    """Run paths on the draft in a throw-away SQLite database; nothing of it is kept.

    session: the real database, only read (the other processes' latest
    versions, so that linked cases can start). The sandbox holds the demo
    people and users the way `trygg init --demo` seeds them, every other
    process's latest version, and the draft as the next version of its
    process. Notifications and jobs the cases create stay in the sandbox and
    are deleted with it: no e-mail leaves.
    """
    import service.models  # noqa: F401 - every table into Base.metadata

    others = [_copy_definition(r) for r in latest_definitions(session)]
    current = next((r for r in others if r.process_id == draft.process_id), None)
    others = [r for r in others if r.process_id != draft.process_id]
    with tempfile.TemporaryDirectory(prefix="trygg-sandbox-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'sandbox.sqlite3'}"
        database = Database(url)
        try:
            Base.metadata.create_all(database.engine)
            sandbox = Services(
                settings=replace(services.settings, database_url=url),
                db=database,
                runner=Runner(step_budget=services.settings.engine_step_budget),
                definitions=DefinitionCache(),
            )
            with database.sessions() as box:
                load_demo_data(box)
                box.add_all(others)
                box.add(
                    ProcessDefinition(
                        process_id=draft.process_id,
                        version=(current.version if current is not None else 0) + 1,
                        name=str((draft.meta or {}).get("title", draft.process_id)),
                        bpmn_xml=draft.bpmn_xml,
                        forms=dict(draft.forms or {}),
                        decisions=dict(draft.decisions or {}),
                        meta=dict(draft.meta or {}),
                        sha256="draft",
                        author="draft",
                        note="",
                    )
                )
                box.commit()
                return run_scenarios(sandbox, box, draft.process_id, paths)
        finally:
            database.engine.dispose()


def user_task_ids(bpmn_xml: str, process_id: str) -> set[str] | None:
    """The user task ids of the process in bpmn_xml, or None when it does not parse."""
    try:
        root = parse_xml_safely(bpmn_xml)
    except DefinitionError:
        return None
    found: set[str] = set()
    for process in root.iter(f"{BPMN}process"):
        for task in process.iter(f"{BPMN}userTask"):
            if task.get("id"):
                found.add(str(task.get("id")))
    return found


__all__ = [
    "PathResult",
    "PathRunner",
    "ScenarioFailure",
    "failure_fields",
    "form_input",
    "run_in_sandbox",
    "run_scenarios",
    "scenario_paths",
    "sequence_flows_of",
    "structure_findings",
    "user_task_ids",
]
