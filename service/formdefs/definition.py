"""A form definition: JSON Schema for the data plus UI hints, checked when loaded."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from service.secrecy.grounds import GROUNDS

DEFAULT_MAX_LENGTH = 10_000
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
FORBIDDEN_NAMES = frozenset({"typename"})
ROLE_IDS = frozenset({"official", "party_office", "security", "security_lead", "tib", "committee"})
OPTION_SOURCES = frozenset({"organisations", "parties"})
STRING_FORMATS = frozenset({"date", "date-time", "time", "email"})
WIDGETS = {
    "string": {"text", "textarea", "radio", "select", "date", "datetime", "time", "email"},
    "integer": {"number", "radio", "select"},
    "boolean": {"yesno", "checkbox"},
    "array": {"checkboxes"},
}
DEFAULT_WIDGET = {"string": "text", "integer": "number", "boolean": "yesno", "array": "checkboxes"}
FORMAT_WIDGET = {"date": "date", "date-time": "datetime", "time": "time", "email": "email"}
# Every key a ui.fields entry may have: an unknown one (a misspelt "secret") is
# refused rather than ignored, since an ignored secrecy mark would be released.
UI_KEYS = frozenset(
    {"label", "help", "widget", "options", "options_source", "show_if", "visible_to", "secret"}
)


class FormDefinitionError(ValueError):
    """A form file that does not follow forms/README.md; the message says where."""


@dataclass(frozen=True)
class ShowIf:
    field: str
    values: tuple[Any, ...]

    def matches(self, value: Any) -> bool:
        return value in self.values

    @property
    def as_attribute(self) -> str:
        """The values as the page's script reads them: JSON texts joined by '|'."""
        return "|".join(json.dumps(v) for v in self.values)


@dataclass(frozen=True, eq=False)
class FieldDef:
    name: str
    type: str  # string | integer | boolean | array
    widget: str
    label: str
    help: str | None
    required: bool
    enum: tuple[Any, ...] | None
    options: dict[str, str]
    options_source: str | None
    min_length: int | None
    max_length: int | None
    minimum: int | None
    maximum: int | None
    min_items: int | None
    max_items: int | None
    format: str | None
    show_if: ShowIf | None
    # Roles that may read the answer afterwards (None: everyone who sees the case).
    visible_to: frozenset[str] | None = None
    # The secrecy provision the answer falls under (service/secrecy/grounds.py), e.g.
    # "OSL 18 kap. 8 §": masked when the case is released (utlämnande).
    secret: str | None = None

    def readable_by(self, roles: frozenset[str]) -> bool:
        return self.visible_to is None or bool(self.visible_to & roles)

    @property
    def is_choice(self) -> bool:
        return self.widget in {"radio", "select", "checkboxes", "yesno"}


@dataclass(frozen=True, eq=False)
class FormDef:
    id: str
    title: str
    description: str | None
    fields: tuple[FieldDef, ...]
    raw: dict[str, Any]

    def field(self, name: str) -> FieldDef | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(f.name for f in self.fields)


def _fail(form_id: str, where: str, message: str) -> FormDefinitionError:
    return FormDefinitionError(f"Form {form_id!r}, {where}: {message}")


def _as_int(value: Any, form_id: str, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(form_id, where, "must be an integer")
    return value


def _field(form_id: str, name: str, prop: Any, ui: Any, required: bool) -> FieldDef:
    where = f"field {name!r}"
    if not FIELD_NAME.match(name) or name in FORBIDDEN_NAMES:
        raise _fail(
            form_id,
            where,
            "field names are lower_snake_case, never 'typename' or starting with '_'",
        )
    if not isinstance(prop, dict) or not isinstance(ui, dict):
        raise _fail(form_id, where, "needs a schema property and a ui.fields entry (objects)")
    unknown = sorted(set(ui) - UI_KEYS)
    if unknown:
        raise _fail(form_id, where, f"unknown ui keys {unknown}; allowed are {sorted(UI_KEYS)}")
    ftype = prop.get("type")
    if ftype not in WIDGETS:
        raise _fail(form_id, where, f"type {ftype!r} is not supported; use {sorted(WIDGETS)}")
    enum: tuple[Any, ...] | None = None
    if ftype == "array":
        items = prop.get("items")
        if not isinstance(items, dict) or items.get("type") != "string" or "enum" not in items:
            raise _fail(form_id, where, "arrays must have items of type string with an enum")
        enum = tuple(items["enum"])
    elif "enum" in prop:
        enum = tuple(prop["enum"])
    fmt = prop.get("format")
    if fmt is not None and (ftype != "string" or fmt not in STRING_FORMATS):
        raise _fail(form_id, where, f"format {fmt!r} is not supported")
    widget = ui.get("widget") or (FORMAT_WIDGET.get(fmt) if fmt else None) or DEFAULT_WIDGET[ftype]
    if widget not in WIDGETS[ftype]:
        raise _fail(form_id, where, f"widget {widget!r} does not fit type {ftype!r}")
    label = ui.get("label")
    if not isinstance(label, str) or not label.strip():
        raise _fail(form_id, where, "ui label is required")
    options_source = ui.get("options_source")
    if options_source is not None and options_source not in OPTION_SOURCES:
        raise _fail(form_id, where, f"unknown options_source {options_source!r}")
    options = ui.get("options") or {}
    if not isinstance(options, dict):
        raise _fail(form_id, where, "ui options must map values to labels")
    if widget in {"radio", "select", "checkboxes"} and enum is None and options_source is None:
        raise _fail(form_id, where, f"widget {widget!r} needs an enum or an options_source")
    if enum is not None:
        missing = [v for v in enum if str(v) not in options]
        if missing:
            raise _fail(form_id, where, f"enum values without a label in ui options: {missing}")
    show_if = None
    if ui.get("show_if") is not None:
        cond = ui["show_if"]
        if not isinstance(cond, dict) or "field" not in cond or not ({"equals", "in"} & set(cond)):
            raise _fail(form_id, where, 'show_if needs {"field": f, "equals": v} or "in": [...]')
        values = tuple(cond["in"]) if "in" in cond else (cond["equals"],)
        show_if = ShowIf(field=str(cond["field"]), values=values)
    visible_to = ui.get("visible_to")
    if visible_to is not None and (
        not isinstance(visible_to, list) or not set(visible_to) <= ROLE_IDS or not visible_to
    ):
        raise _fail(form_id, where, f"visible_to must list role ids from {sorted(ROLE_IDS)}")
    secret = ui.get("secret")
    if secret is not None and (not isinstance(secret, str) or secret not in GROUNDS):
        raise _fail(
            form_id,
            where,
            f"secret {secret!r} is not a known secrecy provision; use one of {sorted(GROUNDS)}",
        )
    max_length = _as_int(prop.get("maxLength"), form_id, where)
    if ftype == "string" and max_length is None:
        max_length = DEFAULT_MAX_LENGTH
    return FieldDef(
        name=name,
        type=ftype,
        widget=widget,
        label=label,
        help=ui.get("help"),
        required=required,
        enum=enum,
        options={str(k): str(v) for k, v in options.items()},
        options_source=options_source,
        min_length=_as_int(prop.get("minLength"), form_id, where),
        max_length=max_length,
        minimum=_as_int(prop.get("minimum"), form_id, where),
        maximum=_as_int(prop.get("maximum"), form_id, where),
        min_items=_as_int(prop.get("minItems"), form_id, where),
        max_items=_as_int(prop.get("maxItems"), form_id, where),
        format=fmt,
        show_if=show_if,
        visible_to=frozenset(visible_to) if visible_to else None,
        secret=secret,
    )


def load_form(raw: Any, expected_id: str | None = None) -> FormDef:
    """Check a parsed form file against the supported subset and build a FormDef."""
    if not isinstance(raw, dict):
        raise FormDefinitionError("A form file must hold a JSON object")
    form_id = raw.get("id")
    if not isinstance(form_id, str) or not form_id:
        raise FormDefinitionError("A form needs an 'id'")
    if expected_id is not None and form_id != expected_id:
        raise _fail(form_id, "id", f"must equal the file name's stem {expected_id!r}")
    title = raw.get("title")
    if not isinstance(title, str) or not title.strip():
        raise _fail(form_id, "title", "a Swedish title is required")
    schema = raw.get("schema")
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise _fail(form_id, "schema", 'must be {"type": "object", ...}')
    if schema.get("additionalProperties", False) is not False:
        raise _fail(form_id, "schema", "additionalProperties must be false")
    props = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    ui = raw.get("ui") or {}
    ui_fields = ui.get("fields") or {}
    order = ui.get("order") or list(props)
    if set(order) != set(props):
        raise _fail(form_id, "ui.order", "must list every schema property exactly once")
    if not required <= set(props):
        raise _fail(
            form_id, "schema.required", f"names unknown fields {sorted(required - set(props))}"
        )
    fields = tuple(
        _field(form_id, name, props[name], ui_fields.get(name), name in required) for name in order
    )
    names = {f.name for f in fields}
    for f in fields:
        if f.show_if and f.show_if.field not in names:
            raise _fail(
                form_id, f"field {f.name!r}", f"show_if refers to unknown {f.show_if.field!r}"
            )
    return FormDef(
        id=form_id, title=title, description=raw.get("description"), fields=fields, raw=raw
    )
