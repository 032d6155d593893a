"""The alarm centre's API: an alarm event starts an ``alarm_event`` case for the TiB.

``POST /api/v1/alarm-events`` with a bearer token (tokens.py) and a JSON body.
Answers are JSON; errors are RFC 9457 problem details. The event id makes the
call idempotent: the alarm centre retries until it gets an answer, and every
retry must land on the same case. An alarm id nobody is registered for still
starts a case (without a person), so that the TiB finds out whose it is: an
alarm is never dropped.

One request is one transaction, committed at the end of the view.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response
from flask_smorest import Blueprint  # type: ignore[import-untyped]
from marshmallow import RAISE, Schema, ValidationError, fields, validate
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.api.access import system_client
from service.api.models import AlarmReceipt, RegisteredAlarm
from service.api.operations import Answer, Auth, field_errors, json_payload, operation
from service.api.problems import ApiProblem, install_problem_handlers, problem
from service.api.schemas import AlarmAcceptedSchema
from service.api.tokens import ALARM_EVENTS_SCOPE
from service.audit.service import record
from service.cases.models import ProcessInstance
from service.cases.service import CaseStarter
from service.definitions.catalog import latest_definition
from service.formdefs.validation import CONTROL_CHARS
from service.people.models import Person
from service.web.request_context import db, services

log = logging.getLogger(__name__)

bp = Blueprint(
    "alarm-centre",
    __name__,
    url_prefix="/api/v1",
    description="For the alarm centre, system to system, with a bearer token.",
)

PROCESS_ID = "alarm_event"
ALARM_KINDS = ("burglar", "personal")
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def _busy(_exc: Exception) -> Response:
    return problem(
        503,
        "Service Unavailable",
        "The database was busy; nothing was stored. Retry the same event.",
        headers={"Retry-After": "5"},
    )


install_problem_handlers(
    bp, _busy, "The event could not be handled; nothing was stored. Retry the same event."
)


# -- the payload ---------------------------------------------------------------


def _printable(value: str) -> None:
    if CONTROL_CHARS.search(value):
        raise ValidationError("Must not contain control characters.")


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be blank.")


def _plausible(value: datetime) -> None:
    # Near the ends of the calendar a time cannot even be moved to Stockholm's
    # zone (OverflowError); no alarm happens there.
    if not EARLIEST <= value <= LATEST:
        raise ValidationError("Not a plausible time for an alarm (years 2000–2099).")


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
        validate=_plausible,
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


def _accepted(session: Session, receipt: AlarmReceipt, status: int) -> tuple[dict[str, Any], int]:
    instance = session.get(ProcessInstance, receipt.instance_id)
    # A known alarm's case is about its holder; an unknown one's about nobody (yet).
    known = instance is not None and instance.subject_person_id is not None
    answer = {"case_id": receipt.instance_id, "alarm_known": known}
    # Here, not after the view: a failing commit is then answered as a problem.
    session.commit()
    return answer, status


# -- the endpoint ----------------------------------------------------------------


@operation(
    bp,
    "/alarm-events",
    "POST",
    auth=Auth.TOKEN,
    body=AlarmEventSchema,
    answer=Answer(201, AlarmAcceptedSchema, "The event started a case."),
    also=[Answer(200, AlarmAcceptedSchema, "The event was received before: its case.")],
    errors=(400, 401, 403, 503),
    error_details={
        400: "The body is not a JSON object, or a field is not valid (errors per field).",
        401: "No valid token: missing, unknown or revoked.",
        403: "This client may not post alarm events.",
        503: "The database was busy, or the alarm process is not installed; retry the same event.",
    },
)
def post_alarm_event() -> Any:
    """Report an alarm event (the alarm centre)

    Starts an alarm_event case for the TiB about the official the alarm is
    registered to (or about nobody yet, for an alarm id nobody is registered
    for). The same event_id again answers 200 with the same case.
    """
    session = db()
    client = system_client(ALARM_EVENTS_SCOPE, "This client may not post alarm events.")
    payload = json_payload()
    if not isinstance(payload, dict):
        # A 400, not a 415, for any body that is no JSON object: the alarm
        # centre integrated against that answer before the other operations.
        raise ApiProblem(
            400,
            "The body is not a JSON object. Send the alarm event as a JSON object "
            "with Content-Type: application/json.",
        )
    try:
        event: dict[str, Any] = AlarmEventSchema().load(payload)
    except ValidationError as exc:
        errors = field_errors(exc.messages)
        raise ApiProblem(
            400,
            "The alarm event is not valid. Fix these fields: " + ", ".join(sorted(errors)) + ".",
            errors=errors,
        ) from None

    event_id: str = event["event_id"]
    earlier = _receipt(session, event_id)
    if earlier is not None:
        return _accepted(session, earlier, 200)

    instance = _start_case(session, event)
    if instance is None:
        raise ApiProblem(
            503,
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
    timezone = ZoneInfo(services().settings.timezone)
    data = {
        "alarm_id": alarm_id,
        "alarm_kind": event["kind"],
        # Local time with its offset: the model reads the date and the
        # clock time off the text, and the TiB thinks in Stockholm time.
        "alarm_time": event["time"].astimezone(timezone).isoformat(timespec="seconds"),
        "location": event["location"],
        # Without a person the model first has the TiB find out whose alarm it is.
        "alarm_known": subject is not None,
    }
    return CaseStarter(services(), session, None).start_about(definition, subject, data)
