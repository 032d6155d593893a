"""One decorator per API operation: its route, who may call it, its body and every answer.

flask-smorest builds the OpenAPI document from decorators on the view; this
applies them all from one declaration, so that no status an operation can
answer with is left out of the document (the fuzz test holds each answer to
it), and keeps mypy's view of the views typed (flask-smorest has no types).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import request
from marshmallow import Schema, ValidationError

from service.api.problems import PROBLEM_JSON, ApiProblem, ProblemSchema

F = TypeVar("F", bound=Callable[..., Any])


class Auth(enum.Enum):
    NONE = "none"
    SESSION = "session"  # a person, by the web login's cookie
    SESSION_CSRF = "session_csrf"  # ... and a state change, so with the CSRF token
    TOKEN = "token"  # noqa: S105 - a system client's bearer token, not a secret


SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "session",
        "description": "The session cookie of the web login (POST /login), for people.",
    },
    "csrfToken": {
        "type": "apiKey",
        "in": "header",
        "name": "X-CSRFToken",
        "description": "With the session, every POST carries the token of GET /api/v1/csrf-token.",
    },
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "A system client's token (trygg api-client create NAME).",
    },
}

SECURITY: dict[Auth, list[dict[str, list[str]]]] = {
    Auth.NONE: [],
    Auth.SESSION: [{"session": []}],
    Auth.SESSION_CSRF: [{"session": [], "csrfToken": []}],
    Auth.TOKEN: [{"bearer": []}],
}


def _header(description: str) -> dict[str, Any]:
    return {"description": description, "required": True, "schema": {"type": "string"}}


ERRORS: dict[int, tuple[str, dict[str, Any] | None]] = {
    400: ("The data is not valid (errors per field), or the CSRF token is missing.", None),
    401: (
        "Not signed in, or the token is unknown or revoked.",
        {"WWW-Authenticate": _header("How to authenticate.")},
    ),
    403: ("Not allowed, by the same rules as the web pages.", None),
    404: ("No such resource.", None),
    409: ("Already done, or changed by someone else at the same moment.", None),
    415: ("The body is not JSON (Content-Type: application/json).", None),
    503: (
        "The database is unavailable; nothing was stored.",
        {"Retry-After": _header("Seconds to wait before retrying.")},
    ),
}


@dataclass(frozen=True)
class Answer:
    status: int
    schema: type[Schema]
    description: str
    headers: Mapping[str, str] = field(default_factory=dict)  # name → description
    many: bool = False


def operation(
    blp: Any,
    rule: str,
    method: str,
    *,
    auth: Auth,
    answer: Answer,
    errors: Sequence[int],
    also: Sequence[Answer] = (),
    body: type[Schema] | None = None,
    parameters: Sequence[dict[str, Any]] = (),
    error_details: Mapping[int, str] | None = None,
) -> Callable[[F], F]:
    """Route ``view`` on ``blp`` and document it: summary and description from its docstring."""

    def decorate(view: F) -> F:
        wrapped: Any = view
        for status in errors:
            text, headers = ERRORS[status]
            wrapped = blp.alt_response(
                status,
                schema=ProblemSchema,
                content_type=PROBLEM_JSON,
                description=(error_details or {}).get(status, text),
                headers=headers,
            )(wrapped)
        for other in also:
            wrapped = blp.alt_response(
                other.status,
                schema=other.schema(many=other.many),
                description=other.description,
                headers=_headers(other) or None,
                success=True,
            )(wrapped)
        wrapped = blp.response(
            answer.status,
            answer.schema(many=answer.many),
            description=answer.description,
            headers=_headers(answer) or None,
        )(wrapped)
        manual: dict[str, Any] = {"operationId": view.__name__, "security": SECURITY[auth]}
        if body is not None:
            manual["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": body}},
            }
        wrapped = blp.doc(**manual)(wrapped)
        blp.route(rule, methods=[method], endpoint=view.__name__, parameters=list(parameters))(
            wrapped
        )
        return view

    return decorate


def _headers(answer: Answer) -> dict[str, Any]:
    return {name: _header(text) for name, text in answer.headers.items()}


def path_parameter(name: str, description: str, example: Any) -> dict[str, Any]:
    return {"in": "path", "name": name, "description": description, "example": example}


def field_errors(messages: Any) -> dict[str, list[str]]:
    """marshmallow's messages as {field: [text, …]} (they may nest for odd input)."""
    if not isinstance(messages, dict):
        return {"body": [str(messages)]}
    return {
        str(name): [str(m) for m in found] if isinstance(found, list) else _flat(found)
        for name, found in messages.items()
    }


def _flat(found: Any) -> list[str]:
    # A dict field's errors nest per key and value: the field is what is wrong.
    if isinstance(found, dict):
        return sorted({text for inner in found.values() for text in _flat(inner)})
    if isinstance(found, list):
        return [str(m) for m in found]
    return [str(found)]


def json_payload() -> Any:
    """The request's JSON, or None if the body is not JSON at all."""
    try:
        return request.get_json(silent=True)
    except RecursionError:
        # Nesting deeper than the parser's stack (a 2 MB body of brackets) is
        # no request anyone means: as unreadable as broken JSON.
        return None


def load_body(schema: type[Schema]) -> dict[str, Any]:
    """The request's JSON object, loaded by ``schema``: 415 unless JSON, 400 unless valid."""
    if not request.is_json:
        raise ApiProblem(
            415,
            "Send the body as a JSON object with Content-Type: application/json.",
            headers={"Accept-Post": "application/json"},
        )
    payload = json_payload()
    if not isinstance(payload, dict):
        raise ApiProblem(400, "The body is not a JSON object.", errors={"body": ["invalid"]})
    try:
        loaded: dict[str, Any] = schema().load(payload)
    except ValidationError as exc:
        errors = field_errors(exc.messages)
        raise ApiProblem(
            400,
            "The request is not valid. Fix these fields: " + ", ".join(sorted(errors)) + ".",
            errors=errors,
        ) from None
    return loaded
