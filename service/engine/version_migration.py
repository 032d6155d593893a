"""Move a running workflow onto another version of its process (SpiffWorkflow's diff helpers).

Built on ``SpiffWorkflow.bpmn.util.diff``: ``SpecDiff``/``WorkflowDiff`` (what
``diff_workflow`` does, keeping the spec diffs), ``diff_dependencies`` for
subprocess specs and ``migrate_workflow`` for the move itself.

``SpiffWorkflow.bpmn.util.diff`` aligns the old spec with the new one by
BPMN id, lists the tasks of the case whose element changed or vanished, and
swaps the spec in (``migrate_workflow``), re-predicting the branches of the
waiting tasks from the new model. What is safe is our decision, made here
on engine facts and reported as :class:`Problem` codes the service words:

- an open task (ready, waiting, started or stopped on an error) whose
  element is gone: the case would lose the step it is in;
- a finished task whose element is gone: the saved case would name a step
  the new version cannot load;
- a started task whose element changed (it is half-way through);
- a finished task whose element now *works* differently (flows, script,
  conditions, kind): the path the case took no longer matches the model. A
  finished task whose name, documentation, lane, form or instructions
  changed is fine: it has run.

Every move is tried first on a copy and the result saved and loaded again,
so a plan that says "allowed" has been proven on that very case.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util.diff import (
    SpecDiff,
    WorkflowDiff,
    diff_dependencies,
    migrate_workflow,
)
from SpiffWorkflow.util.task import TaskState

from service.engine.errors import EngineError
from service.engine.parsing import ParsedProcess
from service.engine.runtime import Runner, WorkflowHandle

OPEN = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
# Attributes that describe a task to people but do not change what the engine does with it.
COSMETIC = frozenset(
    {
        "bpmn_name",
        "documentation",
        "lane",
        "extensions.form",
        "extensions.instructions",
        "extensions.due",
        "description",
    }
)


def _timer_changed(old: Any, new: Any) -> bool:
    """False only for two timers with the same kind and time expression."""
    before = getattr(old, "event_definition", None)
    after = getattr(new, "event_definition", None)
    if not isinstance(before, TimerEventDefinition) or type(before) is not type(after):
        return True
    return bool(getattr(before, "expression", None) != getattr(after, "expression", None))


def _refined(old: Any, new: Any, attributes: Iterable[str]) -> tuple[str, ...]:
    """Attribute names, with "extensions" split into what a designer edits (form, instructions)."""
    found: list[str] = []
    for attribute in attributes:
        if attribute == "event_definition" and not _timer_changed(old, new):
            continue  # a timer's definition carries the element's name: renamed, not retimed
        if attribute != "extensions" or new is None:
            found.append(attribute)
            continue
        before, after = getattr(old, "extensions", {}) or {}, getattr(new, "extensions", {}) or {}
        props_before = dict(before.get("properties") or {})
        props_after = dict(after.get("properties") or {})
        if props_before.pop("form", None) != props_after.pop("form", None):
            found.append("extensions.form")
        if props_before.pop("dueIn", None) != props_after.pop("dueIn", None):
            found.append("extensions.due")
        if before.get("instructionsForEndUser") != after.get("instructionsForEndUser"):
            found.append("extensions.instructions")
        rest_before = {
            k: v for k, v in before.items() if k not in ("properties", "instructionsForEndUser")
        }
        rest_after = {
            k: v for k, v in after.items() if k not in ("properties", "instructionsForEndUser")
        }
        if props_before != props_after or rest_before != rest_after:
            found.append("extensions.other")
    return tuple(sorted(found))


@dataclass(frozen=True)
class Element:
    """A BPMN element (or one of the engine's own steps, which have no BPMN id)."""

    element_id: str
    name: str | None
    internal: bool = False


@dataclass(frozen=True)
class ElementChange:
    element: Element
    # Engine attribute names ("bpmn_name", "outputs", "script", ...); the service words them.
    attributes: tuple[str, ...]


@dataclass(frozen=True)
class TaskImpact:
    """An element of the change that this case has been through, is in, or has ahead."""

    element: Element
    stage: str  # "done", "open" or "ahead"
    removed: bool
    attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Problem:
    code: str  # open_removed, done_removed, started_changed, done_changed, subprocess_gone, unsafe
    element: Element | None = None
    attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class VersionMove:
    """What moving one case to another version does; ``problems`` empty means allowed."""

    open_before: tuple[Element, ...]
    open_after: tuple[Element, ...]
    changed: tuple[ElementChange, ...]
    removed: tuple[Element, ...]
    added: tuple[Element, ...]
    impacts: tuple[TaskImpact, ...]
    problems: tuple[Problem, ...] = field(default=())

    @property
    def allowed(self) -> bool:
        return not self.problems


class MoveRefused(EngineError):
    def __init__(self, move: VersionMove) -> None:
        super().__init__("The case cannot be moved to that version safely.")
        self.move = move


def _element(spec: Any) -> Element:
    bpmn_id = getattr(spec, "bpmn_id", None)
    if bpmn_id:
        return Element(str(bpmn_id), getattr(spec, "bpmn_name", None) or None)
    return Element(str(spec.name), None, internal=True)


def _stage(state: int) -> str:
    if state & OPEN:
        return "open"
    if state & TaskState.FINISHED_MASK:
        return "done"
    return "ahead"


def _open_elements(workflow: Any) -> tuple[Element, ...]:
    seen: dict[str, Element] = {}
    for task in workflow.get_tasks(state=OPEN):
        element = _element(task.task_spec)
        if not element.internal:
            seen.setdefault(element.element_id, element)
    return tuple(seen.values())


def _judge(diff: WorkflowDiff, spec_diff: SpecDiff) -> tuple[list[TaskImpact], list[Problem]]:
    impacts: dict[tuple[str, str], TaskImpact] = {}
    problems: dict[tuple[str, str], Problem] = {}
    removed_specs = set(spec_diff.removed)
    changed_specs = spec_diff.changed
    for task in [*diff.removed, *diff.changed]:
        spec = task.task_spec
        element = _element(spec)
        state = task.state
        stage = _stage(state)
        if state & TaskState.CANCELLED:
            continue  # a branch not taken, cut off: nothing of it runs or stays
        is_removed = spec in removed_specs
        attributes = _refined(spec, spec_diff.alignment.get(spec), changed_specs.get(spec, ()))
        key = (element.element_id, stage)
        if not element.internal:
            impacts.setdefault(key, TaskImpact(element, stage, is_removed, attributes))
        if is_removed and stage == "open":
            problems.setdefault(key, Problem("open_removed", element))
        elif is_removed and stage == "done":
            problems.setdefault(key, Problem("done_removed", element))
        elif not is_removed and state & TaskState.STARTED:
            problems.setdefault(key, Problem("started_changed", element, attributes))
        elif not is_removed and stage == "done" and set(attributes) - COSMETIC:
            problems.setdefault(key, Problem("done_changed", element, attributes))
    return list(impacts.values()), list(problems.values())


def _spec_summary(
    spec_diffs: Iterable[SpecDiff],
) -> tuple[list[ElementChange], list[Element], list[Element]]:
    changed: dict[str, ElementChange] = {}
    removed: dict[str, Element] = {}
    added: dict[str, Element] = {}
    for spec_diff in spec_diffs:
        for spec, attributes in spec_diff.changed.items():
            element = _element(spec)
            if not element.internal:
                refined = _refined(spec, spec_diff.alignment.get(spec), attributes)
                changed.setdefault(element.element_id, ElementChange(element, refined))
        for spec in spec_diff.removed:
            element = _element(spec)
            if not element.internal:
                removed.setdefault(element.element_id, element)
        for spec in spec_diff.added:
            element = _element(spec)
            if not element.internal:
                added.setdefault(element.element_id, element)
    return list(changed.values()), list(removed.values()), list(added.values())


def _waiting_timers(workflow: Any) -> dict[Any, Any]:
    """The due times of waiting timers, by task id: migrating would restart them from now."""
    kept = {}
    for task in workflow.get_tasks(state=TaskState.WAITING):
        definition = getattr(task.task_spec, "event_definition", None)
        if isinstance(definition, TimerEventDefinition) and "event_value" in task.internal_data:
            kept[task.id] = json.loads(json.dumps(task.internal_data["event_value"]))
    return kept


def _restore_timers(workflow: Any, kept: dict[Any, Any], changed: set[str]) -> None:
    """A deadline keeps its due time across a move unless its time was changed."""
    for task_id, value in kept.items():
        task = workflow.get_task_from_id(task_id) if task_id in workflow.tasks else None
        if task is None or task.task_spec.name in changed:
            continue
        if task.state == TaskState.WAITING:
            task.internal_data["event_value"] = value


class VersionMover:
    """Plans and performs moves of workflows between two parsed versions of a process."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    @property
    def _registry(self) -> Any:
        return self.runner.serializer.registry

    def _diff(self, handle: WorkflowHandle, target: ParsedProcess) -> _Diffs:
        """What ``diff_workflow`` computes, keeping the spec diffs it builds and throws away.

        Each SpecDiff serializes every task spec of both versions, which is
        most of a move's engine time: it is made once per case and reused by
        the judgement, the summary and the move itself.
        """
        workflow = handle.workflow
        try:
            spec_diff = SpecDiff(self._registry, workflow.spec, target.spec)
            top = WorkflowDiff(workflow, spec_diff)
            dep_diffs, _new = diff_dependencies(
                self._registry, workflow.subprocess_specs, target.subprocess_specs
            )
            sub_diffs: dict[Any, tuple[WorkflowDiff, SpecDiff] | None] = {}
            for sp_id, sp in workflow.subprocesses.items():
                name = sp.spec.name
                if name not in target.subprocess_specs:
                    sub_diffs[sp_id] = None
                    continue
                dep = dep_diffs.get(name)
                if dep is None or workflow.subprocess_specs.get(name) is not sp.spec:
                    dep = SpecDiff(self._registry, sp.spec, target.subprocess_specs[name])
                sub_diffs[sp_id] = (WorkflowDiff(sp, dep), dep)
        except Exception as exc:  # the helpers are young ("may change"): never a crash
            raise EngineError(f"The versions could not be compared: {exc}") from exc
        problems = [
            Problem("subprocess_gone", _element(workflow.subprocesses[sp_id].spec))
            for sp_id, sub in sub_diffs.items()
            if sub is None
        ]
        return _Diffs(top, spec_diff, sub_diffs, dep_diffs, problems)

    def assess(
        self, handle: WorkflowHandle, target: ParsedProcess, diffs: _Diffs | None = None
    ) -> VersionMove:
        """What moving this workflow would do, judged on the diff alone (nothing changes)."""
        diffs = diffs or self._diff(handle, target)
        impacts, problems = _judge(diffs.top, diffs.spec_diff)
        problems = [*diffs.problems, *problems]
        for sub in diffs.sub_diffs.values():
            if sub is not None:
                more_impacts, more = _judge(*sub)
                impacts += more_impacts
                problems += more
        changed, removed, added = _spec_summary(
            [diffs.spec_diff, *(d for d in diffs.dep_diffs.values() if d is not None)]
        )
        current = _open_elements(handle.workflow)
        return VersionMove(
            open_before=current,
            open_after=current,
            changed=tuple(changed),
            removed=tuple(removed),
            added=tuple(added),
            impacts=tuple(impacts),
            problems=tuple(problems),
        )

    def plan(self, state: str, spec_json: str | None, target: ParsedProcess) -> VersionMove:
        """Assess, then try the move on a copy and prove the result saves and loads."""
        handle = self.runner.load(state, spec_json)
        diffs = self._diff(handle, target)
        move = self.assess(handle, target, diffs)
        if not move.allowed:
            return move
        try:
            self._migrate(handle, target, diffs)
            dumped = self.runner.dump(handle)
            reloaded = self.runner.load(dumped, handle.spec_json)
        except EngineError:
            return _with_problem(move, Problem("unsafe"))
        return VersionMove(
            open_before=move.open_before,
            open_after=_open_elements(reloaded.workflow),
            changed=move.changed,
            removed=move.removed,
            added=move.added,
            impacts=move.impacts,
        )

    def move(self, handle: WorkflowHandle, target: ParsedProcess) -> VersionMove:
        """Move the workflow in place; raises MoveRefused (nothing changed) when unsafe.

        The caller saves with Runner.dump; the target's spec comes along in
        handle.spec_json as for any case.
        """
        diffs = self._diff(handle, target)
        move = self.assess(handle, target, diffs)
        if not move.allowed:
            raise MoveRefused(move)
        self._migrate(handle, target, diffs)
        return VersionMove(
            open_before=move.open_before,
            open_after=_open_elements(handle.workflow),
            changed=move.changed,
            removed=move.removed,
            added=move.added,
            impacts=move.impacts,
        )

    def _migrate(self, handle: WorkflowHandle, target: ParsedProcess, diffs: _Diffs) -> None:
        workflow = handle.workflow
        # A timer keeps its due time unless its event definition (the time) itself changed.
        changed_names = set()
        for spec_diff in [diffs.spec_diff, *(sub[1] for sub in diffs.sub_diffs.values() if sub)]:
            changed_names |= {
                spec.name
                for spec, attributes in spec_diff.changed.items()
                if "event_definition" in _refined(spec, spec_diff.alignment.get(spec), attributes)
            }
        timers = _waiting_timers(workflow)
        try:
            migrate_workflow(diffs.top, workflow, target.spec)
            for sp_id, sub in diffs.sub_diffs.items():
                if sub is not None:
                    sp = workflow.subprocesses[sp_id]
                    migrate_workflow(sub[0], sp, target.subprocess_specs[sp.spec.name])
            workflow.subprocess_specs = target.subprocess_specs
            _restore_timers(workflow, timers, changed_names)
        except Exception as exc:
            raise EngineError(f"The case could not be moved: {exc}") from exc
        # The script engine is not part of the spec: keep the restricted one.
        workflow.script_engine = self.runner.script_engine
        for task in workflow.get_tasks():
            spec = task.task_spec
            if task.workflow.spec.task_specs.get(spec.name) is not spec:
                raise EngineError(
                    f"A step of the case has no element in the new version: {spec.name}"
                )


@dataclass
class _Diffs:
    top: WorkflowDiff
    spec_diff: SpecDiff
    # Per running subprocess: its workflow diff and spec diff, or None when the target lacks it.
    sub_diffs: dict[Any, tuple[WorkflowDiff, SpecDiff] | None]
    dep_diffs: dict[str, SpecDiff | None]
    problems: list[Problem]


def _with_problem(move: VersionMove, problem: Problem) -> VersionMove:
    return VersionMove(
        open_before=move.open_before,
        open_after=move.open_after,
        changed=move.changed,
        removed=move.removed,
        added=move.added,
        impacts=move.impacts,
        problems=(*move.problems, problem),
    )
