"""Run workflows: start, load, complete a user task, deliver a message, fire timers, save.

One :class:`Runner` per process holds the serializer and the restricted
script engine. A :class:`WorkflowHandle` is one in-memory workflow for one
request; callers must throw it away after any exception other than
:class:`ScriptError` (which leaves a consistent workflow with a task in
ERROR) and reload from the last saved state.
"""

from __future__ import annotations

import base64
import json
import logging
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins import (
    ExclusiveGatewayMixin,
    InclusiveGatewayMixin,
    ParallelGatewayMixin,
    UserTaskMixin,
)
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent, ThrowingEvent
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import (
    BoundaryEvent,
    EventBasedGateway,
)
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.specs.Join import Join
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from service.engine import timeclock
from service.engine.errors import EngineError, ScriptError
from service.engine.operations import make_script_engine, outbox
from service.engine.parsing import ParsedProcess

# Task-state log records carry the full task data (personal data) whenever
# the spiff.task logger's own level is below INFO: set it explicitly.
logging.getLogger("spiff").setLevel(logging.WARNING)
logging.getLogger("spiff.task").setLevel(logging.WARNING)

SPEC_KEY, SUBPROCESS_SPECS_KEY = "spec", "subprocess_specs"
TIMER_EVENT_TYPES = frozenset(
    {"DurationTimerEventDefinition", "TimeDateEventDefinition", "CycleTimerEventDefinition"}
)


@dataclass(frozen=True)
class ReadyTask:
    """A user task that waits for a person, described without engine types."""

    uuid: str
    bpmn_id: str
    name: str
    lane: str | None
    form: str | None
    instructions: str | None
    due_in: str | None
    # When a deadline timer on the task (a boundary timer) will fire: the real due time.
    deadline: datetime | None = None


@dataclass(frozen=True)
class Step:
    """One BPMN element of a case's diagram: what the case page marks and lists."""

    bpmn_id: str
    name: str | None
    kind: str  # "task", "event" or "gateway"


@dataclass(frozen=True)
class StepStates:
    """Where a case is now (waiting for a person or an event) and what it has done, in order."""

    current: tuple[Step, ...]
    finished: tuple[Step, ...]


_GATEWAYS = (ExclusiveGatewayMixin, InclusiveGatewayMixin, ParallelGatewayMixin, EventBasedGateway)
_NOW = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR


def _step(spec: Any) -> Step | None:
    """The element behind a task spec; None for the engine's own specs (no BPMN id)."""
    bpmn_id = getattr(spec, "bpmn_id", None)
    if not bpmn_id:
        return None
    if isinstance(spec, _GATEWAYS):
        kind = "gateway"
    elif isinstance(spec, (CatchingEvent, ThrowingEvent)):
        kind = "event"
    else:
        kind = "task"
    return Step(bpmn_id=str(bpmn_id), name=getattr(spec, "bpmn_name", None) or None, kind=kind)


PACKED = "z1:"  # zlib, then base64: the task tree shrinks about fivefold


def _pack(state: str) -> str:
    return PACKED + base64.b64encode(zlib.compress(state.encode("utf-8"), 1)).decode("ascii")


def _unpack(state: str) -> str:
    if state.startswith(PACKED):
        return zlib.decompress(base64.b64decode(state[len(PACKED) :])).decode("utf-8")
    return state


def _boundary_deadline(task: Any) -> datetime | None:
    """The earliest waiting boundary timer attached to ``task``, if any.

    The engine wraps an activity with boundary events in a split whose other
    children are the events; a waiting timer there holds its due time.
    """
    parent = task.parent
    if parent is None or type(parent.task_spec).__name__ != "BoundaryEventSplit":
        return None
    due = []
    for sibling in parent.children:
        definition = getattr(sibling.task_spec, "event_definition", None)
        value = sibling.internal_data.get("event_value")
        if sibling.state == TaskState.WAITING and isinstance(definition, TimerEventDefinition):
            if isinstance(value, dict):
                value = value.get("next")
            if isinstance(value, str):
                due.append(TimerEventDefinition.get_datetime(value))
    return min(due) if due else None


class StepBudgetExceeded(EngineError):
    pass


class WorkflowHandle:
    def __init__(self, workflow: BpmnWorkflow) -> None:
        self.workflow = workflow
        self.error: ScriptError | None = None
        # What the model asked the service to do (engine/operations.py), in order.
        self.outbox: list[dict[str, Any]] = []
        # Set by Runner.dump: the serialized spec, stored once per definition version.
        self.spec_json: str | None = None

    @property
    def is_completed(self) -> bool:
        return bool(self.workflow.is_completed())

    def data(self) -> dict[str, Any]:
        """The case's data as of the last completed task."""
        wf = self.workflow
        if wf.is_completed():
            return dict(wf.data)
        last = wf.last_task
        return dict(last.data) if last is not None else dict(wf.task_tree.data)

    def ready_user_tasks(self) -> list[ReadyTask]:
        tasks = []
        for task in self.workflow.get_tasks(state=TaskState.READY, manual=True):
            spec = task.task_spec
            props = spec.extensions.get("properties", {}) if hasattr(spec, "extensions") else {}
            tasks.append(
                ReadyTask(
                    uuid=str(task.id),
                    bpmn_id=spec.bpmn_id,
                    name=spec.bpmn_name or spec.bpmn_id,
                    lane=spec.lane,
                    form=props.get("form"),
                    instructions=spec.extensions.get("instructionsForEndUser")
                    if hasattr(spec, "extensions")
                    else None,
                    due_in=props.get("dueIn"),
                    deadline=_boundary_deadline(task),
                )
            )
        return tasks

    def next_wakeup(self) -> datetime | None:
        """The earliest due time of any waiting timer, timezone-aware UTC."""
        due = [
            TimerEventDefinition.get_datetime(event.value)
            for event in self.workflow.waiting_events()
            if event.event_type in TIMER_EVENT_TYPES and isinstance(event.value, str)
        ]
        return min(due) if due else None

    def waiting_messages(self) -> list[str]:
        return [
            event.name
            for event in self.workflow.waiting_events()
            if event.event_type.endswith("MessageEventDefinition")
        ]

    def reached_steps(self) -> set[tuple[str, str]]:
        """(from, to) BPMN element ids of every step the case has actually taken.

        Derived from the task tree: each reached task and the nearest reached
        ancestor that is a BPMN element (the engine's internal specs have no
        BPMN id). Used for flow coverage and to mark finished steps.
        """
        reached = TaskState.FINISHED_MASK | TaskState.READY | TaskState.WAITING | TaskState.STARTED
        steps: set[tuple[str, str]] = set()
        for task in self.workflow.get_tasks(state=reached):
            # A join's task for a branch that arrived before the last one ends
            # CANCELLED, yet that branch did reach the join.
            arrived_at_join = isinstance(task.task_spec, Join) and (
                task.parent is not None and task.parent.state == TaskState.COMPLETED
            )
            if task.state == TaskState.CANCELLED and not arrived_at_join:
                continue
            target = getattr(task.task_spec, "bpmn_id", None)
            parent = task.parent
            while parent is not None and getattr(parent.task_spec, "bpmn_id", None) is None:
                parent = parent.parent
            if target and parent is not None:
                steps.add((parent.task_spec.bpmn_id, target))
        return steps

    def step_states(self) -> StepStates:
        """The elements the case waits in now and those it has completed, each once, in order.

        Current: tasks and events waiting for a person, a timer or a message
        (or stopped by an error). A boundary event waiting on its task is part
        of that task, and a gateway waiting for its other branches is not a
        step anyone takes, so neither counts as current. An element done
        before and waiting again (a loop) is current only.
        """
        current: dict[str, tuple[float, Step]] = {}
        finished: dict[str, tuple[float, Step]] = {}
        for task in self.workflow.get_tasks(state=_NOW | TaskState.COMPLETED):
            spec = task.task_spec
            step = _step(spec)
            if step is None:
                continue
            when = float(task.last_state_change)
            if task.state == TaskState.COMPLETED:
                if when >= finished.get(step.bpmn_id, (0.0, step))[0]:
                    finished[step.bpmn_id] = (when, step)
            elif step.kind != "gateway" and not isinstance(spec, BoundaryEvent):
                current[step.bpmn_id] = (when, step)
        for bpmn_id in current:
            finished.pop(bpmn_id, None)

        def in_order(found: dict[str, tuple[float, Step]]) -> tuple[Step, ...]:
            return tuple(step for _when, step in sorted(found.values(), key=lambda p: p[0]))

        return StepStates(current=in_order(current), finished=in_order(finished))

    def error_tasks(self) -> list[str]:
        return [t.task_spec.bpmn_id for t in self.workflow.get_tasks(state=TaskState.ERROR)]


class Runner:
    def __init__(self, step_budget: int = 1000) -> None:
        timeclock.install()
        self.serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
        self.script_engine = make_script_engine()
        self.step_budget = step_budget

    # -- lifecycle ---------------------------------------------------------
    def start(self, parsed: ParsedProcess, data: dict[str, Any]) -> WorkflowHandle:
        try:
            workflow = BpmnWorkflow(
                parsed.spec, parsed.subprocess_specs, script_engine=self.script_engine
            )
        except RecursionError as exc:
            # The engine predicts the whole path on creation; a sequence-flow
            # cycle with no gateway in it recurses without end.
            raise EngineError(
                "The process model has a sequence-flow cycle that never ends; fix the model."
            ) from exc
        workflow.task_tree.data.update(data)
        handle = WorkflowHandle(workflow)
        self._run(handle)
        return handle

    def load(self, state: str, spec_json: str | None = None) -> WorkflowHandle:
        """Rebuild a workflow; ``spec_json`` supplies the spec when the state was saved without it."""
        try:
            dct = json.loads(_unpack(state))
            if SPEC_KEY not in dct:
                if spec_json is None:
                    raise EngineError(
                        "The case was saved without its process spec; give the version's."
                    )
                dct.update(json.loads(spec_json))
            self.serializer.migrate(dct)
            workflow = self.serializer.from_dict(dct)
        except EngineError:
            raise
        except Exception as exc:
            raise EngineError(f"The saved case state could not be loaded: {exc}") from exc
        # The script engine is not serialized: without this line the
        # workflow would run model code with the unrestricted default.
        workflow.script_engine = self.script_engine
        return WorkflowHandle(workflow)

    def dump(self, handle: WorkflowHandle) -> str:
        """The workflow's state without its spec (kept once per definition version).

        The spec is most of a saved workflow (62 KB of the incident's 65 KB);
        it never changes for a version, so it is split off into
        ``handle.spec_json`` for the caller to keep with the version.
        """
        serializer = self.serializer
        serializer.registry._encoder_mode = True
        try:
            dct = serializer.to_dict(handle.workflow)
            dct[serializer.VERSION_KEY] = serializer.VERSION
            spec = {
                SPEC_KEY: dct.pop(SPEC_KEY),
                SUBPROCESS_SPECS_KEY: dct.pop(SUBPROCESS_SPECS_KEY),
            }
            handle.spec_json = json.dumps(spec, cls=serializer._encoder_cls)
            return _pack(json.dumps(dct, cls=serializer._encoder_cls))
        finally:
            serializer.registry._encoder_mode = False

    # -- acts --------------------------------------------------------------
    def complete_task(self, handle: WorkflowHandle, task_uuid: str, data: dict[str, Any]) -> None:
        task = self._ready_user_task(handle, task_uuid)
        task.data.update(data)
        self._guard(handle, task.run)
        self._run(handle)

    def send_message(self, handle: WorkflowHandle, name: str, payload: Any) -> None:
        workflow = handle.workflow
        for task in workflow.get_tasks(state=TaskState.WAITING):
            definition = getattr(task.task_spec, "event_definition", None)
            if definition is not None and getattr(definition, "name", None) == name:
                try:
                    workflow.send_event(BpmnEvent(definition, payload))
                except WorkflowException as exc:
                    raise EngineError(f"The case is not waiting for {name!r}.") from exc
                self._run(handle)
                return
        raise EngineError(f"The case is not waiting for {name!r}.")

    def make_timers_due(self, handle: WorkflowHandle, when: datetime) -> int:
        """Move every waiting timer's due time to ``when`` (tests; "fire now" by an administrator)."""
        moved = 0
        for task in handle.workflow.get_tasks(state=TaskState.WAITING):
            definition = getattr(task.task_spec, "event_definition", None)
            if not isinstance(definition, TimerEventDefinition):
                continue
            value = task.internal_data.get("event_value")
            if isinstance(value, dict):  # cycle timers keep their next occurrence
                value["next"] = when.isoformat()
            else:
                task.internal_data["event_value"] = when.isoformat()
            moved += 1
        return moved

    def fire_timers(self, handle: WorkflowHandle) -> None:
        # do_engine_steps only refreshes timers at its end: refresh first, or
        # a due boundary timer sits READY until the next call.
        self._guard(handle, handle.workflow.refresh_timers)
        self._run(handle)

    # -- internals -----------------------------------------------------------
    def _ready_user_task(self, handle: WorkflowHandle, task_uuid: str) -> Any:
        for task in handle.workflow.get_tasks(state=TaskState.READY, manual=True):
            if str(task.id) == task_uuid and isinstance(task.task_spec, UserTaskMixin):
                return task
        raise EngineError("The task is no longer waiting: someone may already have completed it.")

    def _run(self, handle: WorkflowHandle) -> None:
        steps = 0

        def count(_task: Any) -> None:
            nonlocal steps
            steps += 1
            if steps > self.step_budget:
                raise StepBudgetExceeded(
                    f"The process ran more than {self.step_budget} automatic steps in one go; "
                    "it probably loops. Fix the model."
                )

        self._guard(handle, lambda: handle.workflow.do_engine_steps(will_complete_task=count))

    def _guard(self, handle: WorkflowHandle, action: Any) -> None:
        token = outbox.set(handle.outbox)
        try:
            action()
        except StepBudgetExceeded as exc:
            handle.error = ScriptError(exc.message)
            handle.error.handle = handle
            raise handle.error from exc
        except SpiffWorkflowException as exc:
            task = getattr(exc, "task", None)
            element = task.task_spec.bpmn_id if task is not None else None
            cause = getattr(exc, "exception", None) or exc.__cause__ or exc
            message = f"{type(cause).__name__}: {cause}" if cause is not exc else str(exc)
            handle.error = ScriptError(message, element_id=element)
            handle.error.handle = handle
            raise handle.error from exc
        finally:
            outbox.reset(token)
