"""Who is calling the API: a person by the web login's session, or a system by its token.

An ``Authorization`` header always means a system client: a request that
carries one is never also read as the session's person, so the CSRF check that
token calls skip can never be skipped for a cookie-authenticated change. What
either may do is the policy module's and the token scopes' business, as on
the web pages.
"""

from __future__ import annotations

from typing import cast

from flask import current_app, request
from flask_login import current_user
from flask_wtf.csrf import CSRFProtect

from service.api.models import ApiClient
from service.api.problems import ApiProblem
from service.api.tokens import authenticate, bearer_token, has_scope
from service.people.models import User
from service.web.request_context import db

# A 401 must name a way in that applies (RFC 9110 §15.5.2). People come in by
# the login form's cookie, for which there is no registered scheme; "Cookie"
# with the form and the cookie named is the convention of the cookie-auth draft.
PERSON_CHALLENGE = 'Cookie realm="api", form-action="/login", cookie-name="session"'


def bearer_challenge(token_given: bool) -> str:
    # RFC 6750 §3.1: name the problem only when a token was actually sent.
    return 'Bearer realm="api"' + (', error="invalid_token"' if token_given else "")


def unauthorized(detail: str, challenge: str) -> ApiProblem:
    return ApiProblem(401, detail, headers={"WWW-Authenticate": challenge})


def token_client() -> ApiClient | None:
    """The system client of the request's token; None without an Authorization header."""
    authorization = request.headers.get("Authorization")
    if authorization is None:
        return None
    client = authenticate(db(), authorization)
    if client is None:
        given = bearer_token(authorization) is not None
        raise unauthorized(
            "The API token is unknown or has been revoked."
            if given
            else "Send a valid API token: Authorization: Bearer <token>.",
            bearer_challenge(given),
        )
    return client


def system_client(scope: str, refusal: str) -> ApiClient:
    """The calling system, which must hold ``scope``; people with a session are not systems."""
    client = token_client()
    if client is None:
        raise unauthorized(
            "Send a valid API token: Authorization: Bearer <token>.", bearer_challenge(False)
        )
    if not has_scope(client, scope):
        raise ApiProblem(403, refusal)
    return client


def person() -> User:
    """The signed-in person; a state-changing call must also carry the session's CSRF token."""
    if token_client() is not None:
        # System clients may post alarm events and nothing else: no scope
        # reaches people's cases and tasks.
        raise ApiProblem(403, "A system client may not use this operation; it is for people.")
    me = current_user._get_current_object()
    if not isinstance(me, User) or not me.is_active:
        raise unauthorized(
            "Sign in: send the session cookie of the web login (/login).", PERSON_CHALLENGE
        )
    csrf = cast(CSRFProtect, current_app.extensions["csrf"])
    # Raises CSRFError (a 400 problem) for a POST without a valid X-CSRFToken header.
    csrf.protect()
    return me
