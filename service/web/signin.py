"""The one place where a sign-in becomes a session, whatever proved who the person is.

Local passwords (the embedded default and break-glass accounts) and single
sign-on both end here, so that session rules (fresh session id, idle and
absolute limits, a second factor where the role needs one) hold for both.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import redirect, session, url_for
from flask_login import login_user
from werkzeug.wrappers import Response

from service import clock
from service.auth import second_factor, session_limits
from service.people.models import User

# A password sign-in by a role that needs a second factor waits here, not yet
# signed in, until the code is given (or five minutes pass).
PENDING = "second_factor_pending"
PENDING_SECONDS = 5 * 60
SESSION_EPOCH = "session_epoch"


def safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect would help phishing."""
    if not target:
        return url_for("home.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("home.index")
    return target


def complete_sign_in(user: User, method: str, next_url: str | None) -> Response:
    """Start a fresh session for ``user`` proven by ``method`` ("password" or "oidc").

    A password alone is not enough for the roles in
    ``second_factor.SECOND_FACTOR_ROLES``: the session only remembers who is
    half-way and sends them to the code page. Single sign-on leaves the
    second factor to the identity provider.
    """
    if method == "password" and second_factor.required_for(user):
        session.clear()  # nothing of an earlier session survives into the new one
        session[PENDING] = {
            "user_id": user.id,
            "since": clock.now().timestamp(),
            "next": safe_next(next_url),
        }
        return redirect(url_for("second_factor.verify"))
    start_session(user, method)
    return redirect(safe_next(next_url))


def start_session(user: User, method: str) -> None:
    """Sign ``user`` in on a fresh session (no redirect: the caller answers)."""
    session.clear()  # a new session id: no fixation across the sign-in
    login_user(user)
    session.permanent = True
    session["auth_method"] = method
    session[SESSION_EPOCH] = user.session_epoch or 0
    session_limits.start()


def pending_sign_in() -> dict[str, Any] | None:
    """The half-way sign-in of this browser, if there is one and it is not too old."""
    pending = session.get(PENDING)
    if not isinstance(pending, dict) or not isinstance(pending.get("user_id"), int):
        return None
    if clock.now().timestamp() - float(pending.get("since", 0)) > PENDING_SECONDS:
        session.pop(PENDING, None)
        return None
    return pending


def session_is_current(user: User) -> bool:
    """False once the user was signed out everywhere (password changed, second factor reset)."""
    return int(session.get(SESSION_EPOCH, 0)) == (user.session_epoch or 0)
