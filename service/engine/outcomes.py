"""What a case decided on its way: the branches its gateways took and its decision tables' results.

Read from the saved task tree for the case's timeline. Times are not taken
from the engine (its clock is not the service's); each outcome instead names
the user task that led to it, which the service already has a time for.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.util.task import TaskState

from service.engine.runtime import WorkflowHandle

# States of a branch the case actually went down (not merely predicted or cancelled).
_TAKEN = TaskState.FINISHED_MASK | TaskState.READY | TaskState.WAITING | TaskState.STARTED
# Engine-internal specs named after the BPMN element they wrap.
_INTERNAL_SUFFIXES = (".BoundaryEventSplit", ".BoundaryEventParent")


@dataclass(frozen=True)
class Outcome:
    bpmn_id: str
    taken: tuple[str, ...]  # BPMN ids of the elements the case went on to
    data: dict[str, Any]  # the case data right after the element ran
    after_task_uuid: str | None  # the nearest earlier user task, None if none (the start)


def _bpmn_id_of(spec: Any) -> str | None:
    bpmn_id = getattr(spec, "bpmn_id", None)
    if bpmn_id:
        return str(bpmn_id)
    name = str(getattr(spec, "name", ""))
    for suffix in _INTERNAL_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return None


def outcomes(
    handle: WorkflowHandle, bpmn_ids: Collection[str], user_task_uuids: Collection[str]
) -> list[Outcome]:
    """Every completed run of the elements ``bpmn_ids``, in the order they ran."""
    wanted = set(bpmn_ids)
    user_tasks = set(user_task_uuids)
    found: list[tuple[float, Outcome]] = []
    for task in handle.workflow.get_tasks(state=TaskState.COMPLETED):
        bpmn_id = getattr(task.task_spec, "bpmn_id", None)
        if bpmn_id not in wanted:
            continue
        taken = tuple(
            target
            for child in task.children
            if child.state & _TAKEN and (target := _bpmn_id_of(child.task_spec)) is not None
        )
        ancestor = task.parent
        while ancestor is not None and str(ancestor.id) not in user_tasks:
            ancestor = ancestor.parent
        outcome = Outcome(
            bpmn_id=str(bpmn_id),
            taken=taken,
            data=dict(task.data),
            after_task_uuid=str(ancestor.id) if ancestor is not None else None,
        )
        found.append((float(task.last_state_change or 0), outcome))
    found.sort(key=lambda item: item[0])
    return [outcome for _when, outcome in found]
