"""What a template needs to render a form definition: fields, options, values, errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.formdefs import FieldDef, FieldError, FormDef
from service.people.models import Organisation, Party
from service.web.dates import day
from service.web.form_errors import message_for
from service.web.translate import _


@dataclass
class FormView:
    form: FormDef
    values: dict[str, Any]
    errors: dict[str, str]
    options: dict[str, list[tuple[str, str]]]

    def error_list(self) -> list[tuple[str, str]]:
        """(field, message) in the form's order, for the error summary."""
        ordered = [(f.name, self.errors[f.name]) for f in self.form.fields if f.name in self.errors]
        extra = [(k, v) for k, v in self.errors.items() if self.form.field(k) is None]
        return ordered + extra

    def choices(self, f: FieldDef) -> list[tuple[str, str]]:
        if f.options_source:
            return self.options.get(f.options_source, [])
        if f.enum is not None:
            return [(str(v), f.options.get(str(v), str(v))) for v in f.enum]
        return []

    def is_selected(self, f: FieldDef, value: str) -> bool:
        current = self.values.get(f.name)
        if isinstance(current, list):
            return value in current
        return current is not None and str(current) == value


def option_sources(session: Session) -> dict[str, list[tuple[str, str]]]:
    orgs = session.scalars(select(Organisation).order_by(Organisation.name))
    parties = session.scalars(select(Party).order_by(Party.name))
    return {
        "organisations": [(str(o.id), o.name) for o in orgs],
        "parties": [(str(p.id), p.name) for p in parties],
    }


def form_view(
    session: Session,
    form: FormDef,
    values: dict[str, Any] | None = None,
    errors: list[FieldError] | None = None,
) -> FormView:
    return FormView(
        form=form,
        values=values or {},
        errors={e.field: message_for(form, e) for e in errors or []},
        options=option_sources(session),
    )


def prefill(form: FormDef, data: dict[str, Any]) -> dict[str, Any]:
    """Answers the case already holds, as the form's inputs expect them.

    Lets a person check and correct what an earlier step or a linked case
    passed on, instead of typing it again.
    """
    values: dict[str, Any] = {}
    for f in form.fields:
        value = data.get(f.name)
        if value is None:
            continue
        if isinstance(value, bool):
            values[f.name] = "yes" if value else "no"
        elif isinstance(value, list):
            values[f.name] = [str(v) for v in value]
        elif isinstance(value, (str, int, float)):
            values[f.name] = str(value)
    return values


def display_value(
    form: FormDef | None, name: str, value: Any, options: dict[str, list[tuple[str, str]]]
) -> str:
    """A submitted value as the person would read it (labels, Ja/Nej)."""
    if value is None or value == "" or value == []:
        return "–"
    f = form.field(name) if form is not None else None
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if f is None:
        return str(value)
    if f.options_source:
        labels = dict(options.get(f.options_source, []))
        return labels.get(str(value), str(value))
    if isinstance(value, list):
        return ", ".join(f.options.get(str(v), str(v)) for v in value)
    if f.widget == "date":
        return day(value)  # "5 mars 2026", not "2026-03-05"
    return f.options.get(str(value), str(value))
