"""Validation findings in the designer's language.

A Finding (service/definitions/validation_rules.py) keeps its English message
for logs and tests, and the N_() template and params it was made from; here
the template is translated and filled in. A param that is itself a finding (a
phrase such as "Path 2 (Threat by e-mail)") is translated the same way, and a
FindingList param becomes its findings' texts joined by "; ". Anything
without a template (an old-style finding, a DefinitionError from elsewhere,
a plain string) is shown as it is.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_babel import gettext

from service.definitions.validation_rules import FindingList


def _param(value: Any) -> Any:
    if isinstance(value, FindingList):
        return "; ".join(localize_finding(f) for f in value)
    if getattr(value, "template", None) is not None:
        text = localize_finding(value)
        element = getattr(value, "element_id", None)
        # The same shape as Finding.__str__, which the English message was made with.
        return f"{element}: {text}" if element else text
    return value


def localize_finding(finding: Any) -> str:
    """The finding's text in the request's language (a Finding, an error, or a string).

    Needs an app or request context for the locale; outside one, Flask-Babel
    returns the English template.
    """
    if finding is None:
        return ""
    if isinstance(finding, str):
        return finding
    template = getattr(finding, "template", None)
    message = getattr(finding, "message", None)
    if template is None:
        return str(message) if message is not None else str(finding)
    params = {key: _param(value) for key, value in (getattr(finding, "params", None) or {}).items()}
    try:
        # gettext without variables returns the translation unformatted; we fill it in
        # ourselves so a param holding "%" cannot upset the formatting.
        return str(gettext(template)) % params
    except (KeyError, TypeError, ValueError):
        # A translation whose placeholders do not match the params: English is better
        # than an error page.
        return str(message) if message is not None else template % params


def register_finding_filter(app: Flask) -> None:
    app.add_template_filter(localize_finding, "finding_text")
