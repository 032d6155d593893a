"""The service operations a model may call from a service task, and the engine that offers them.

None of them acts inside the engine. Each validates its parameters and puts a
request in the workflow's outbox, which the service carries out after the
engine steps, in the same transaction (cases/persist.py):

- ``case/start`` (process_id, data): start a linked case about the same person.
- ``notify/send`` (to, topic): tell a role of the case (or its subject) that
  something needs doing; ``topic`` is a key of notify/messages.py, never free text.
- ``alarm/register`` (alarm_id, kind): record that the case's subject holds
  this alarm, so the alarm centre's events find them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine

from service.engine.scripting import RestrictedEnvironment

# Requests made by the workflow currently running in this context (set by
# Runner around engine steps).
outbox: ContextVar[list[dict[str, Any]] | None] = ContextVar("outbox", default=None)

NOTIFY_TARGETS = frozenset(
    {"subject", "official", "party_office", "security", "security_lead", "tib", "committee"}
)
TOPIC_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz_")
ALARM_KINDS = frozenset({"burglar", "personal"})


def _case_start(params: dict[str, Any]) -> str | None:
    process_id, data = params.get("process_id"), params.get("data") or {}
    if not isinstance(process_id, str) or not process_id:
        return "case/start needs a process_id text"
    if not isinstance(data, dict):
        return "case/start needs data as a dict"
    for key in data:
        if not isinstance(key, str) or key.startswith("_") or key == "typename":
            return f"case/start data may not use the key {key!r}"
    try:
        json.dumps(data)
    except (TypeError, ValueError):
        return "case/start data must be plain values (text, numbers, yes/no, lists, dicts)"
    params["data"] = data
    return None


def _notify_send(params: dict[str, Any]) -> str | None:
    to, topic = params.get("to"), params.get("topic")
    if to not in NOTIFY_TARGETS:
        return f"notify/send 'to' must be one of {sorted(NOTIFY_TARGETS)}"
    if not isinstance(topic, str) or not topic or not set(topic) <= TOPIC_CHARS:
        return "notify/send 'topic' must be a message key (lower_snake_case)"
    return None


def _alarm_register(params: dict[str, Any]) -> str | None:
    alarm_id, kind = params.get("alarm_id"), params.get("kind")
    if not isinstance(alarm_id, str) or not alarm_id.strip() or len(alarm_id) > 64:
        return "alarm/register needs an alarm_id text (at most 64 characters)"
    if kind not in ALARM_KINDS:
        return f"alarm/register 'kind' must be one of {sorted(ALARM_KINDS)}"
    params["alarm_id"] = alarm_id.strip()
    return None


OPERATIONS: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "case/start": _case_start,
    "notify/send": _notify_send,
    "alarm/register": _alarm_register,
}


class RestrictedScriptEngine(PythonScriptEngine):  # type: ignore[misc]
    """The engine with the restricted environment and our service operations.

    (Overriding call_service also avoids the base class's broken error path,
    which replaces any service error with ``NameError('script')``.)
    """

    def call_service(self, task: Any, **kwargs: Any) -> str:
        operation = kwargs.get("operation_name")
        check = OPERATIONS.get(str(operation))
        if check is None:
            raise WorkflowTaskException(
                f"Unknown service operation {operation!r}; available: {sorted(OPERATIONS)}.",
                task=task,
            )
        params = {k: v.get("value") for k, v in (kwargs.get("operation_params") or {}).items()}
        problem = check(params)
        if problem:
            raise WorkflowTaskException(problem, task=task)
        collector = outbox.get()
        if collector is None:
            raise WorkflowTaskException(f"{operation} is not available here.", task=task)
        collector.append({"operation": operation, "element": task.task_spec.bpmn_id, **params})
        return json.dumps({"requested": True, "operation": operation})


def make_script_engine() -> PythonScriptEngine:
    return RestrictedScriptEngine(environment=RestrictedEnvironment())
