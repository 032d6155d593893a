"""Form answers as JSON, checked by the same validator as the web forms; forms as JSON.

The validator reads a posted form (text values, one list per key), so a JSON
object is handed to it as one: the web's spellings stay valid ("yes" for a
boolean, "3" for an integer) and JSON's own types are accepted beside them. A
value of a type the field can never hold (an object, a number for a text) is
refused here, before the validator would have seen a text that looks right.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from service.api.problems import ApiProblem
from service.cases.service import FormInvalid, validate_form
from service.formdefs import FieldDef, FieldError, FormDef

# What option_sources() gives: per source, the (value, label) of each choice.
OptionSources = Mapping[str, list[tuple[str, str]]]


class JsonAnswers:
    """A JSON object of answers behind the posted-form interface the validator reads."""

    def __init__(self, values: dict[str, list[str]]) -> None:
        self._values = values

    def getlist(self, key: str) -> list[str]:
        return list(self._values.get(key, []))

    def keys(self) -> list[str]:
        return list(self._values)


def _as_text(f: FieldDef | None, value: Any) -> list[str] | None:
    """The value as the form would have posted it; None if the field cannot hold it."""
    if f is None:  # unknown keys: the validator names them, whatever they hold
        return []
    if f.type == "array":
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return list(value)
        return None
    if f.type == "boolean" and isinstance(value, bool):
        return ["yes" if value else "no"]
    if f.type == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return [str(value)]
    if isinstance(value, str):
        return [value]
    return None


def to_form_input(form: FormDef, data: Mapping[str, Any]) -> tuple[JsonAnswers, list[FieldError]]:
    values: dict[str, list[str]] = {}
    wrong_type: list[FieldError] = []
    for key, value in data.items():
        if value is None:  # null is an unanswered question, as an empty input is
            values[key] = []
            continue
        text = _as_text(form.field(key), value)
        if text is None:
            wrong_type.append(FieldError(key, "invalid"))
        else:
            values[key] = text
    return JsonAnswers(values), wrong_type


def invalid_answers(errors: list[FieldError]) -> ApiProblem:
    by_field: dict[str, list[str]] = {}
    params: dict[str, dict[str, Any]] = {}
    for error in errors:
        by_field.setdefault(error.field, []).append(error.code)
        if error.params:
            params[error.field] = dict(error.params)
    return ApiProblem(
        400,
        "The answers are not valid. Fix these fields: " + ", ".join(sorted(by_field)) + ".",
        errors=by_field,
        error_params=params,
    )


def submission(session: Session, form: FormDef | None, data: Mapping[str, Any]) -> JsonAnswers:
    """The answers, for start_case or complete_task to validate as they do the web's.

    A value of the wrong type is refused here, together with whatever else the
    validator finds, so one answer names every field to fix. A step without a
    form takes no answers: any key is an unknown field.
    """
    if form is None:
        if data:
            raise invalid_answers([FieldError(key, "unknown_field") for key in data])
        return JsonAnswers({})
    submitted, wrong_type = to_form_input(form, data)
    if wrong_type:
        typed = {e.field for e in wrong_type}
        try:
            validate_form(session, form, submitted)
            others: list[FieldError] = []
        except FormInvalid as invalid:
            others = [e for e in invalid.errors if e.field not in typed]
        raise invalid_answers(wrong_type + others)
    return submitted


# -- forms as JSON -----------------------------------------------------------------


def _choices(f: FieldDef, sources: OptionSources) -> list[dict[str, Any]] | None:
    if f.options_source:
        options = sources.get(f.options_source, [])
        # Option sources are database ids: the value is what the field's type holds.
        return [
            {"value": int(value) if f.type == "integer" else value, "label": label}
            for value, label in options
        ]
    if f.enum is not None:
        return [{"value": v, "label": f.options.get(str(v), str(v))} for v in f.enum]
    return None


def field_document(f: FieldDef, sources: OptionSources) -> dict[str, Any]:
    return {
        "name": f.name,
        "type": f.type,
        "widget": f.widget,
        "label": f.label,
        "help": f.help,
        "required": f.required,
        "enum": list(f.enum) if f.enum is not None else None,
        "choices": _choices(f, sources),
        "options_source": f.options_source,
        "min_length": f.min_length,
        "max_length": f.max_length,
        "minimum": f.minimum,
        "maximum": f.maximum,
        "min_items": f.min_items,
        "max_items": f.max_items,
        "format": f.format,
        "show_if": (
            {"field": f.show_if.field, "values": list(f.show_if.values)} if f.show_if else None
        ),
        "visible_to": sorted(f.visible_to) if f.visible_to is not None else None,
    }


def form_document(form: FormDef, sources: OptionSources) -> dict[str, Any]:
    """The form as a client needs it to ask the questions; ``sources`` from option_sources()."""
    return {
        "id": form.id,
        "title": form.title,
        "description": form.description,
        "fields": [field_document(f, sources) for f in form.fields],
    }
