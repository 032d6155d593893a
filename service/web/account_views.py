"""The signed-in person's own account: changing the password."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from service.auth.login import note_attempt, too_many_failures
from service.auth.password_policy import MAX_LENGTH, MIN_LENGTH, set_password
from service.auth.passwords import verify_password
from service.web.request_context import db, services, user
from service.web.signin import start_session
from service.web.translate import _, login_required

bp = Blueprint("account", __name__)


def _page(errors: dict[str, str], status: int = 200) -> tuple[str, int]:
    return (
        render_template(
            "account_password.html", errors=errors, min_length=MIN_LENGTH, max_length=MAX_LENGTH
        ),
        status,
    )


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password() -> Response | tuple[str, int]:
    me = user()
    if not me.password_hash:
        # Single sign-on accounts: the password belongs to the city's identity provider.
        return render_template("account_password.html", errors={}, no_password=True), 200
    if request.method == "GET":
        return _page({})
    session_ = db()
    settings = services().settings
    remote = request.remote_addr or "unknown"
    if too_many_failures(
        session_, me.username, remote, settings.login_max_failures, settings.login_window_seconds
    ):
        error = _(
            "Too many failed attempts. Wait 15 minutes and try again. "
            "If you are in danger now, call 112."
        )
        return _page({"current_password": error}, 429)
    current = request.form.get("current_password", "")
    new = request.form.get("new_password", "")
    again = request.form.get("new_password_again", "")
    errors: dict[str, str] = {}
    if not current:
        errors["current_password"] = _("Enter your current password.")
    elif not verify_password(me.password_hash, current):
        note_attempt(session_, me.username, remote, False)
        errors["current_password"] = _(
            "The current password is wrong. Type the password you signed in with."
        )
    if not new:
        errors["new_password"] = _("Enter a new password.")
    elif new == current:
        errors["new_password"] = _(
            "The new password is the same as the current one. Choose another."
        )
    elif new != again:
        errors["new_password_again"] = _(
            "The two new passwords differ. Type the same password in both fields."
        )
    if errors:
        return _page(errors, 400)
    problems = set_password(session_, me, new, me, how="account_page")
    if problems:
        return _page({"new_password": " ".join(_(p) for p in problems)}, 400)
    # A fresh session in the new epoch: this device stays signed in, every other one is out.
    start_session(me, str(session.get("auth_method", "password")))
    flash(_("Your password is changed. You are signed out on every other device."), "success")
    return redirect(url_for("home.index"))
