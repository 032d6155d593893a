"""Move running cases to another version of their process: dry run, move, revert.

A designer selects cases on older versions and a target version. The dry
run (:func:`plan_migrations`) tries every move on a copy of the case and
says, per case, what changes and whether it is allowed
(service/engine/version_migration.py holds the engine rules). The move
(:func:`migrate_instances`) plans each case again under its row lock, moves
only the allowed ones, keeps the state from before in an
:class:`InstanceMigration` row, and audits every case with the designer's
note. :func:`revert_migration` puts a case back: exactly as it was when
nothing happened to it since, otherwise by moving it back the same way.

Designers never see case data: a plan names case numbers, versions and BPMN
elements, and the audit trail holds ids and the note only.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, lazyload
from sqlalchemy.orm.exc import StaleDataError

from service.audit.service import record
from service.cases.models import CaseStatus, ProcessInstance

# The same scoping rules as a new task row gets (kept in one place, persist.py).
from service.cases.persist import (
    CONCURRENT_CHANGE,
    PARTY_VARIABLE,
    _assignee_for,
    _valid_id,
    save_state,
    sync_human_tasks,
)
from service.cases.service import lock_instance
from service.context import Services
from service.db import utcnow
from service.definitions.migration_models import InstanceMigration
from service.definitions.models import ProcessDefinition
from service.definitions.notes import required_note
from service.engine import EngineError, WorkflowHandle
from service.engine.version_migration import (
    Element,
    MoveRefused,
    Problem,
    VersionMove,
    VersionMover,
)
from service.errors import N_, Conflict, InvalidInput, NotFound
from service.people.models import Party, Role, User
from service.tasks.models import HumanTask, TaskStatus

MAX_CASES = 500  # per dry run or move: a page and a transaction of sensible size

# Engine attribute names in a designer's words (msgids, translated by the pages).
ATTRIBUTE_WORDS: dict[str, str] = {
    "bpmn_name": N_("name"),
    "lane": N_("lane (who does it)"),
    "documentation": N_("documentation"),
    "extensions.form": N_("form"),
    "extensions.instructions": N_("instructions"),
    "extensions.due": N_("time limit"),
    "extensions.other": N_("other properties"),
    "description": N_("kind of element"),
    "typename": N_("kind of element"),
    "inputs": N_("incoming flows"),
    "outputs": N_("outgoing flows"),
    "script": N_("script"),
    "prescript": N_("script before the task"),
    "postscript": N_("script after the task"),
    "cond_task_specs": N_("conditions"),
    "default_task_spec": N_("default flow"),
    "event_definition": N_("event (timer, message or signal)"),
}
OTHER_SETTINGS = N_("other settings")

REFUSALS: dict[str, str] = {
    "open_removed": N_("The case is at %(step)s, which the new version no longer has."),
    "done_removed": N_(
        "The case has been through %(step)s, which the new version no longer has: "
        "its history would not fit the new version."
    ),
    "started_changed": N_("The case is in the middle of %(step)s, which the new version changes."),
    "done_changed": N_(
        "The case has been through %(step)s, which works differently in the new version "
        "(%(what)s): the path it took would not fit the new version."
    ),
    "subprocess_gone": N_("The case runs the subprocess %(step)s, which the new version lacks."),
    "unsafe": N_("A trial move of this case failed; it stays on its version."),
}
NOT_RUNNING = N_("The case is not running (finished or stopped on an error).")
ALREADY_THERE = N_("The case is already on version %(n)s.")
OTHER_PROCESS = N_("The case belongs to another process.")
NO_CASE = N_("There is no case with this number.")


def describe(attributes: Iterable[str]) -> tuple[str, ...]:
    """Attribute names as msgids, each once, in a stable order."""
    words: list[str] = []
    for attribute in attributes:
        word = ATTRIBUTE_WORDS.get(attribute, OTHER_SETTINGS)
        if word not in words:
            words.append(word)
    return tuple(words)


@dataclass(frozen=True)
class StepRef:
    bpmn_id: str
    name: str

    @classmethod
    def of(cls, element: Element) -> StepRef:
        return cls(element.element_id, element.name or element.element_id)


@dataclass(frozen=True)
class ChangedStep:
    """An element of the change as this case meets it: done, open now, or ahead."""

    bpmn_id: str
    name: str
    stage: str  # "done", "open", "ahead"
    removed: bool
    what: tuple[str, ...]  # msgids from ATTRIBUTE_WORDS


@dataclass(frozen=True)
class Refusal:
    message: str  # msgid with %(...)s placeholders
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InstancePlan:
    case_id: int
    from_version: int | None
    to_version: int
    open_steps: tuple[StepRef, ...] = ()
    open_after: tuple[StepRef, ...] = ()
    changed: tuple[ChangedStep, ...] = ()
    removed: tuple[StepRef, ...] = ()
    added: tuple[StepRef, ...] = ()
    refusals: tuple[Refusal, ...] = ()
    changes: dict[str, Any] = field(default_factory=dict)  # by BPMN id, for the record

    @property
    def allowed(self) -> bool:
        return not self.refusals

    @property
    def refusal(self) -> str | None:
        """The first reason, untranslated (the pages show every reason, translated)."""
        return self.refusals[0].message if self.refusals else None


@dataclass(frozen=True)
class MigrationBatch:
    batch_id: str
    target_version: int
    moved: tuple[int, ...]
    refused: tuple[InstancePlan, ...]
    plans: tuple[InstancePlan, ...]


@dataclass(frozen=True)
class RevertResult:
    migration_id: int
    case_id: int
    exact: bool  # the saved state was put back as it was (nothing happened since)
    version: int


def note_or_refuse(text: str | None) -> str:
    return required_note(
        text, N_("Write a note saying why the cases are moved: it is kept in the audit trail.")
    )


def _refusal(problem: Problem) -> Refusal:
    step = problem.element.name or problem.element.element_id if problem.element else "–"
    args: dict[str, Any] = {"step": step}
    if problem.code == "done_changed":
        args["what"] = describe(problem.attributes)
    return Refusal(REFUSALS.get(problem.code, REFUSALS["unsafe"]), args)


def _changes(move: VersionMove) -> dict[str, Any]:
    return {
        "changed": {c.element.element_id: list(c.attributes) for c in move.changed},
        "removed": [e.element_id for e in move.removed],
        "added": [e.element_id for e in move.added],
        "open_before": [e.element_id for e in move.open_before],
        "open_after": [e.element_id for e in move.open_after],
    }


def _plan_of(
    instance: ProcessInstance, target: ProcessDefinition, move: VersionMove
) -> InstancePlan:
    return InstancePlan(
        case_id=instance.id,
        from_version=instance.definition.version,
        to_version=target.version,
        open_steps=tuple(StepRef.of(e) for e in move.open_before),
        open_after=tuple(StepRef.of(e) for e in move.open_after),
        changed=tuple(
            ChangedStep(
                i.element.element_id,
                i.element.name or i.element.element_id,
                i.stage,
                i.removed,
                describe(i.attributes),
            )
            for i in move.impacts
        ),
        removed=tuple(StepRef.of(e) for e in move.removed),
        added=tuple(StepRef.of(e) for e in move.added),
        refusals=tuple(_refusal(p) for p in move.problems),
        changes=_changes(move),
    )


def _precheck(
    instance: ProcessInstance | None, case_id: int, target: ProcessDefinition
) -> InstancePlan | None:
    """A plan refused before the engine is asked, or None when the engine should judge."""

    def refused(message: str, **args: Any) -> InstancePlan:
        from_version = instance.definition.version if instance is not None else None
        return InstancePlan(
            case_id, from_version, target.version, refusals=(Refusal(message, args),)
        )

    if instance is None:
        return refused(NO_CASE)
    if instance.process_id != target.process_id:
        return refused(OTHER_PROCESS)
    if instance.status != CaseStatus.RUNNING.value:
        return refused(NOT_RUNNING)
    if instance.definition_id == target.id:
        return refused(ALREADY_THERE, n=target.version)
    return None


def _ids(instance_ids: Iterable[int]) -> list[int]:
    ids = list(dict.fromkeys(int(i) for i in instance_ids))
    if not ids:
        raise InvalidInput(N_("Select at least one case to move."))
    if len(ids) > MAX_CASES:
        raise InvalidInput(N_("Select at most 500 cases at a time."))
    return ids


def plan_one(
    services: Services, instance: ProcessInstance | None, case_id: int, target: ProcessDefinition
) -> InstancePlan:
    early = _precheck(instance, case_id, target)
    if early is not None or instance is None:
        return early  # type: ignore[return-value]
    mover = VersionMover(services.runner)
    parsed = services.definitions.parsed(target)
    try:
        move = mover.plan(
            instance.state, services.definitions.spec_json(instance.definition), parsed
        )
    except EngineError:
        return InstancePlan(
            case_id,
            instance.definition.version,
            target.version,
            refusals=(Refusal(REFUSALS["unsafe"]),),
        )
    return _plan_of(instance, target, move)


def plan_migrations(
    services: Services,
    session: Session,
    instance_ids: Sequence[int],
    target: ProcessDefinition,
) -> list[InstancePlan]:
    """A dry run per case, in the order given: nothing is changed or saved."""
    plans = []
    for case_id in _ids(instance_ids):
        instance = session.get(ProcessInstance, case_id)
        plans.append(plan_one(services, instance, case_id, target))
    return plans


def _resync_tasks(session: Session, instance: ProcessInstance, handle: WorkflowHandle) -> None:
    """The open task rows after a move: same task, new name, form, instructions and lane.

    A task whose uuid survives the move keeps its row (its deadline and the
    links people have to it). If its lane changed it is another group's task
    now: the claim is dropped and the row scoped to the new group the way
    sync_human_tasks scopes a new one.
    """
    ready = {t.uuid: t for t in handle.ready_user_tasks()}
    rows = session.scalars(
        select(HumanTask)
        .where(HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.OPEN.value)
        # The row's own columns are all this needs: not the case, its subject and users joined in.
        .options(lazyload("*"))
    )
    data = handle.data()
    for row in rows:
        task = ready.get(row.task_uuid)
        if task is None:
            continue  # sync_human_tasks cancels it
        row.bpmn_id, row.name = task.bpmn_id, task.name
        row.form_id, row.instructions = task.form, task.instructions
        role = task.lane or Role.SECURITY.value
        if role != row.role:
            party = _valid_id(session, Party, data.get(PARTY_VARIABLE)) or instance.party_id
            row.role = role
            row.party_id = party if role == Role.PARTY_OFFICE.value else instance.party_id
            row.organisation_id = instance.organisation_id if role == Role.COMMITTEE.value else None
            row.assignee_id = (
                _assignee_for(session, instance) if role == Role.OFFICIAL.value else None
            )
            row.claimed_at = None
    session.flush()
    sync_human_tasks(session, instance, handle)


def _save(
    services: Services,
    session: Session,
    instance: ProcessInstance,
    handle: WorkflowHandle,
    target: ProcessDefinition,
) -> None:
    instance.definition_id = target.id
    instance.definition = target
    save_state(services, instance, handle)
    try:
        session.flush()
    except StaleDataError as exc:
        raise Conflict(CONCURRENT_CHANGE) from exc
    _resync_tasks(session, instance, handle)


def _move(
    services: Services,
    session: Session,
    actor: User,
    instance: ProcessInstance,
    target: ProcessDefinition,
    batch_id: str,
    note: str,
) -> tuple[InstancePlan, InstanceMigration | None]:
    source = instance.definition
    state_before = instance.state
    handle = services.load_case(instance)
    try:
        move = VersionMover(services.runner).move(handle, services.definitions.parsed(target))
    except MoveRefused as refused:
        return _plan_of(instance, target, refused.move), None
    except EngineError:
        return plan_one(services, instance, instance.id, target), None
    plan = _plan_of(instance, target, move)
    _save(services, session, instance, handle, target)
    migration = InstanceMigration(
        batch_id=batch_id,
        instance_id=instance.id,
        process_id=target.process_id,
        from_definition_id=source.id,
        to_definition_id=target.id,
        state_before=state_before,
        lock_version_after=instance.lock_version,
        changes=plan.changes,
        actor_id=actor.id,
        note=note,
    )
    session.add(migration)
    session.flush()
    record(
        session,
        actor,
        "case.migrated",
        instance_id=instance.id,
        migration_id=migration.id,
        batch_id=batch_id,
        process_id=target.process_id,
        from_version=source.version,
        to_version=target.version,
        note=note,
        changed=sorted(plan.changes["changed"]),
        removed=plan.changes["removed"],
        added=plan.changes["added"],
    )
    return plan, migration


def migrate_instances(
    services: Services,
    session: Session,
    actor: User,
    instance_ids: Sequence[int],
    target: ProcessDefinition,
    note: str | None,
) -> MigrationBatch:
    """Move the allowed cases among ``instance_ids`` to ``target``, each re-planned under its lock.

    A case another request moved meanwhile is refused as already there, so
    a double submit moves nothing twice. The caller commits.
    """
    text = note_or_refuse(note)
    ids = _ids(instance_ids)
    batch_id = str(uuid.uuid4())
    plans: list[InstancePlan] = []
    moved: list[int] = []
    for case_id in ids:
        try:
            instance: ProcessInstance | None = lock_instance(session, case_id)
        except NotFound:
            instance = None
        early = _precheck(instance, case_id, target)
        if early is not None or instance is None:
            plans.append(early)  # type: ignore[arg-type]
            continue
        plan, migration = _move(services, session, actor, instance, target, batch_id, text)
        plans.append(plan)
        if migration is not None:
            moved.append(case_id)
    record(
        session,
        actor,
        "process.migration_batch",
        batch_id=batch_id,
        process_id=target.process_id,
        to_version=target.version,
        moved=moved,
        refused=[p.case_id for p in plans if not p.allowed],
        note=text,
    )
    return MigrationBatch(
        batch_id=batch_id,
        target_version=target.version,
        moved=tuple(moved),
        refused=tuple(p for p in plans if not p.allowed),
        plans=tuple(plans),
    )


def revert_migration(
    services: Services,
    session: Session,
    actor: User,
    migration_id: int,
    note: str | None,
    process_id: str | None = None,
) -> RevertResult:
    """Put the case back on the version it was moved from.

    Untouched since the move: the saved state from before is restored
    exactly. Otherwise it is moved back through the same rules, refused
    (Conflict, with the reason) when that is not safe.
    """
    text = note_or_refuse(note)
    migration = session.get(InstanceMigration, migration_id)
    if migration is None or (process_id is not None and migration.process_id != process_id):
        raise NotFound(N_("There is no such move of a case."))
    instance = lock_instance(session, migration.instance_id)
    session.refresh(migration)
    if migration.reverted_at is not None:
        raise Conflict(N_("This move has already been reverted."))
    source = session.get(ProcessDefinition, migration.from_definition_id)
    assert source is not None  # a foreign key
    exact = (
        instance.lock_version == migration.lock_version_after
        and instance.definition_id == migration.to_definition_id
    )
    if exact:
        instance.definition_id = source.id
        instance.definition = source
        instance.state = migration.state_before
        handle = services.load_case(instance)
        save_state(services, instance, handle)
        instance.state = migration.state_before  # byte for byte what was saved before
        try:
            session.flush()
        except StaleDataError as exc:
            raise Conflict(CONCURRENT_CHANGE) from exc
        _resync_tasks(session, instance, handle)
    else:
        if instance.definition_id == source.id:
            raise Conflict(N_("The case is already back on the version it was moved from."))
        early = _precheck(instance, instance.id, source)
        if early is not None:
            raise Conflict(early.refusals[0].message)
        plan, moved = _move(services, session, actor, instance, source, str(uuid.uuid4()), text)
        if moved is None:
            raise RevertRefused(plan)
    migration.reverted_at = utcnow()
    migration.reverted_by_id = actor.id
    migration.revert_note = text
    record(
        session,
        actor,
        "case.migration_reverted",
        instance_id=instance.id,
        migration_id=migration.id,
        process_id=migration.process_id,
        to_version=source.version,
        exact=exact,
        note=text,
    )
    session.flush()
    return RevertResult(migration.id, instance.id, exact, source.version)


class RevertRefused(Conflict):
    """Moving the case back is not safe; ``plan`` says why."""

    def __init__(self, plan: InstancePlan) -> None:
        super().__init__(N_("The case cannot be moved back safely; it stays where it is."))
        self.plan = plan


def running_by_version(session: Session, process_id: str) -> dict[int, int]:
    """Cases not finished (running, or stopped on an error) per version number."""
    rows = session.execute(
        select(ProcessDefinition.version, func.count(ProcessInstance.id))
        .join(ProcessInstance, ProcessInstance.definition_id == ProcessDefinition.id)
        .where(
            ProcessDefinition.process_id == process_id,
            ProcessInstance.status.in_((CaseStatus.RUNNING.value, CaseStatus.ERROR.value)),
        )
        .group_by(ProcessDefinition.version)
    )
    return {int(version): int(count) for version, count in rows}
