"""RFC 9457 problem details: the one shape of every error under /api.

The app's own error handlers render HTML pages for people; an API caller
needs JSON it can act on. Blueprint error handlers take precedence over the
app's for errors raised in a blueprint's views, so each API blueprint installs
these; routing errors (an unknown path, a wrong method) belong to no
blueprint and are answered by a before-request hook for every path under /api.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from flask import Blueprint, Flask, Response, g, jsonify, request
from flask_wtf.csrf import CSRFError
from marshmallow import Schema, fields
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from service.errors import DomainError
from service.web.request_context import db

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
API_PREFIX = "/api/"


class ProblemSchema(Schema):
    """An RFC 9457 problem details object (documentation only: problems are built by hand)."""

    type = fields.String(
        required=True,
        metadata={"description": 'Always "about:blank": the status and title say what kind.'},
    )
    title = fields.String(required=True, metadata={"description": "The HTTP status phrase."})
    status = fields.Integer(required=True, metadata={"description": "The HTTP status code."})
    detail = fields.String(
        required=True, metadata={"description": "What went wrong and what to do, in English."}
    )
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={
            "description": "Only for invalid data (400): the problems per field. Form answers "
            "carry the codes of the web forms (required, choose, invalid, length, range, "
            "item_count, not_a_choice, bad_format, control_chars, unknown_field, forbidden_key)."
        },
    )
    error_params = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True)),
        metadata={"description": "The limits a field error refers to, e.g. {min, max}."},
    )


class ApiProblem(Exception):
    """Raised by API code to answer with a problem; the blueprint handler renders it."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: dict[str, list[str]] | None = None,
        error_params: dict[str, dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors
        self.error_params = error_params
        self.headers = headers

    def response(self) -> Response:
        return problem(
            self.status,
            HTTPStatus(self.status).phrase,
            self.detail,
            errors=self.errors,
            error_params=self.error_params,
            headers=self.headers,
        )


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    errors: dict[str, list[str]] | None = None,
    error_params: dict[str, dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        # No problem type of our own (nothing is published to point at): the
        # status and title say what kind, detail and errors say what exactly.
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    if error_params:
        body["error_params"] = error_params
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM_JSON
    response.headers.update(headers or {})
    return response


def _rollback() -> None:
    if "db_session" in g:  # only a request that opened one has anything to undo
        db().rollback()


def _allowed(exc: MethodNotAllowed) -> str:
    # Flask answers OPTIONS by itself; the methods worth naming are the real ones.
    return ", ".join(sorted(m for m in exc.valid_methods or () if m != "OPTIONS"))


def http_problem(exc: HTTPException) -> Response:
    status = exc.code or 500
    if isinstance(exc, MethodNotAllowed):
        allowed = _allowed(exc)
        return problem(
            405,
            "Method Not Allowed",
            f"This resource answers only {allowed}.",
            headers={"Allow": allowed},
        )
    if status == 404:
        return problem(404, "Not Found", "There is no such API resource.")
    return problem(status, exc.name, f"The request could not be handled (HTTP {status}).")


BusyAnswer = Callable[[Exception], Response]


def unavailable(_exc: Exception) -> Response:
    return problem(
        503,
        "Service Unavailable",
        "The database is unavailable; nothing was stored. Try again in a moment.",
        headers={"Retry-After": "5"},
    )


def install_problem_handlers(
    bp: Blueprint,
    busy: BusyAnswer = unavailable,
    failure_detail: str = "The request could not be handled; nothing was stored. Try again later.",
) -> None:
    """Answer every error raised in ``bp``'s views as a problem.

    ``busy`` answers a database that was locked, changed underneath or away:
    the alarm centre is told to retry the same event, a person that someone
    else was quicker.
    """

    @bp.errorhandler(ApiProblem)
    def api_problem(exc: ApiProblem) -> Response:
        _rollback()
        return exc.response()

    # Registered for CSRFError itself: the app's handler for it (an HTML page)
    # is looked up by status code before a blueprint's HTTPException handler.
    @bp.errorhandler(CSRFError)
    def csrf_problem(_exc: CSRFError) -> Response:
        _rollback()
        return problem(
            400,
            "Bad Request",
            "The CSRF token is missing or invalid. A call signed in with the session cookie "
            "sends the token from GET /api/v1/csrf-token in the X-CSRFToken header.",
        )

    @bp.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        _rollback()
        return http_problem(exc)

    @bp.errorhandler(DomainError)
    def domain_error(exc: DomainError) -> Response:
        _rollback()
        return problem(exc.status, HTTPStatus(exc.status).phrase, exc.message)

    @bp.errorhandler(StaleDataError)
    def stale(exc: StaleDataError) -> Response:
        _rollback()
        return busy(exc)

    @bp.errorhandler(OperationalError)
    def database_error(exc: OperationalError) -> Response:
        _rollback()
        log.error("database error on the API: %s", type(exc.orig).__name__)
        return busy(exc)

    @bp.errorhandler(Exception)
    def unexpected(_exc: Exception) -> Response:
        _rollback()
        log.exception("unhandled error on %s %s", request.method, request.url_rule)
        return problem(500, "Internal Server Error", failure_detail)


def answer_routing_errors(app: Flask) -> None:
    """An unknown path or a wrong method under /api is a problem, not an HTML page.

    Routing failed before any blueprint was chosen, so no blueprint handler
    sees these; the hook answers before the view would have raised them.
    """

    @app.before_request
    def api_routing_error() -> Response | None:
        exc = request.routing_exception
        if not isinstance(exc, HTTPException) or not request.path.startswith(API_PREFIX):
            return None
        if (exc.code or 500) in (301, 302, 307, 308):  # a redirect (e.g. a trailing slash)
            return None
        return http_problem(exc)
