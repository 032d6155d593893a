"""Validate a submitted form server-side with a marshmallow schema built from its definition.

The result carries every declared field (``None`` where a field was hidden or
left empty) so gateway conditions can always name it, and nothing else: keys
the form does not declare never reach task data. Errors are codes with
parameters; the web layer turns them into Swedish sentences.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache
from typing import Any, Protocol

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from service.formdefs.definition import FieldDef, FormDef

IGNORED_KEYS = frozenset({"csrf_token", "action"})
TRUTHY = frozenset({"yes", "true", "on", "1"})
FALSY = frozenset({"no", "false", "off", "0"})
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class FormInput(Protocol):
    def getlist(self, key: str) -> list[str]: ...

    def keys(self) -> Any: ...


@dataclass(frozen=True)
class FieldError:
    field: str
    code: str
    params: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclass
class SubmissionResult:
    data: dict[str, Any]
    errors: list[FieldError]
    values: dict[str, Any]  # what the user typed, to show the form again
    visible: frozenset[str]

    @property
    def ok(self) -> bool:
        return not self.errors


def _format_validator(fmt: str | None) -> Callable[[str], None] | None:
    parsers: dict[str, Callable[[str], object]] = {
        "date": date.fromisoformat,
        "date-time": datetime.fromisoformat,
        "time": time.fromisoformat,
    }
    if fmt in parsers:
        parse = parsers[fmt]

        def check(value: str) -> None:
            try:
                parse(value)
            except ValueError as exc:
                raise ValidationError("bad_format") from exc

        return check
    if fmt == "email":

        def check_email(value: str) -> None:
            if not EMAIL.match(value):
                raise ValidationError("bad_format")

        return check_email
    return None


def _no_control_chars(value: str) -> None:
    if CONTROL_CHARS.search(value):
        raise ValidationError("control_chars")


def _string_validators(f: FieldDef, choices: tuple[Any, ...] | None) -> list[Any]:
    checks: list[Any] = [_no_control_chars]
    if f.min_length is not None or f.max_length is not None:
        checks.append(validate.Length(min=f.min_length, max=f.max_length, error="length"))
    if choices is not None:
        checks.append(validate.OneOf([str(c) for c in choices], error="not_a_choice"))
    fmt_check = _format_validator(f.format)
    if fmt_check:
        checks.append(fmt_check)
    return checks


def _marshmallow_field(f: FieldDef, choices: tuple[Any, ...] | None) -> fields.Field:  # type: ignore[type-arg]
    messages: dict[str, str | list[Any] | dict[Any, Any]] = {
        "required": "required",
        "null": "required",
        "invalid": "invalid",
    }
    if f.type == "string":
        return fields.String(
            required=f.required, validate=_string_validators(f, choices), error_messages=messages
        )
    if f.type == "integer":
        checks: list[Any] = []
        if f.minimum is not None or f.maximum is not None:
            checks.append(validate.Range(min=f.minimum, max=f.maximum, error="range"))
        if choices is not None:
            checks.append(validate.OneOf(list(choices), error="not_a_choice"))
        return fields.Integer(
            required=f.required, strict=False, validate=checks, error_messages=messages
        )
    if f.type == "boolean":
        return fields.Boolean(
            required=f.required and f.widget != "checkbox",
            truthy=set(TRUTHY),
            falsy=set(FALSY),
            error_messages=messages,
        )
    item = fields.String(validate=_string_validators(f, choices), error_messages=messages)
    size = validate.Length(min=f.min_items, max=f.max_items, error="item_count")
    required = f.required or bool(f.min_items)
    return fields.List(item, required=required, validate=size, error_messages=messages)


@lru_cache(maxsize=512)
def _schema_class(form: FormDef, visible: frozenset[str]) -> type[Schema]:
    declared = {f.name: _marshmallow_field(f, f.enum) for f in form.fields if f.name in visible}
    schema_cls = Schema.from_dict(declared, name=f"Form_{form.id}")
    schema_cls.Meta.unknown = RAISE
    return schema_cls


def _coerce(f: FieldDef, raw: Any) -> Any:
    """Best-effort conversion of a raw value, only to decide show_if conditions."""
    if raw is None:
        return None
    if f.type == "boolean":
        text = str(raw).lower()
        return True if text in TRUTHY else False if text in FALSY else None
    if f.type == "integer":
        try:
            return int(raw)
        except (TypeError, ValueError):
            return None
    return raw


def _visible_fields(form: FormDef, raw: Mapping[str, Any]) -> frozenset[str]:
    visible: set[str] = set()
    for f in form.fields:  # ui order: a controller comes before what it controls
        if f.show_if is None:
            visible.add(f.name)
            continue
        controller = form.field(f.show_if.field)
        if controller is None or controller.name not in visible:
            continue
        if f.show_if.matches(_coerce(controller, raw.get(controller.name))):
            visible.add(f.name)
    return frozenset(visible)


def _raw_values(form: FormDef, submitted: FormInput) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    for f in form.fields:
        values = [v.strip() if f.type != "string" else v for v in submitted.getlist(f.name)]
        if f.type == "array":
            items = [v for v in values if v != ""]
            if items:
                raw[f.name] = items
        elif values and values[0].strip() != "":
            raw[f.name] = values[0].replace("\r\n", "\n")
    return raw


def validate_submission(
    form: FormDef,
    submitted: FormInput,
    dynamic_choices: Mapping[str, tuple[Any, ...]] | None = None,
) -> SubmissionResult:
    """Validate ``submitted`` (a request's form multidict) against ``form``.

    ``dynamic_choices`` gives the allowed values of fields with an
    ``options_source`` (e.g. the organisation ids), keyed by the source name.
    """
    dynamic_choices = dynamic_choices or {}
    errors: list[FieldError] = []
    for key in submitted.keys():  # noqa: SIM118 - a MultiDict, not a dict
        if key in IGNORED_KEYS:
            continue
        if key == "typename" or key.startswith("_"):
            errors.append(FieldError(key, "forbidden_key"))
        elif form.field(key) is None:
            errors.append(FieldError(key, "unknown_field"))
    raw = _raw_values(form, submitted)
    visible = _visible_fields(form, raw)
    to_load = {k: v for k, v in raw.items() if k in visible}
    for f in form.fields:
        if f.type == "boolean" and f.widget == "checkbox" and f.name in visible:
            to_load.setdefault(f.name, "no")

    # Fields whose allowed values come from the database get them here.
    dyn = {
        f.name: tuple(dynamic_choices.get(f.options_source or "", ()))
        for f in form.fields
        if f.options_source
    }
    schema_cls = _schema_class(form, visible)
    loaded: dict[str, Any] = {}
    try:
        loaded = schema_cls().load(to_load)
    except ValidationError as exc:
        messages: dict[str, Any] = (
            exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        )
        for name, msgs in messages.items():
            errors.append(_field_error(form, str(name), msgs))
        valid = exc.valid_data
        loaded = dict(valid) if isinstance(valid, dict) else {}
    for name, allowed in dyn.items():
        value = loaded.get(name)
        if name in visible and value is not None and value not in allowed:
            errors.append(FieldError(name, "not_a_choice"))
    data = {f.name: (loaded.get(f.name) if f.name in visible else None) for f in form.fields}
    return SubmissionResult(data=data, errors=_dedupe(errors), values=raw, visible=visible)


def _field_error(form: FormDef, name: str, msgs: Any) -> FieldError:
    f = form.field(name)
    code = _first_code(msgs)
    params: dict[str, Any] = {}
    if f is not None:
        if code == "length":
            params = {"min": f.min_length or 0, "max": f.max_length}
        elif code == "range":
            params = {"min": f.minimum, "max": f.maximum}
        elif code == "item_count":
            params = {"min": f.min_items or 0, "max": f.max_items}
        if code == "required" and f.is_choice:
            code = "choose"
    return FieldError(name, code if f is not None else "unknown_field", params)


def _first_code(msgs: Any) -> str:
    if isinstance(msgs, str):
        return msgs
    if isinstance(msgs, list) and msgs:
        return _first_code(msgs[0])
    if isinstance(msgs, dict) and msgs:
        return _first_code(next(iter(msgs.values())))
    return "invalid"


def _dedupe(errors: list[FieldError]) -> list[FieldError]:
    seen: set[str] = set()
    result = []
    for e in errors:
        if e.field not in seen:
            seen.add(e.field)
            result.append(e)
    return result
