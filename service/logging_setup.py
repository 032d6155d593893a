"""Logging for the web app, the worker and the CLI: one JSON object per line, never personal data.

Environment:

* ``TRYGG_LOG_FORMAT`` — ``json`` (the default, everywhere: a log collector
  reads it as it is) or ``text`` (one readable line, for a terminal).
* ``TRYGG_LOG_LEVEL`` — ``INFO`` by default.

What a line may carry is a fixed list of fields (:data:`FIELDS`): a record's
``extra`` outside that list is dropped, so a library that attaches task data
to its records (SpiffWorkflow does at DEBUG) cannot leak it. Exceptions are
logged by type and stack frames only: an exception's message may quote the
data that caused it (a form value, an e-mail address, an SQL parameter), so
it is never written. Records that dump rows or task data (SQLAlchemy's and
SpiffWorkflow's DEBUG output) are refused by the handler whatever the
loggers' levels are set to.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType, TracebackType
from typing import IO, Any

# Every field a log line may have, in output order. Values are numbers, booleans
# or short identifiers (endpoint names, job kinds, BPMN element ids), never text
# a person wrote.
FIELDS = (
    "time",
    "level",
    "logger",
    "message",
    "component",
    "request_id",
    "endpoint",
    "method",
    "status",
    "duration_ms",
    "user_id",
    "instance_id",
    "task_id",
    "job_id",
    "kind",
    "attempts",
    "worker",
    "process_id",
    "version",
    "element",
    "client_id",
    "lateness_s",
    "error_type",
    "error_causes",
    "stack",
)
_EXTRA_FIELDS = frozenset(FIELDS[4:])
# Older call sites name some ids without the suffix.
_ALIASES = {"instance": "instance_id", "job": "job_id", "client": "client_id", "task": "task_id"}
_MAX_STRING = 200

# Loggers whose DEBUG records carry data: SQLAlchemy logs result rows, SpiffWorkflow task data.
_DATA_AT_DEBUG = ("sqlalchemy.engine", "spiff", "SpiffWorkflow")
# Loggers kept at WARNING: their INFO lines repeat what the access log says (werkzeug)
# or are per-statement noise (SQLAlchemy, SpiffWorkflow's task state changes, the PDF
# library's font subsetting on every export).
_QUIET = ("werkzeug", "sqlalchemy", "spiff", "SpiffWorkflow", "fontTools", "fpdf")

_context: ContextVar[Mapping[str, object]] = ContextVar(
    "trygg_log_context", default=MappingProxyType({})
)
ContextProvider = Callable[[], Mapping[str, object]]
_providers: list[ContextProvider] = []


def add_context_provider(provider: ContextProvider) -> None:
    """Fields every record gets while ``provider`` returns them (the web app: request id, user id)."""
    if provider not in _providers:
        _providers.append(provider)


@contextmanager
def bind(**fields: object) -> Iterator[None]:
    """Add fields (instance_id, job_id …) to every record logged inside the block."""
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def _safe_value(value: object) -> object:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | tuple):
        return [_safe_value(v) for v in value[:20]]
    return str(value)[:_MAX_STRING]


def _safe_args(args: Any) -> Any:
    # An exception passed as an argument would print its message: use its type.
    if isinstance(args, tuple):
        return tuple(_type_name(a) if isinstance(a, BaseException) else a for a in args)
    return args


def _type_name(exc: BaseException) -> str:
    cls = type(exc)
    return cls.__name__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _message(record: logging.LogRecord) -> str:
    if isinstance(record.msg, BaseException):
        return _type_name(record.msg)
    try:
        return str(record.msg) % _safe_args(record.args) if record.args else str(record.msg)
    except (TypeError, ValueError):
        return str(record.msg)


ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def exception_fields(exc_info: ExcInfo) -> dict[str, object]:
    """An exception as its type, the types of its causes and its frames: never its message."""
    _type, exc, tb = exc_info
    frames = [f"{f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(tb)]
    causes: list[str] = []
    seen = {id(exc)}
    link = exc.__cause__ or exc.__context__
    while link is not None and id(link) not in seen and len(causes) < 5:
        seen.add(id(link))
        where = traceback.extract_tb(link.__traceback__)
        at = f" at {where[-1].filename}:{where[-1].lineno}" if where else ""
        causes.append(_type_name(link) + at)
        link = link.__cause__ or link.__context__
    fields: dict[str, object] = {"error_type": _type_name(exc), "stack": frames[-30:]}
    if causes:
        fields["error_causes"] = causes
    return fields


def record_fields(record: logging.LogRecord) -> dict[str, object]:
    """The whitelisted fields of a record, with the context's fields and the exception's."""
    fields: dict[str, object] = {
        "time": datetime.fromtimestamp(record.created, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "level": record.levelname,
        "logger": record.name,
        "message": _message(record),
    }
    for provider in _providers:
        try:
            fields.update(provider())
        except Exception:  # noqa: S112 - a context provider must never stop a log line
            continue
    fields.update(_context.get())
    for key, value in record.__dict__.items():
        name = _ALIASES.get(key, key)
        if name in _EXTRA_FIELDS:
            fields[name] = value
    if record.exc_info and record.exc_info[1] is not None:
        fields.update(exception_fields(record.exc_info))
    elif record.stack_info:
        fields["stack"] = record.stack_info.splitlines()[-30:]
    ordered = {key: _safe_value(fields[key]) for key in FIELDS if fields.get(key) is not None}
    return ordered


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(record_fields(record), ensure_ascii=False, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    """The same fields on one readable line, for a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        fields = record_fields(record)
        head = f"{fields.pop('time')} {fields.pop('level'):<7} {fields.pop('logger')}: {fields.pop('message')}"
        stack = fields.pop("stack", None)
        rest = " ".join(f"{k}={v}" for k, v in fields.items())
        line = f"{head} {rest}" if rest else head
        if isinstance(stack, list):
            line += "".join(f"\n    {frame}" for frame in stack)
        return line


class _RefuseDataRecords(logging.Filter):
    """Drop DEBUG records of the loggers that dump rows or task data at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.INFO:
            return True
        return not any(
            record.name == prefix or record.name.startswith(prefix + ".")
            for prefix in _DATA_AT_DEBUG
        )


class _TryggHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler :func:`configure` installs (found again by its class)."""


class _CurrentStderr:
    """Whatever ``sys.stderr`` is when a line is written (test runners swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure(
    component: str,
    *,
    fmt: str | None = None,
    level: str | int | None = None,
    stream: IO[str] | None = None,
    force: bool = False,
) -> logging.Handler:
    """Install the service's log handler on the root logger (once per process unless ``force``).

    ``component`` (web, worker, cli) is set on every call: a forked gunicorn
    worker inherits the master's handler and only says that it serves the web.
    """
    _set_component(component)
    root = logging.getLogger()
    existing = [h for h in root.handlers if isinstance(h, _TryggHandler)]
    if existing and not force:
        return existing[0]
    for handler in existing:
        root.removeHandler(handler)
    chosen = (fmt or os.environ.get("TRYGG_LOG_FORMAT") or "json").strip().lower()
    handler = _TryggHandler(stream or _CurrentStderr())
    handler.setFormatter(TextFormatter() if chosen == "text" else JsonFormatter())
    handler.addFilter(_RefuseDataRecords())
    root.addHandler(handler)
    resolved = level if level is not None else os.environ.get("TRYGG_LOG_LEVEL", "INFO")
    root.setLevel(resolved.upper() if isinstance(resolved, str) else resolved)
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler


_component = ""


def _set_component(component: str) -> None:
    global _component
    _component = component


def _component_field() -> Mapping[str, object]:
    return {"component": _component} if _component else {}


add_context_provider(_component_field)
