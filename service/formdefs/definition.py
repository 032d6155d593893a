"""A form definition: JSON Schema for the data plus UI hints, checked when loaded."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from service.errors import N_
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
    """A form file that does not follow forms/README.md; the message says where.

    message is English; template (an N_() msgid with %(name)s placeholders)
    and params let the designer pages show it translated.
    """

    def __init__(
        self, message: str, *, template: str | None = None, params: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.template = template
        self.params: dict[str, Any] = dict(params or {})


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


def _fail(template: str, **params: Any) -> FormDefinitionError:
    """The error from an N_() template naming the form (and field) it concerns."""
    return FormDefinitionError(template % params, template=template, params=params)


def _names(values: Any) -> str:
    """A list of values or ids as one param, written as before: ['a', 'b']."""
    return str(list(values))


def _as_int(value: Any, form_id: str, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(
            N_("Form '%(form)s', field '%(field)s': must be an integer"), form=form_id, field=name
        )
    return value


def _field(form_id: str, name: str, prop: Any, ui: Any, required: bool) -> FieldDef:
    where = {"form": form_id, "field": name}
    if not FIELD_NAME.match(name) or name in FORBIDDEN_NAMES:
        raise _fail(
            N_(
                "Form '%(form)s', field '%(field)s': field names are lower_snake_case, "
                "never 'typename' or starting with '_'"
            ),
            **where,
        )
    if not isinstance(prop, dict) or not isinstance(ui, dict):
        raise _fail(
            N_(
                "Form '%(form)s', field '%(field)s': needs a schema property and a ui.fields "
                "entry (objects)"
            ),
            **where,
        )
    unknown = sorted(set(ui) - UI_KEYS)
    if unknown:
        raise _fail(
            N_(
                "Form '%(form)s', field '%(field)s': unknown ui keys %(unknown)s; "
                "allowed are %(allowed)s"
            ),
            unknown=_names(unknown),
            allowed=_names(sorted(UI_KEYS)),
            **where,
        )
    ftype = prop.get("type")
    if ftype not in WIDGETS:
        raise _fail(
            N_(
                "Form '%(form)s', field '%(field)s': type %(type)s is not supported; "
                "use %(allowed)s"
            ),
            type=repr(ftype),
            allowed=_names(sorted(WIDGETS)),
            **where,
        )
    enum: tuple[Any, ...] | None = None
    if ftype == "array":
        items = prop.get("items")
        if not isinstance(items, dict) or items.get("type") != "string" or "enum" not in items:
            raise _fail(
                N_(
                    "Form '%(form)s', field '%(field)s': arrays must have items of type "
                    "string with an enum"
                ),
                **where,
            )
        enum = tuple(items["enum"])
    elif "enum" in prop:
        enum = tuple(prop["enum"])
    fmt = prop.get("format")
    if fmt is not None and (ftype != "string" or fmt not in STRING_FORMATS):
        raise _fail(
            N_("Form '%(form)s', field '%(field)s': format %(format)s is not supported"),
            format=repr(fmt),
            **where,
        )
    widget = ui.get("widget") or (FORMAT_WIDGET.get(fmt) if fmt else None) or DEFAULT_WIDGET[ftype]
    if widget not in WIDGETS[ftype]:
        raise _fail(
            N_(
                "Form '%(form)s', field '%(field)s': widget %(widget)s does not fit type '%(type)s'"
            ),
            widget=repr(widget),
            type=ftype,
            **where,
        )
    label = ui.get("label")
    if not isinstance(label, str) or not label.strip():
        raise _fail(N_("Form '%(form)s', field '%(field)s': ui label is required"), **where)
    options_source = ui.get("options_source")
    if options_source is not None and options_source not in OPTION_SOURCES:
        raise _fail(
            N_("Form '%(form)s', field '%(field)s': unknown options_source %(source)s"),
            source=repr(options_source),
            **where,
        )
    options = ui.get("options") or {}
    if not isinstance(options, dict):
        raise _fail(
            N_("Form '%(form)s', field '%(field)s': ui options must map values to labels"),
            **where,
        )
    if widget in {"radio", "select", "checkboxes"} and enum is None and options_source is None:
        raise _fail(
            N_(
                "Form '%(form)s', field '%(field)s': widget '%(widget)s' needs an enum "
                "or an options_source"
            ),
            widget=widget,
            **where,
        )
    if enum is not None:
        missing = [v for v in enum if str(v) not in options]
        if missing:
            raise _fail(
                N_(
                    "Form '%(form)s', field '%(field)s': enum values without a label in "
                    "ui options: %(missing)s"
                ),
                missing=_names(missing),
                **where,
            )
    show_if = None
    if ui.get("show_if") is not None:
        cond = ui["show_if"]
        if not isinstance(cond, dict) or "field" not in cond or not ({"equals", "in"} & set(cond)):
            raise _fail(
                N_(
                    "Form '%(form)s', field '%(field)s': show_if needs "
                    '{"field": f, "equals": v} or "in": [...]'
                ),
                **where,
            )
        values = tuple(cond["in"]) if "in" in cond else (cond["equals"],)
        show_if = ShowIf(field=str(cond["field"]), values=values)
    visible_to = ui.get("visible_to")
    if visible_to is not None and (
        not isinstance(visible_to, list) or not set(visible_to) <= ROLE_IDS or not visible_to
    ):
        raise _fail(
            N_("Form '%(form)s', field '%(field)s': visible_to must list role ids from %(roles)s"),
            roles=_names(sorted(ROLE_IDS)),
            **where,
        )
    secret = ui.get("secret")
    if secret is not None and (not isinstance(secret, str) or secret not in GROUNDS):
        raise _fail(
            N_(
                "Form '%(form)s', field '%(field)s': secret %(secret)s is not a known "
                "secrecy provision; use one of %(grounds)s"
            ),
            secret=repr(secret),
            grounds=_names(sorted(GROUNDS)),
            **where,
        )
    max_length = _as_int(prop.get("maxLength"), form_id, name)
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
        min_length=_as_int(prop.get("minLength"), form_id, name),
        max_length=max_length,
        minimum=_as_int(prop.get("minimum"), form_id, name),
        maximum=_as_int(prop.get("maximum"), form_id, name),
        min_items=_as_int(prop.get("minItems"), form_id, name),
        max_items=_as_int(prop.get("maxItems"), form_id, name),
        format=fmt,
        show_if=show_if,
        visible_to=frozenset(visible_to) if visible_to else None,
        secret=secret,
    )


def load_form(raw: Any, expected_id: str | None = None) -> FormDef:
    """Check a parsed form file against the supported subset and build a FormDef."""
    if not isinstance(raw, dict):
        raise _fail(N_("A form file must hold a JSON object"))
    form_id = raw.get("id")
    if not isinstance(form_id, str) or not form_id:
        raise _fail(N_("A form needs an 'id'"))
    if expected_id is not None and form_id != expected_id:
        raise _fail(
            N_("Form '%(form)s', id: must equal the file name's stem '%(expected)s'"),
            form=form_id,
            expected=expected_id,
        )
    title = raw.get("title")
    if not isinstance(title, str) or not title.strip():
        raise _fail(N_("Form '%(form)s', title: a Swedish title is required"), form=form_id)
    schema = raw.get("schema")
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise _fail(N_('Form \'%(form)s\', schema: must be {"type": "object", ...}'), form=form_id)
    if schema.get("additionalProperties", False) is not False:
        raise _fail(N_("Form '%(form)s', schema: additionalProperties must be false"), form=form_id)
    props = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    ui = raw.get("ui") or {}
    ui_fields = ui.get("fields") or {}
    order = ui.get("order") or list(props)
    if set(order) != set(props):
        raise _fail(
            N_("Form '%(form)s', ui.order: must list every schema property exactly once"),
            form=form_id,
        )
    if not required <= set(props):
        raise _fail(
            N_("Form '%(form)s', schema.required: names unknown fields %(fields)s"),
            form=form_id,
            fields=_names(sorted(required - set(props))),
        )
    fields = tuple(
        _field(form_id, name, props[name], ui_fields.get(name), name in required) for name in order
    )
    names = {f.name for f in fields}
    for f in fields:
        if f.show_if and f.show_if.field not in names:
            raise _fail(
                N_("Form '%(form)s', field '%(field)s': show_if refers to unknown '%(other)s'"),
                form=form_id,
                field=f.name,
                other=f.show_if.field,
            )
    return FormDef(
        id=form_id, title=title, description=raw.get("description"), fields=fields, raw=raw
    )
