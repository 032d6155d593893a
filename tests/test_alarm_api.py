"""The alarm centre's API over HTTP: tokens, known and unknown alarms, idempotency, bad input."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from service.api.cli import api_client
from service.api.models import AlarmReceipt, RegisteredAlarm
from service.api.tokens import authenticate, create_client, hash_token, revoke_client
from service.audit.models import AuditEvent
from service.auth import policy
from service.cases.models import ProcessInstance
from service.context import Services
from service.people.models import Person, User
from service.tasks.models import HumanTask
from tests.scenario_runner import Path_, ScenarioRunner, load_paths

URL = "/api/v1/alarm-events"
CLIENT_NAME = "Larmcentralen"
LOCATION = "Götgatan 12, Stockholm"
PROBLEM_JSON = "application/problem+json"


@pytest.fixture
def token(session: Session) -> str:
    created = create_client(session, CLIENT_NAME)
    session.commit()
    return created.token


def event(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": "LC-2026-000123",
        "alarm_id": "PL-10233",
        "kind": "personal",
        "time": "2026-11-28T22:15:00+01:00",
        "location": LOCATION,
    }
    body.update(changes)
    return body


def post(app: Flask, token: str | None, body: Any) -> TestResponse:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return app.test_client().post(URL, json=body, headers=headers)


def register_alarm(session: Session, person_id: int, alarm_id: str = "PL-10233") -> None:
    session.add(RegisteredAlarm(alarm_id=alarm_id, person_id=person_id, kind="personal"))
    session.commit()


def alarm_cases(session: Session) -> list[ProcessInstance]:
    session.expire_all()
    return list(
        session.scalars(select(ProcessInstance).where(ProcessInstance.process_id == "alarm_event"))
    )


def open_tasks(session: Session, case_id: int) -> list[HumanTask]:
    return list(
        session.scalars(
            select(HumanTask).where(HumanTask.instance_id == case_id, HumanTask.status == "open")
        )
    )


def case_data(services: Services, session: Session, case_id: int) -> dict[str, Any]:
    instance = session.get(ProcessInstance, case_id)
    assert instance is not None
    return services.load_case(instance).data()


def test_a_known_alarm_starts_a_case_about_its_holder_for_the_tib(
    app: Flask,
    services: Services,
    session: Session,
    token: str,
    person_id: Callable[[str], int],
    user_by_name: Callable[[str], User],
) -> None:
    anna = person_id("Anna Andersson")
    register_alarm(session, anna)

    # The alarm centre sends UTC; the case gets Stockholm time with its offset.
    response = post(app, token, event(time="2026-11-28T21:15:00Z"))

    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["alarm_known"] is True
    [case] = alarm_cases(session)
    assert body["case_id"] == case.id
    person = session.get(Person, anna)
    assert person is not None
    assert case.subject_person_id == anna and case.party_id == person.party_id
    assert case.started_by_id is None and case.status == "running"
    [task] = open_tasks(session, case.id)
    assert (task.bpmn_id, task.role) == ("tib_respond", "tib")
    assert policy.can_work_task(user_by_name("tib"), task)
    data = case_data(services, session, case.id)
    assert data["alarm_time"] == "2026-11-28T22:15:00+01:00"
    assert (data["alarm_id"], data["alarm_kind"], data["location"]) == (
        "PL-10233",
        "personal",
        LOCATION,
    )
    assert data["alarm_known"] is True
    assert data["subject_person_id"] == anna
    assert data["subject_party_id"] == person.party_id

    again = post(app, token, event(time="2026-11-28T21:15:00Z"))
    assert again.status_code == 200
    assert again.get_json() == {"case_id": case.id, "alarm_known": True}
    assert len(alarm_cases(session)) == 1


def test_an_unknown_alarm_becomes_a_task_for_the_tib_to_find_its_holder(
    app: Flask, services: Services, session: Session, token: str
) -> None:
    response = post(app, token, event(alarm_id="NOBODY-1"))

    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["alarm_known"] is False
    [case] = alarm_cases(session)
    assert body["case_id"] == case.id
    assert case.subject_person_id is None and case.status == "running"
    [task] = open_tasks(session, case.id)
    assert (task.bpmn_id, task.role) == ("identify_alarm", "tib")
    assert task.name == "Okänt larm – ta reda på vems larmet är"
    assert case_data(services, session, case.id)["alarm_known"] is False

    again = post(app, token, event(alarm_id="NOBODY-1"))
    assert (again.status_code, again.get_json()) == (200, body)


def test_the_tib_sees_the_unknown_alarm_in_the_inbox(
    app: Flask, session: Session, token: str, browser: Callable[[str | None], Any]
) -> None:
    post(app, token, event(alarm_id="NOBODY-2"))
    assert "Okänt larm – ta reda på vems larmet är" in browser("tib").inbox_tasks()


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer not-a-real-token", "Basic bGFybTpsYXJt", "Bearer", "bearer  "],
    ids=["none", "wrong", "basic", "empty", "blank"],
)
def test_without_a_valid_token_the_answer_is_401(
    app: Flask, session: Session, token: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = app.test_client().post(URL, json=event(), headers=headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.mimetype == PROBLEM_JSON
    assert response.get_json()["status"] == 401
    assert alarm_cases(session) == []


def test_a_revoked_token_is_refused(app: Flask, session: Session, token: str) -> None:
    revoke_client(session, CLIENT_NAME)
    session.commit()

    response = post(app, token, event())

    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert alarm_cases(session) == []


def test_only_the_hash_of_a_token_is_stored(session: Session, token: str) -> None:
    client = authenticate(session, f"Bearer {token}")
    assert client is not None and client.name == CLIENT_NAME
    assert client.token_hash == hash_token(token) and token not in client.token_hash


def _without(field: str) -> dict[str, Any]:
    body = event()
    del body[field]
    return body


BAD_PAYLOADS = {
    "missing location": (_without("location"), "location", "required"),
    "wrong kind": (event(kind="fire"), "kind", "burglar"),
    "naive time": (event(time="2026-11-28T22:15:00"), "time", "offset"),
    "not a time": (event(time="igår kväll"), "time", "ISO 8601"),
    "too long alarm id": (event(alarm_id="A" * 65), "alarm_id", "64"),
    "blank event id": (event(event_id="   "), "event_id", "blank"),
    "number as alarm id": (event(alarm_id=10233), "alarm_id", "string"),
    "unknown field": (event(priority="high"), "priority", "Unknown"),
    "typename key": (event(typename="BpmnWorkflow"), "typename", "Unknown"),
}


@pytest.mark.parametrize(
    ("body", "field", "says"), list(BAD_PAYLOADS.values()), ids=list(BAD_PAYLOADS)
)
def test_a_bad_payload_is_a_400_problem_naming_the_field(
    app: Flask, session: Session, token: str, body: dict[str, Any], field: str, says: str
) -> None:
    response = post(app, token, body)

    assert response.status_code == 400
    assert response.mimetype == PROBLEM_JSON
    problem = response.get_json()
    assert {"type", "title", "status", "detail", "errors"} <= set(problem)
    assert problem["status"] == 400
    assert field in problem["errors"] and field in problem["detail"]
    assert says in " ".join(problem["errors"][field])
    assert alarm_cases(session) == []
    assert session.scalar(select(func.count(AlarmReceipt.id))) == 0


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("not json at all", "text/plain"),
        ('{"event_id": ', "application/json"),
        (json.dumps([event()]), "application/json"),
        (json.dumps(event()), "text/plain"),
    ],
    ids=["text", "broken-json", "json-array", "json-as-text"],
)
def test_a_body_that_is_not_a_json_object_is_a_400_problem(
    app: Flask, session: Session, token: str, data: str, content_type: str
) -> None:
    response = app.test_client().post(
        URL, data=data, content_type=content_type, headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 400
    assert response.mimetype == PROBLEM_JSON
    assert "JSON" in response.get_json()["detail"]
    assert alarm_cases(session) == []


def test_the_api_answers_other_methods_and_paths_as_problems(app: Flask, token: str) -> None:
    client = app.test_client()
    wrong_method = client.get(URL, headers={"Authorization": f"Bearer {token}"})
    assert (wrong_method.status_code, wrong_method.mimetype) == (405, PROBLEM_JSON)
    assert wrong_method.headers["Allow"] == "POST"
    missing = client.post("/api/v1/nothing-here", json={})
    assert (missing.status_code, missing.mimetype) == (404, PROBLEM_JSON)


def test_twenty_simultaneous_posts_of_one_event_make_one_case(
    app: Flask, session: Session, token: str, person_id: Callable[[str], int]
) -> None:
    register_alarm(session, person_id("Anna Andersson"))
    posts = 20
    barrier = threading.Barrier(posts)
    answers: list[tuple[int, Any]] = []
    lock = threading.Lock()

    def send() -> None:
        barrier.wait()
        response = post(app, token, event())
        with lock:
            answers.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=send) for _ in range(posts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert Counter(status for status, _ in answers) == Counter({201: 1, 200: posts - 1}), answers
    [case] = alarm_cases(session)
    assert {body["case_id"] for _, body in answers} == {case.id}
    assert session.scalar(select(func.count(AlarmReceipt.id))) == 1
    assert [t.bpmn_id for t in open_tasks(session, case.id)] == ["tib_respond"]


def test_the_audit_trail_names_the_client_and_event_never_the_location(
    app: Flask, session: Session, token: str, person_id: Callable[[str], int]
) -> None:
    register_alarm(session, person_id("Anna Andersson"))
    known = post(app, token, event()).get_json()["case_id"]
    unknown = post(app, token, event(event_id="LC-2", alarm_id="NOBODY-3")).get_json()["case_id"]

    session.expire_all()
    for case_id, event_id in ((known, "LC-2026-000123"), (unknown, "LC-2")):
        started = session.scalars(
            select(AuditEvent).where(
                AuditEvent.instance_id == case_id, AuditEvent.action == "case.started"
            )
        ).one()
        assert started.actor_id is None
        assert started.details == {"client": CLIENT_NAME, "event_id": event_id}
    every_detail = json.dumps([e.details for e in session.scalars(select(AuditEvent))])
    assert "Götgatan" not in every_detail


def _alarm_measure_path() -> Path_:
    found = [
        p
        for p in load_paths()
        if p.process_id == "protective_measure"
        and any(step.get("task") == "implement_alarm" for step in p.spec["steps"])
    ]
    assert found, "a protective_measure path installs an alarm"
    return found[0]


def test_a_protective_measure_registers_the_alarm_so_its_events_find_the_official(
    app: Flask, services: Services, session: Session, token: str
) -> None:
    path = _alarm_measure_path()
    measure_case = ScenarioRunner(services, session).run(path)
    installed = next(s for s in path.spec["steps"] if s.get("task") == "implement_alarm")
    alarm_id = installed["data"]["alarm_id"]
    subject = session.scalar(select(Person).where(Person.full_name == path.spec["subject"]))
    assert subject is not None

    alarm = session.scalar(select(RegisteredAlarm).where(RegisteredAlarm.alarm_id == alarm_id))
    assert alarm is not None
    assert (alarm.person_id, alarm.kind, alarm.measure_case_id) == (
        subject.id,
        "personal",
        measure_case,
    )

    response = post(app, token, event(alarm_id=alarm_id, kind="personal"))

    assert response.status_code == 201
    assert response.get_json()["alarm_known"] is True
    case = session.get(ProcessInstance, response.get_json()["case_id"])
    assert case is not None and case.subject_person_id == subject.id


def test_a_burglar_alarm_measure_registers_a_burglar_alarm(
    services: Services, session: Session
) -> None:
    template = _alarm_measure_path()
    spec = json.loads(json.dumps(template.spec))
    for step in spec["steps"]:
        if step.get("task") == "propose_measure":
            step["data"]["kind"] = "burglar_alarm"
        if step.get("task") == "implement_alarm":
            step["data"]["alarm_id"] = "IL-77001"
    ScenarioRunner(services, session).run(Path_("protective_measure", 99, spec))

    alarm = session.scalar(select(RegisteredAlarm).where(RegisteredAlarm.alarm_id == "IL-77001"))
    assert alarm is not None and alarm.kind == "burglar"


def test_the_command_line_creates_lists_and_revokes_clients(
    monkeypatch: pytest.MonkeyPatch, database_url: str, session: Session
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SECRET_KEY", "cli-test-secret")
    runner = CliRunner()

    created = runner.invoke(api_client, ["create", "Larmcentralen Syd"])
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert "spara den säkert" in created.stderr and token not in created.stderr
    session.expire_all()
    assert authenticate(session, f"Bearer {token}") is not None

    listed = runner.invoke(api_client, ["list"])
    assert "Larmcentralen Syd" in listed.stdout and token not in listed.stdout
    assert runner.invoke(api_client, ["create", "Larmcentralen Syd"]).exit_code == 1

    revoked = runner.invoke(api_client, ["revoke", "Larmcentralen Syd"])
    assert revoked.exit_code == 0, revoked.output
    session.expire_all()
    assert authenticate(session, f"Bearer {token}") is None
    assert runner.invoke(api_client, ["revoke", "Ingen sådan"]).exit_code == 1
