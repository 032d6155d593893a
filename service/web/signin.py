"""The one place where a sign-in becomes a session, whatever proved who the person is.

Local passwords (the embedded default and break-glass accounts) and single
sign-on both end here, so that session rules (fresh session id, idle and
absolute limits, a second factor where the role needs one) hold for both.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import redirect, session, url_for
from flask_login import login_user
from werkzeug.wrappers import Response

from service.auth import session_limits
from service.people.models import User


def safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect would help phishing."""
    if not target:
        return url_for("home.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("home.index")
    return target


def complete_sign_in(user: User, method: str, next_url: str | None) -> Response:
    """Start a fresh session for ``user`` proven by ``method`` ("password" or "oidc")."""
    session.clear()  # a new session id: no fixation across the sign-in
    login_user(user)
    session.permanent = True
    session["auth_method"] = method
    session_limits.start()
    return redirect(safe_next(next_url))
