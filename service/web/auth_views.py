"""Sign in and out, and the language choice."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import logout_user
from werkzeug.wrappers import Response

from service.auth.login import attempt_login
from service.i18n import LANGUAGES
from service.sso.local_login import password_allowed
from service.web.request_context import db, services
from service.web.signin import complete_sign_in, safe_next
from service.web.translate import _, login_required

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    error = None
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "")
        password = request.form.get("password", "")
        if not username.strip() or not password:
            error = _("Enter both your username and your password.")
        else:
            settings = services().settings
            outcome = attempt_login(
                db(),
                username,
                password,
                request.remote_addr or "unknown",
                settings.login_max_failures,
                settings.login_window_seconds,
                password_allowed=lambda account: password_allowed(settings, account),
            )
            if outcome.throttled:
                error = _(
                    "Too many failed attempts. Wait 15 minutes and try again. "
                    "If you are in danger now, call 112."
                )
                return render_template("login.html", error=error, username=username), 429
            if outcome.user is None:
                error = _("The username or password is wrong. Check them and try again.")
            else:
                return complete_sign_in(outcome.user, "password", request.args.get("next"))
        return render_template("login.html", error=error, username=username), 401
    return render_template("login.html", error=error, username=username)


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/language", methods=["POST"])
def language() -> Response:
    lang = request.form.get("lang", "sv")
    if lang in LANGUAGES:
        session["lang"] = lang
    return redirect(safe_next(request.form.get("next")))
