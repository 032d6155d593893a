"""The alarm centre's API: an alarm event starts an ``alarm_event`` case for the TiB.

``POST /api/v1/alarm-events`` with a bearer token (tokens.py) and a JSON body.
Answers are JSON; errors are RFC 9457 problem details. The event id makes the
call idempotent: the alarm centre retries until it gets an answer, and every
retry must land on the same case. An alarm id nobody is registered for still
starts a case (without a person), so that the TiB finds out whose it is: an
alarm is never dropped.

One request is one transaction, committed by the app after the view.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, Response, jsonify, request
from flask_wtf.csrf import CSRFProtect
from marshmallow import RAISE, Schema, ValidationError, fields, validate
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from service.api.models import AlarmReceipt, RegisteredAlarm
from service.api.tokens import ALARM_EVENTS_SCOPE, authenticate, bearer_token, has_scope
from service.audit.service import record
from service.cases.models import ProcessInstance
from service.cases.service import CaseStarter, _subject_data
from service.definitions.catalog import latest_definition
from service.errors import DomainError
from service.formdefs.validation import CONTROL_CHARS
from service.people.models import Person
from service.web.request_context import db, services

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PROCESS_ID = "alarm_event"
PROBLEM_JSON = "application/problem+json"
ALARM_KINDS = ("burglar", "personal")
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def register_api(app: Flask, csrf: CSRFProtect) -> None:
    """Mount the API. Its callers are systems with tokens, not browsers with cookies,
    so the CSRF check (which guards cookie sessions) does not apply to it."""
    csrf.exempt(bp)
    app.register_blueprint(bp)


# -- the payload ---------------------------------------------------------------


def _printable(value: str) -> None:
    if CONTROL_CHARS.search(value):
        raise ValidationError("Must not contain control characters.")


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be blank.")


def _text(max_length: int) -> fields.String:
    return fields.String(
        required=True, validate=[validate.Length(min=1, max=max_length), _not_blank, _printable]
    )


class AlarmEventSchema(Schema):
    class Meta:
        # Keys nobody declared (``typename`` among them, which the engine's
        # serializer would read as a type tag) never reach case data.
        unknown = RAISE

    event_id = _text(100)
    alarm_id = _text(64)
    kind = fields.String(required=True, validate=validate.OneOf(ALARM_KINDS))
    time = fields.AwareDateTime(
        format="iso",
        required=True,
        error_messages={
            "invalid": "Not an ISO 8601 date and time, e.g. 2026-11-28T22:15:00+01:00.",
            "invalid_awareness": (
                "The time has no UTC offset. Include the offset, "
                "e.g. 2026-11-28T22:15:00+01:00 or 2026-11-28T21:15:00Z."
            ),
        },
    )
    location = _text(500)


# -- answers -------------------------------------------------------------------


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    errors: dict[str, list[str]] | None = None,
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
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM_JSON
    response.headers.update(headers or {})
    return response


def _unauthorized(token_given: bool) -> Response:
    # RFC 6750 §3.1: name the problem only when a token was actually sent.
    challenge = 'Bearer realm="api"' + (', error="invalid_token"' if token_given else "")
    return problem(
        401,
        "Unauthorized",
        "Send a valid API token: Authorization: Bearer <token>."
        if not token_given
        else "The API token is unknown or has been revoked.",
        headers={"WWW-Authenticate": challenge},
    )


def _invalid(errors: dict[str, list[str]]) -> Response:
    return problem(
        400,
        "Bad Request",
        "The alarm event is not valid. Fix these fields: " + ", ".join(sorted(errors)) + ".",
        errors=errors,
    )


def _field_errors(messages: Any) -> dict[str, list[str]]:
    """marshmallow's messages as {field: [text, …]} (they may nest for odd input)."""
    if not isinstance(messages, dict):
        return {"body": [str(messages)]}
    return {
        str(name): [str(m) for m in found] if isinstance(found, list) else [str(found)]
        for name, found in messages.items()
    }


def _accepted(session: Session, receipt: AlarmReceipt, status: int) -> Response:
    instance = session.get(ProcessInstance, receipt.instance_id)
    # A known alarm's case is about its holder; an unknown one's about nobody (yet).
    known = instance is not None and instance.subject_person_id is not None
    response = jsonify({"case_id": receipt.instance_id, "alarm_known": known})
    response.status_code = status
    return response


# -- the endpoint ----------------------------------------------------------------


@bp.post("/alarm-events")
def post_alarm_event() -> Response:
    session = db()
    authorization = request.headers.get("Authorization")
    client = authenticate(session, authorization)
    if client is None:
        return _unauthorized(token_given=bearer_token(authorization) is not None)
    if not has_scope(client, ALARM_EVENTS_SCOPE):
        return problem(403, "Forbidden", "This client may not post alarm events.")
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return problem(
            400,
            "Bad Request",
            "The body is not a JSON object. Send the alarm event as a JSON object "
            "with Content-Type: application/json.",
        )
    try:
        event: dict[str, Any] = AlarmEventSchema().load(payload)
    except ValidationError as exc:
        return _invalid(_field_errors(exc.messages))

    event_id: str = event["event_id"]
    earlier = _receipt(session, event_id)
    if earlier is not None:
        return _accepted(session, earlier, 200)

    instance = _start_case(session, event)
    if instance is None:
        return problem(
            503,
            "Service Unavailable",
            "The alarm process is not installed. Retry later; the event was not stored.",
            headers={"Retry-After": "60"},
        )
    receipt = AlarmReceipt(event_id=event_id, client_id=client.id, instance_id=instance.id)
    session.add(receipt)
    try:
        session.flush()
    except IntegrityError:
        # The same event was posted at the same moment and the other request
        # stored its receipt first: drop our case, answer with theirs.
        session.rollback()
        earlier = _receipt(session, event_id)
        if earlier is None:
            raise
        return _accepted(session, earlier, 200)
    # Who sent which event, never what it says: the location is personal data.
    record(
        session,
        None,
        "case.started",
        instance_id=instance.id,
        client=client.name,
        event_id=event_id,
    )
    log.info("alarm event received", extra={"instance": instance.id, "client": client.id})
    return _accepted(session, receipt, 201)


def _receipt(session: Session, event_id: str) -> AlarmReceipt | None:
    return session.scalar(select(AlarmReceipt).where(AlarmReceipt.event_id == event_id))


def _start_case(session: Session, event: dict[str, Any]) -> ProcessInstance | None:
    definition = latest_definition(session, PROCESS_ID)
    if definition is None:
        return None
    alarm_id = event["alarm_id"].strip()
    registered = session.scalar(select(RegisteredAlarm).where(RegisteredAlarm.alarm_id == alarm_id))
    subject = session.get(Person, registered.person_id) if registered is not None else None
    parsed = services().definitions.parsed(definition)
    data: dict[str, Any] = {}
    if parsed.start_form:  # every start-form field exists, as when a person starts it
        data = dict.fromkeys(services().definitions.form(definition, parsed.start_form).names)
    timezone = ZoneInfo(services().settings.timezone)
    data.update(
        {
            "alarm_id": alarm_id,
            "alarm_kind": event["kind"],
            # Local time with its offset: the model reads the date and the
            # clock time off the text, and the TiB thinks in Stockholm time.
            "alarm_time": event["time"].astimezone(timezone).isoformat(timespec="seconds"),
            "location": event["location"],
            **_subject_data(subject),
            "reported_on_behalf": False,
            # Without a person the model first has the TiB find out whose alarm it is.
            "alarm_known": subject is not None,
        }
    )
    instance, _handle = CaseStarter(services(), session, None).create(
        definition,
        data,
        subject=subject,
        party_id=subject.party_id if subject is not None else None,
        organisation_id=None,
        on_behalf=False,
    )
    return instance


# Anything else under /api/v1 answers as an API, not with an HTML page.
@bp.route("/alarm-events", methods=[m for m in ALL_METHODS if m != "POST"])
def alarm_events_other_method() -> Response:
    return problem(
        405,
        "Method Not Allowed",
        "Alarm events are only posted (POST).",
        headers={"Allow": "POST"},
    )


@bp.route("/<path:_rest>", methods=ALL_METHODS)
def not_found(_rest: str) -> Response:
    return problem(404, "Not Found", "There is no such API resource.")


# -- errors --------------------------------------------------------------------


def _rollback() -> None:
    db().rollback()


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Response:
    _rollback()
    status = exc.code or 500
    return problem(status, exc.name, f"The request could not be handled (HTTP {status}).")


@bp.errorhandler(DomainError)
def domain_error(exc: DomainError) -> Response:
    _rollback()
    return problem(exc.status, HTTPStatus(exc.status).phrase, exc.message)


def _busy() -> Response:
    return problem(
        503,
        "Service Unavailable",
        "The database was busy; nothing was stored. Retry the same event.",
        headers={"Retry-After": "5"},
    )


@bp.errorhandler(StaleDataError)
def stale(_exc: StaleDataError) -> Response:
    _rollback()
    return _busy()


@bp.errorhandler(OperationalError)
def database_error(exc: OperationalError) -> Response:
    _rollback()
    log.error("database error on the alarm API: %s", type(exc.orig).__name__)
    return _busy()


@bp.errorhandler(Exception)
def unexpected(_exc: Exception) -> Response:
    _rollback()
    log.exception("unhandled error on the alarm API")
    return problem(
        500,
        "Internal Server Error",
        "The event could not be handled; nothing was stored. Retry the same event.",
    )
