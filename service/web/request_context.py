"""Per-request access to the services, the database session and the signed-in user."""

from __future__ import annotations

from typing import cast

from flask import current_app, g
from flask_login import current_user
from sqlalchemy.orm import Session

from service.context import Services
from service.people.models import User


def services() -> Services:
    return cast(Services, current_app.extensions["trygg"])


def db() -> Session:
    """The request's one session; committed once, after the view succeeded."""
    if "db_session" not in g:
        g.db_session = services().db.sessions()
    return cast(Session, g.db_session)


def user() -> User:
    return cast(User, current_user._get_current_object())
