"""Idle and absolute session timeouts, checked on every request.

A phone left unlocked on a train must not keep a case open for hours: after
``idle`` minutes without a request, or ``absolute`` hours after signing in,
the person signs in again. Times come from the service clock.
"""

from __future__ import annotations

import os
from datetime import timedelta

from flask import Flask, flash, redirect, request, session, url_for
from flask_login import current_user, logout_user
from werkzeug.wrappers import Response

from service import clock
from service.web.translate import _

LOGIN_AT, SEEN_AT = "login_at", "seen_at"


def idle_limit() -> timedelta:
    return timedelta(minutes=int(os.environ.get("TRYGG_SESSION_IDLE_MINUTES", "30")))


def absolute_limit() -> timedelta:
    return timedelta(hours=int(os.environ.get("TRYGG_SESSION_ABSOLUTE_HOURS", "12")))


def start() -> None:
    """Called right after signing in: both clocks start now."""
    now = clock.now().timestamp()
    session[LOGIN_AT] = now
    session[SEEN_AT] = now


def install(app: Flask) -> None:
    @app.before_request
    def enforce_limits() -> Response | None:
        if request.endpoint == "static" or not current_user.is_authenticated:
            return None
        now = clock.now().timestamp()
        login_at = float(session.get(LOGIN_AT, 0))
        seen_at = float(session.get(SEEN_AT, 0))
        expired = (
            now - login_at > absolute_limit().total_seconds()
            or now - seen_at > idle_limit().total_seconds()
        )
        if expired:
            logout_user()
            session.clear()
            flash(_("You were signed out after a while without activity. Sign in again."), "info")
            if request.path.startswith("/api/"):
                return None  # the API answers 401 itself for an anonymous caller
            return redirect(url_for("auth.login", next=request.path))
        session[SEEN_AT] = now
        return None
