"""A script environment that compiles every script and expression with RestrictedPython.

SpiffWorkflow evaluates scripts, gateway conditions, timer expressions and DMN
cells with plain ``eval``/``exec``; its documented hardening (replacing
``__builtins__``) is bypassed by a dunder walk. Here every piece of model code
is compiled with ``compile_restricted`` (which refuses names and attributes
starting with ``_``), runs with guard callbacks and a short allow-list of
built-ins, and can reach nothing else. Each run has a CPU and memory budget
(:mod:`service.engine.script_limits`). The environment is not serialized with
a workflow: :class:`service.engine.runtime.Runner` attaches it after every load.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from types import CodeType
from typing import Any
from zoneinfo import ZoneInfo

from RestrictedPython.compile import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from service import clock
from service.engine.errors import ScriptError
from service.engine.script_limits import (
    LIMITED_BUILTINS,
    LIMITED_GUARDS,
    LimitingTransformer,
    binop,
    budgeted,
    expanded_size,
)

ALLOWED_BUILTINS: dict[str, Any] = {
    "len": len,
    "min": min,
    "max": max,
    "sum": sum,
    "sorted": sorted,
    "any": any,
    "all": all,
    "abs": abs,
    "round": round,
    "range": range,
    "enumerate": enumerate,
    "zip": zip,
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "list": list,
    "dict": dict,
    "set": set,
    "tuple": tuple,
    "isinstance": isinstance,
    "None": None,
    "True": True,
    "False": False,
}

_WRITABLE_TYPES = (dict, list, set)

_INPLACE_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "|=": operator.ior,
    "&=": operator.iand,
}


def _write_guard(obj: Any) -> Any:
    """Allow item assignment on plain containers only (``d['k'] = v``)."""
    if isinstance(obj, _WRITABLE_TYPES):
        return obj
    raise ScriptError(f"Scripts may not modify objects of type {type(obj).__name__}")


def _inplace(op: str, target: Any, value: Any) -> Any:
    if op in {"+=", "*="}:
        return binop(op[0], target, value)
    try:
        return _INPLACE_OPERATORS[op](target, value)
    except KeyError as exc:
        raise ScriptError(f"Operator {op} is not allowed in scripts") from exc


STOCKHOLM = ZoneInfo("Europe/Stockholm")


def stockholm_time(date_text: str, time_text: str = "09:00", days: int = 0) -> str:
    """The ISO 8601 instant (with offset) of a local Stockholm date and time, moved by days.

    Timer expressions need explicit offsets: the engine reads a naive time in
    the server's zone, captured once at import and blind to summer time.
    """
    if not isinstance(date_text, str) or not isinstance(time_text, str):
        raise ScriptError("stockholm_time needs a date text (YYYY-MM-DD) and a time text (HH:MM)")
    local = datetime.combine(
        date.fromisoformat(date_text) + timedelta(days=int(days)),
        time.fromisoformat(time_text),
        tzinfo=STOCKHOLM,
    )
    return local.isoformat()


def office_deadline(hours: float) -> str:
    """ISO time ``hours`` of the security department's office hours from now."""
    from service.workcalendar import WorkCalendar

    return WorkCalendar.from_env().add_working_hours(clock.now(), float(hours)).isoformat()


def working_days_deadline(days: int) -> str:
    """ISO time ``days`` working days from now (same time of day, within office hours)."""
    from service.workcalendar import WorkCalendar

    return WorkCalendar.from_env().add_working_days(clock.now(), int(days)).isoformat()


def next_office_start() -> str:
    """ISO time of now if within office hours, else of the next working morning."""
    from service.workcalendar import WorkCalendar

    return WorkCalendar.from_env().next_office_start(clock.now()).isoformat()


HELPER_FUNCTIONS: dict[str, Any] = {
    "stockholm_time": stockholm_time,
    "office_deadline": office_deadline,
    "working_days_deadline": working_days_deadline,
    "next_office_start": next_office_start,
}


def _restricted_globals() -> dict[str, Any]:
    return {
        **HELPER_FUNCTIONS,
        "__builtins__": {**ALLOWED_BUILTINS, **LIMITED_BUILTINS},
        **LIMITED_GUARDS,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_write_": _write_guard,
        "_inplacevar_": _inplace,
    }


def _raise_compile_errors(errors: Iterable[str], source: str) -> None:
    errs = list(errors)
    if errs:
        raise ScriptError(
            "The model's code was refused by the restricted compiler: "
            + "; ".join(errs)
            + f" (code: {source.strip()[:200]!r})"
        )


@lru_cache(maxsize=2048)
def compile_expression(source: str) -> CodeType:
    result = compile_restricted_eval(source.strip(), "<expression>", policy=LimitingTransformer)
    _raise_compile_errors(result.errors, source)
    assert result.code is not None
    return result.code


@lru_cache(maxsize=2048)
def compile_script(source: str) -> CodeType:
    result = compile_restricted_exec(source, "<script>", policy=LimitingTransformer)
    _raise_compile_errors(result.errors, source)
    assert result.code is not None
    return result.code


# Built-ins that exist in Python but never in model code; naming one is
# refused before deploy so a designer learns of it at once, not at run time.
UNAVAILABLE_BUILTINS = frozenset(
    {
        "open",
        "eval",
        "exec",
        "compile",
        "globals",
        "locals",
        "vars",
        "getattr",
        "setattr",
        "delattr",
        "hasattr",
        "type",
        "input",
        "breakpoint",
        "help",
        "memoryview",
        "object",
        "super",
        "classmethod",
        "staticmethod",
        "property",
        "exit",
        "quit",
        "dir",
        "id",
    }
)


def check_code(source: str, *, expression: bool) -> str | None:
    """Return why ``source`` may not run as model code, or None when it may."""
    try:
        (compile_expression if expression else compile_script)(source)
    except ScriptError as exc:
        return exc.message
    compile_fn = compile_restricted_eval if expression else compile_restricted_exec
    used = set(compile_fn(source.strip() if expression else source, "<check>").used_names)
    # str.format can reach attributes through its format string ("{0.__class__}").
    tree = ast.parse(
        source.strip() if expression else source, mode="eval" if expression else "exec"
    )
    used |= {
        f".{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in {"format", "format_map"}
    }
    banned = sorted(used & (UNAVAILABLE_BUILTINS | {".format", ".format_map"}))
    if banned:
        return (
            f"The code uses {', '.join(banned)}, which model code cannot use. "
            f"Allowed built-ins: {', '.join(sorted(k for k in ALLOWED_BUILTINS if k[0].islower()))}."
        )
    return None


# What a script may leave in task data, per variable, counted as written out.
MAX_OUTPUT = 200_000


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):  # type: ignore[misc]
    """Runs model code compiled by RestrictedPython against the task's data."""

    def __init__(self) -> None:
        super().__init__(_restricted_globals())

    def evaluate(
        self,
        expression: str,
        context: dict[str, Any],
        external_context: dict[str, Any] | None = None,
    ) -> Any:
        scope = _restricted_globals()
        scope.update(external_context or {})
        scope.update(_data_only(context))
        with budgeted():
            return eval(compile_expression(expression), scope)  # noqa: S307 - restricted code

    def execute(
        self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None
    ) -> bool:
        guard_names = set(self.globals)
        scope = _restricted_globals()
        scope.update(external_context or {})
        scope.update(_data_only(context))
        with budgeted():
            exec(compile_script(script), scope)  # noqa: S102 - restricted code
        for key, value in scope.items():
            # Only plain data flows back into task data: not the guards, not
            # functions, not the external context.
            if key in guard_names or key.startswith("_") or callable(value):
                continue
            if external_context and key in external_context:
                continue
            # Only what the script made or replaced is measured: the task's own data was
            # measured when it came in.
            if context.get(key) is not value and expanded_size(value) > MAX_OUTPUT:
                raise ScriptError(
                    f"The script left {key!r} larger than {MAX_OUTPUT:,} characters or items "
                    "when written out; task data must stay small."
                )
            context[key] = value
        for key in [k for k in context if not k.startswith("_") and k not in scope]:
            del context[key]  # the script deleted it
        return True

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> Any:
        raise ScriptError("Service tasks are not available in this installation")


def _data_only(context: dict[str, Any]) -> dict[str, Any]:
    # Keys starting with "_" never reach scripts: they could shadow guards.
    return {k: v for k, v in context.items() if not k.startswith("_")}
