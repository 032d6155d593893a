"""Field error codes from the form validator, as Swedish sentences (via the catalog)."""

from __future__ import annotations

from service.formdefs import FieldError, FormDef
from service.web.translate import _


def message_for(form: FormDef, error: FieldError) -> str:
    f = form.field(error.field)
    label = f.label if f is not None else error.field
    code, p = error.code, error.params
    if code == "required":
        return _("Answer the question: %(label)s", label=label)
    if code == "choose":
        return _("Choose an answer: %(label)s", label=label)
    if code == "not_a_choice":
        return _("Choose one of the alternatives shown: %(label)s", label=label)
    if code == "length":
        if p.get("max") and p.get("min"):
            return _(
                "%(label)s must be between %(min)s and %(max)s characters",
                label=label,
                min=p["min"],
                max=p["max"],
            )
        return _("%(label)s can be at most %(max)s characters", label=label, max=p.get("max"))
    if code == "range":
        return _(
            "%(label)s must be a number between %(min)s and %(max)s",
            label=label,
            min=p.get("min"),
            max=p.get("max"),
        )
    if code == "item_count":
        return _("Choose at least %(min)s alternatives: %(label)s", label=label, min=p.get("min"))
    if code == "bad_format":
        if f is not None and f.format == "date":
            return _("Enter a real date, for example 2026-03-27: %(label)s", label=label)
        if f is not None and f.format == "time":
            return _("Enter a time as hours and minutes, for example 14:30: %(label)s", label=label)
        return _("Enter it in the format shown: %(label)s", label=label)
    if code == "control_chars":
        return _("%(label)s contains characters that cannot be saved; remove them", label=label)
    if code == "forbidden_key":
        return _(
            "The form contained a field that is not allowed (%(name)s). Reload the page and try again.",
            name=error.field,
        )
    if code == "unknown_field":
        return _(
            "The form contained an unknown field (%(name)s). Reload the page and try again.",
            name=error.field,
        )
    return _("Check your answer: %(label)s", label=label)
