"""Typed wrappers around Flask-Babel and Flask-Login for the views."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask_babel import gettext as _gettext
from flask_login import login_required as _login_required

F = TypeVar("F", bound=Callable[..., Any])


def _(message: str, **variables: Any) -> str:
    """Translate ``message`` (an English msgid) into the request's language."""
    return str(_gettext(message, **variables))


def login_required(view: F) -> F:
    return cast(F, _login_required(view))
