"""Sign in with the city's account (OpenID Connect): off, and 404, unless TRYGG_OIDC_ISSUER is set.

Nothing from the provider (codes, tokens, claims) is logged; refusals are
audited by reason only.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from flask import Blueprint, Flask, abort, render_template, request, session, url_for
from flask.blueprints import BlueprintSetupState
from joserfc.errors import JoseError
from werkzeug.wrappers import Response

from service import clock
from service.audit.service import record
from service.sso.accounts import SignInRefused
from service.sso.client import PROVIDER, SsoRuntime, install, runtime
from service.sso.local_login import local_login_mode
from service.sso.settings import LocalLogin
from service.web.request_context import db, services
from service.web.signin import complete_sign_in, safe_next
from service.web.translate import _

log = logging.getLogger(__name__)
bp = Blueprint("sso", __name__)

NEXT_KEY, STARTED_KEY = "sso_next", "sso_started_at"
# The provider's sign-in page may take a while (a second factor), but an
# answer older than this belongs to an abandoned attempt.
MAX_FLOW_SECONDS = 600


@bp.record_once
def _install(state: BlueprintSetupState) -> None:
    app = cast(Flask, state.app)
    install(app, app.extensions["trygg"].settings)


@bp.app_context_processor
def _login_page_globals() -> dict[str, Any]:
    return {
        "sso_enabled": runtime() is not None,
        "password_login_open": local_login_mode(services().settings) is not LocalLogin.OFF,
    }


def _enabled() -> SsoRuntime:
    found = runtime()
    if found is None:
        abort(404)
    return found


def _redirect_uri(sso: SsoRuntime) -> str:
    path = url_for("sso.callback")
    if sso.settings.base_url:
        return sso.settings.base_url + path
    return url_for("sso.callback", _external=True)


# reason -> (status, title, message, offer to try again)
def _page(reason: str) -> tuple[str, int]:
    pages: dict[str, tuple[int, str, str, bool]] = {
        "denied": (
            401,
            _("Sign-in cancelled"),
            _("The sign-in was cancelled at the city's sign-in service, so you are not signed in."),
            True,
        ),
        "bad_state": (
            400,
            _("Sign-in could not be completed"),
            _(
                "The answer from the sign-in service did not belong to a sign-in started in this "
                "browser. That happens if you used an old link or another window. Start again "
                "from the sign-in page."
            ),
            True,
        ),
        "expired": (
            400,
            _("The sign-in took too long"),
            _("The sign-in took too long and has expired. Start again from the sign-in page."),
            True,
        ),
        "invalid_token": (
            401,
            _("Sign-in could not be completed"),
            _(
                "The answer from the city's sign-in service could not be verified, so you were "
                "not signed in. Try again. If it happens again, contact support."
            ),
            True,
        ),
        "provider_refused": (
            400,
            _("Sign-in could not be completed"),
            _(
                "The city's sign-in service could not complete the sign-in. Try again. If it "
                "happens again, contact support."
            ),
            True,
        ),
        "provider_error": (
            502,
            _("The sign-in service is not answering"),
            _(
                "The city's sign-in service did not answer as it should. Try again in a moment, "
                "or sign in later."
            ),
            True,
        ),
        "mfa_required": (
            401,
            _("Two-step sign-in needed"),
            _(
                "Your role needs a sign-in in two steps. Sign in again at the city's sign-in "
                "service and choose a way with two steps, such as a security key or an app."
            ),
            True,
        ),
        "inactive": (
            403,
            _("Your account is turned off"),
            _("Your account in this service is turned off. Contact an administrator."),
            False,
        ),
        "conflicting_groups": (
            403,
            _("Your groups do not fit together"),
            _(
                "Your groups in the city's directory give more than one party or organisation. "
                "Ask an administrator to correct your groups, then sign in again."
            ),
            False,
        ),
        "group_map_mismatch": (
            403,
            _("The sign-in is wrongly set up"),
            _(
                "Your groups could not be read because the service is wrongly set up. Contact an "
                "administrator."
            ),
            False,
        ),
        "busy": (
            409,
            _("Sign-in could not be completed"),
            _("You were signing in twice at the same time. Start again from the sign-in page."),
            True,
        ),
    }
    status, title, message, retry = pages[reason]
    body = render_template("sso_error.html", title=title, message=message, retry=retry)
    return body, status


def _refuse(reason: str, user_id: int | None = None) -> tuple[str, int]:
    """Forget the attempt, audit it by reason only (no claims) and explain.

    Only a sign-in this browser really started is audited: a bare request to
    the callback must not be able to fill the append-only trail.
    """
    started = session.pop(STARTED_KEY, None) is not None
    session.pop(NEXT_KEY, None)
    for key in [k for k in session if k.startswith(f"_state_{PROVIDER}_")]:
        session.pop(key)  # Authlib's state, verifier and nonce for this provider
    if started:
        record(db(), None, "login.failed", method="oidc", reason=reason, user_id=user_id)
    return _page(reason)


@bp.route("/login/sso")
def start() -> Response | tuple[str, int]:
    sso = _enabled()
    session[NEXT_KEY] = safe_next(request.args.get("next"))
    session[STARTED_KEY] = clock.now().timestamp()
    try:
        response: Response = sso.client.authorize_redirect(_redirect_uri(sso))
    except (OSError, ValueError, RuntimeError) as exc:
        # Unreachable provider or a broken discovery document.
        log.warning("OIDC discovery failed: %s", type(exc).__name__)
        return _page("provider_error")
    return response


@bp.route("/login/sso/callback")
def callback() -> Response | tuple[str, int]:
    sso = _enabled()
    error = request.args.get("error")
    if error:
        return _refuse("denied" if error == "access_denied" else "provider_refused")
    started = session.get(STARTED_KEY)
    if not isinstance(started, int | float):
        return _refuse("bad_state")
    if clock.now().timestamp() - started > MAX_FLOW_SECONDS:
        return _refuse("expired")
    try:
        token = sso.client.authorize_access_token(
            claims_options={
                "iss": {"essential": True, "value": sso.settings.issuer},
                "sub": {"essential": True},
            }
        )
    except MismatchingStateError:
        return _refuse("bad_state")
    except OAuthError as exc:
        # The token endpoint refused the code (used twice, expired, wrong client).
        log.warning("OIDC token request refused: %s", exc.error)
        return _refuse("invalid_token")
    except (JoseError, ValueError) as exc:
        log.warning("OIDC ID token refused: %s", type(exc).__name__)
        return _refuse("invalid_token")
    except OSError as exc:
        log.warning("OIDC provider unreachable: %s", type(exc).__name__)
        return _page("provider_error")
    claims = token.get("userinfo") if isinstance(token, dict) else None
    if not claims:
        return _refuse("invalid_token")  # no ID token: not OpenID Connect
    next_url = session.get(NEXT_KEY)
    try:
        user = sso.sign_in.sign_in(db(), dict(claims))
    except SignInRefused as refusal:
        if refusal.reason == "group_map_mismatch":
            log.error(
                "TRYGG_OIDC_GROUP_MAP: group %r names a party or organisation that does not exist",
                refusal.group,
            )
        if refusal.reason == "busy":
            return _page("busy")
        return _refuse(refusal.reason, refusal.user.id if refusal.user else None)
    return complete_sign_in(user, "oidc", next_url if isinstance(next_url, str) else None)
