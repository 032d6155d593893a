"""Structured logs: one JSON object per line, a request id per request, and never personal data."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from service import logging_setup
from service.clock import OffsetClock
from service.context import Services
from service.people.demo import DEMO_PASSWORD
from service.people.models import Person, User
from service.worker import Worker
from tests import incident_data as answers
from tests.test_incident_routine import complete, report_incident
from tests.web_client import Browser

Make = Callable[[str | None], Browser]
# Loggers a careless operator might turn all the way up.
NOISY = ("sqlalchemy", "sqlalchemy.engine", "sqlalchemy.pool", "werkzeug", "spiff", "alembic")


@dataclass
class Captured:
    stream: io.StringIO

    def lines(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line]

    def text(self) -> str:
        return self.stream.getvalue()


@pytest.fixture
def captured() -> Iterator[Captured]:
    """The service's handler writing JSON into a buffer, everything at DEBUG."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    saved_levels = {name: logging.getLogger(name).level for name in NOISY}
    stream = io.StringIO()
    handler = logging_setup.configure("web", fmt="json", level="DEBUG", stream=stream, force=True)
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield Captured(stream)
    finally:
        root.removeHandler(handler)
        for old in saved_handlers:
            if old not in root.handlers:
                root.addHandler(old)
        root.setLevel(saved_level)
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)


def _access(captured: Captured) -> list[dict[str, object]]:
    return [line for line in captured.lines() if line["logger"] == "trygg.access"]


def test_every_request_has_an_access_line_with_a_request_id(
    app: Flask, browser: Make, captured: Captured
) -> None:
    anna = browser("anna")
    response = anna.get("/")
    generated = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    line = _access(captured)[-1]
    assert line == {
        "time": line["time"],
        "level": "INFO",
        "logger": "trygg.access",
        "message": "request",
        "component": "web",
        "request_id": generated,
        "endpoint": "home.index",
        "method": "GET",
        "status": 200,
        "duration_ms": line["duration_ms"],
        "user_id": line["user_id"],
    }
    assert isinstance(line["user_id"], int)
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    stamp = datetime.fromisoformat(str(line["time"]).replace("Z", "+00:00"))
    assert stamp.tzinfo == UTC and abs(datetime.now(UTC) - stamp) < timedelta(minutes=1)

    anonymous = app.test_client().get("/healthz")
    assert "user_id" not in _access(captured)[-1]
    assert _access(captured)[-1]["request_id"] == anonymous.headers["X-Request-ID"]


def test_an_incoming_request_id_is_echoed_only_when_it_is_plainly_an_id(
    app: Flask, captured: Captured
) -> None:
    client = app.test_client()
    kept = "3f1c2a9e-7b1d-4c55-9a0e-1b2c3d4e5f60"
    response = client.get("/healthz", headers={"X-Request-ID": kept})
    assert response.headers["X-Request-ID"] == kept
    assert _access(captured)[-1]["request_id"] == kept
    for hostile in (
        "short",
        "a" * 65,
        "Anna Andersson",
        "abc123 forged line",
        "abc123;user=7&x",
        '{"x":1}abcdefgh',
    ):
        response = client.get("/healthz", headers={"X-Request-ID": hostile})
        echoed = response.headers["X-Request-ID"]
        assert echoed != hostile and re.fullmatch(r"[0-9a-f]{32}", echoed)
        assert hostile not in captured.text()


def test_unknown_paths_log_no_url(app: Flask, captured: Captured) -> None:
    app.test_client().get("/cases/123456789/anna-andersson?q=Anna")
    line = _access(captured)[-1]
    assert "endpoint" not in line, "no endpoint matched"
    assert line["status"] == 404
    assert "123456789" not in captured.text() and "anna" not in captured.text().lower()


def test_exceptions_are_logged_by_type_and_frames_never_by_message(captured: Captured) -> None:
    log = logging.getLogger("service.test")
    secret = "Anna Andersson, Storgatan 1, anna@example.invalid"
    try:
        raise ValueError(secret)
    except ValueError as exc:
        log.exception("it failed")
        log.error("it failed: %s", exc)
        log.error(exc)
    try:
        try:
            raise KeyError(secret)
        except KeyError as inner:
            raise RuntimeError(secret) from inner
    except RuntimeError:
        log.warning("chained", exc_info=True)
    log.info("with extras", extra={"data": {"name": secret}, "form": secret, "instance": 7})
    assert secret not in captured.text()
    assert "Storgatan" not in captured.text()
    first, second, third, chained, extras = captured.lines()[-5:]
    assert first["error_type"] == "ValueError" and first["message"] == "it failed"
    assert any("test_logging.py" in frame for frame in first["stack"])  # type: ignore[union-attr]
    assert second["message"] == "it failed: ValueError"
    assert third["message"] == "ValueError"
    assert chained["error_type"] == "RuntimeError"
    assert chained["error_causes"][0].startswith("KeyError at ")  # type: ignore[index]
    assert extras["instance_id"] == 7 and "data" not in extras and "form" not in extras


def test_the_text_format_carries_the_same_fields(app: Flask) -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = list(root.handlers)
    handler = logging_setup.configure("cli", fmt="text", stream=stream, force=True)
    try:
        app.test_client().get("/healthz", headers={"X-Request-ID": "abcdef123456"})
        try:
            raise OSError("disk full at /home/anna")
        except OSError:
            logging.getLogger("service.x").exception("write failed")
    finally:
        root.removeHandler(handler)
        for old in saved:
            if old not in root.handlers:
                root.addHandler(old)
    text = stream.getvalue()
    assert re.search(
        r"Z INFO    trygg.access: request component=cli request_id=abcdef123456 "
        r"endpoint=health.healthz method=GET status=200 duration_ms=",
        text,
    )
    assert "error_type=OSError" in text and "/home/anna" not in text


def test_a_worker_round_logs_with_its_component(
    services: Services, session: Session, captured: Captured
) -> None:
    from service.jobs.queue import enqueue

    enqueue(session, "test.no_such_kind", {"note": "Anna Andersson"})
    session.commit()
    worker = Worker(services, "test-host:1", schedule_every=3600)
    with logging_setup.bind(component="worker", worker=worker.worker_id):
        worker.run_once()
    failed = [line for line in captured.lines() if line["message"] == "job failed"]
    assert len(failed) == 1
    assert failed[0]["component"] == "worker" and failed[0]["worker"] == "test-host:1"
    assert failed[0]["kind"] == "test.no_such_kind" and failed[0]["error_type"] == "LookupError"
    assert isinstance(failed[0]["job_id"], int)
    assert "Anna" not in captured.text()


# ---------------------------------------------------------------- a whole incident, logged


MARK = "Qzx"  # no log line could contain this by chance
REPORT = {
    "location": f"{MARK}plats Hornsgatan 17 uppgång B",
    "description": f"{MARK}beskrivning: mannen med den gröna jackan följde efter mig",
    "exact_words": f"{MARK}ord: vi vet att du bor på Hornsgatan",
}
PARTY = {**answers.PARTY_SUPPORT, "support_notes": f"{MARK}stöd ringde hennes make Olof"}
ASSESSMENT = {**answers.ASSESSMENT, "immediate_actions": f"{MARK}åtgärd larmknapp installerad"}
TIB = {**answers.TIB_RESPONSE, "actions_taken": f"{MARK}tib polisen på plats 22:55"}
CRISIS = {**answers.CRISIS_SUPPORT, "crisis_support_provider": f"{MARK}krisstöd Previa Söder"}
CLOSE = {**answers.CLOSE, "outcome": f"{MARK}utfall gärningsmannen identifierad"}


def test_a_full_incident_logs_none_of_what_was_submitted(
    browser: Make,
    services: Services,
    session: Session,
    clock: OffsetClock,
    captured: Captured,
) -> None:
    anna = browser("anna")
    case_id = report_incident(anna, danger_ongoing="yes", harm_occurred="yes", **REPORT)
    anna.get(f"/cases/{case_id}")
    worker = Worker(services, "test-host:2", schedule_every=0)
    worker.run_once()  # notifications, e-mail jobs (no SMTP here), yearly offers, sealing
    complete(browser("kansli.fp"), "Stöd till den drabbade", PARTY, case_id)
    complete(browser("tib"), "Pågående fara – agera nu", TIB, case_id)
    security = browser("sakerhet")
    complete(security, "Bedöm händelsen", ASSESSMENT, case_id)
    complete(security, "Ordna krisstöd", CRISIS, case_id)
    security.get(f"/cases/{case_id}")
    complete(security, "Följ upp och avsluta", CLOSE, case_id)
    clock.advance(timedelta(days=40))  # reminders and deadlines fall due
    worker.run_once()
    anna.get(f"/cases/{case_id}")
    anna.get("/notifications")
    anna.get("/cases/999999999")  # a 404 on someone else's id
    anna.client.get("/report?name=Olof+Hornsgatan")

    lines = captured.lines()  # every line is one JSON object
    text = captured.text()
    loggers = {str(line["logger"]) for line in lines}
    assert "trygg.access" in loggers
    assert any(name.startswith("sqlalchemy.engine") for name in loggers), "SQL was logged too"
    posted = [
        line
        for line in lines
        if line["logger"] == "trygg.access" and line["endpoint"] == "tasks.task"
    ]
    assert len([line for line in posted if line["method"] == "POST"]) == 5
    assert all(isinstance(line.get("user_id"), int) for line in posted)
    assert all(isinstance(line.get("task_id"), int) for line in posted)
    viewed = {line.get("instance_id") for line in lines if line.get("endpoint") == "cases.detail"}
    assert viewed == {case_id, 999999999}, "the case a page is about, by number"

    submitted = [
        value
        for answers_given in (REPORT, PARTY, ASSESSMENT, TIB, CRISIS, CLOSE)
        for value in answers_given.values()
        if isinstance(value, str) and MARK in value
    ]
    assert len(submitted) == 8
    assert MARK not in text
    for value in submitted:
        for word in re.findall(r"\w{6,}", value):
            assert word not in text, word
    assert "Hornsgatan" not in text and "Olof" not in text
    people = session.execute(select(Person.full_name)).scalars().all()
    users = session.execute(select(User.display_name, User.email, User.username)).all()
    assert len(people) >= 5 and len(users) >= 10
    for name in [*people, *(u.display_name for u in users)]:
        assert name not in text, name
    for user in users:
        if user.email:
            assert user.email not in text, user.email
    for username in ("anna", "kansli.fp", "tib", "sakerhet"):  # who signed in and acted
        assert not re.search(rf"\b{re.escape(username)}\b", text), username
    assert DEMO_PASSWORD not in text
    assert "[SQL parameters hidden due to hide_parameters=True]" in text, "SQL was logged"


def test_gunicorn_error_lines_drop_the_request_uri() -> None:
    from service.gunicorn_conf import _NoRequestURI

    record = logging.LogRecord(
        "gunicorn.error",
        logging.ERROR,
        __file__,
        1,
        "Error handling request %s",
        ("/cases/12?name=Anna+Andersson",),
        None,
    )
    assert _NoRequestURI().filter(record)
    assert record.getMessage() == "Error handling request"
