"""The code step of a password sign-in, enrolment of an authenticator app, and the admin reset.

Every page here starts from the half-way sign-in that complete_sign_in
(service/web/signin.py) leaves in the session; without one (or after five
minutes) the person is sent back to the password page.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user
from markupsafe import Markup
from werkzeug.wrappers import Response

from service import clock
from service.audit.service import record
from service.auth import second_factor
from service.auth.login import note_attempt, too_many_failures
from service.crypto import cipher
from service.errors import N_, Forbidden, NotFound
from service.people.models import Role, User
from service.web.request_context import db, services
from service.web.request_context import user as current
from service.web.signin import PENDING, pending_sign_in, start_session
from service.web.translate import _, login_required

bp = Blueprint("second_factor", __name__)

Page = str | Response | tuple[str, int]


def _start_over() -> Response:
    session.pop(PENDING, None)
    flash(_("The sign-in took too long or was interrupted. Sign in again."), "info")
    return redirect(url_for("auth.login"))


def _pending_user() -> tuple[dict[str, Any], User] | None:
    pending = pending_sign_in()
    if pending is None:
        return None
    found = db().get(User, pending["user_id"])
    if found is None or not found.active:
        return None
    return pending, found


def _remote() -> str:
    return request.remote_addr or "unknown"


def _throttled(account: User) -> bool:
    settings = services().settings
    return too_many_failures(
        db(),
        account.username,
        _remote(),
        settings.login_max_failures,
        settings.login_window_seconds,
    )


def _too_many() -> str:
    return _(
        "Too many failed attempts. Wait 15 minutes and try again. "
        "If you are in danger now, call 112."
    )


def _throttled_page(template: str, **context: Any) -> tuple[str, int]:
    return render_template(template, error=_too_many(), **context), 429


@bp.route("/login/totp", methods=["GET", "POST"])
def verify() -> Page:
    if current_user.is_authenticated and PENDING not in session:
        return redirect(url_for("home.index"))
    found = _pending_user()
    if found is None:
        return _start_over()
    pending, account = found
    session_ = db()
    factor = second_factor.enabled_factor(session_, account.id)
    if factor is None:
        return redirect(url_for("second_factor.enrol"))
    if request.method == "GET":
        return render_template("second_factor.html", error=None)
    if _throttled(account):
        record(session_, None, "login.throttled", username=account.username)
        return _throttled_page("second_factor.html")
    code = request.form.get("code", "")
    if not second_factor.clean_code(code):
        error = _("Enter the six-digit code from the authenticator app on your phone.")
        return render_template("second_factor.html", error=error), 400
    remaining = None
    if second_factor.looks_like_totp(code):
        ok, method = second_factor.accept_code(session_, factor, code), "password+totp"
    else:
        use = second_factor.use_recovery_code(session_, account, code)
        ok, method, remaining = use.accepted, "password+recovery_code", use.remaining
    note_attempt(session_, account.username, _remote(), ok)
    if not ok:
        record(session_, None, "login.second_factor_failed", username=account.username)
        error = _(
            "The code is wrong or has already been used. Wait for the app to show a new "
            "code and enter that one, or use one of your recovery codes."
        )
        return render_template("second_factor.html", error=error), 401
    record(session_, account, "login.second_factor_succeeded", method=method)
    next_url = str(pending.get("next") or url_for("home.index"))
    start_session(account, method)
    if remaining is not None:
        flash(
            _(
                "You signed in with a recovery code. %(count)s unused codes remain. "
                "Lost your phone? Ask an administrator to reset your second factor.",
                count=remaining,
            ),
            "info",
        )
    return redirect(next_url)


def _enrolment_secret(pending: dict[str, Any]) -> str:
    """This sign-in's new secret, kept encrypted in the session until it is confirmed.

    A new sign-in gets a new secret: a secret shown to someone else who
    started enrolling earlier with the same password is never enabled.
    """
    stored = pending.get("secret")
    if isinstance(stored, str):
        return cipher().decrypt_text(stored)
    secret = second_factor.new_secret()
    session[PENDING] = {**pending, "secret": cipher().encrypt_text(secret)}
    return secret


def _enrol_page(account: User, secret: str, error: str | None) -> str:
    uri = second_factor.provisioning_uri(secret, account.username)
    return render_template(
        "second_factor_enrol.html",
        error=error,
        secret=second_factor.grouped(secret),
        uri=uri,
        qr=Markup(second_factor.qr_svg(uri)),  # noqa: S704 - segno's own SVG markup, no input in it but the URI
    )


@bp.route("/login/totp/enrol", methods=["GET", "POST"])
def enrol() -> Page:
    if current_user.is_authenticated and PENDING not in session:
        return redirect(url_for("home.index"))
    found = _pending_user()
    if found is None:
        return _start_over()
    pending, account = found
    session_ = db()
    if second_factor.enabled_factor(session_, account.id) is not None:
        return redirect(url_for("second_factor.verify"))
    secret = _enrolment_secret(pending)
    if request.method == "GET":
        return _enrol_page(account, secret, None)
    if _throttled(account):
        record(session_, None, "login.throttled", username=account.username)
        return _enrol_page(account, secret, _too_many()), 429
    code = request.form.get("code", "")
    counter = (
        second_factor.matching_counter(secret, code, clock.now())
        if second_factor.looks_like_totp(code)
        else None
    )
    note_attempt(session_, account.username, _remote(), counter is not None)
    if counter is None:
        record(session_, None, "login.second_factor_failed", username=account.username)
        error = _(
            "The code does not match. Check that the app shows Trygg i uppdraget and enter "
            "the six digits it shows now."
        )
        return _enrol_page(account, secret, error), 400
    codes = second_factor.enable(session_, account, secret, counter)
    record(session_, account, "login.second_factor_succeeded", method="enrolment")
    next_url = str(pending.get("next") or url_for("home.index"))
    start_session(account, "password+totp")
    # Shown in this answer only: a reload cannot show the codes again.
    return render_template("second_factor_recovery.html", codes=codes, next_url=next_url)


@bp.route("/administration/users/<int:user_id>/second-factor/reset", methods=["POST"])
@login_required
def reset(user_id: int) -> Response:
    me = current()
    if Role.ADMIN not in me.roles:
        raise Forbidden(N_("This page is for administrators."))
    session_ = db()
    account = session_.get(User, user_id)
    if account is None:
        raise NotFound(N_("The user does not exist."))
    had = second_factor.reset(session_, me, account)
    if had:
        flash(
            _(
                "The second factor of %(name)s is removed and they are signed out. "
                "They set up a new one at their next sign-in.",
                name=account.display_name,
            ),
            "success",
        )
    else:
        flash(
            _("%(name)s had no second factor. They are signed out.", name=account.display_name),
            "info",
        )
    return redirect(url_for("home.administration"))


@bp.app_context_processor
def second_factor_globals() -> dict[str, Any]:
    def second_factor_user_ids() -> set[int]:
        return second_factor.users_with_second_factor(db())

    return {
        "second_factor_user_ids": second_factor_user_ids,
        "second_factor_roles": {role.value for role in second_factor.SECOND_FACTOR_ROLES},
    }
