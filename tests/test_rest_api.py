"""The REST API over HTTP: the incident routine, the refusals, and its OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from service.api.tokens import create_client
from service.audit.models import AuditEvent
from service.cases.models import ProcessInstance
from service.tasks.models import HumanTask
from tests import incident_data as answers
from tests.web_client import Browser

PROBLEM_JSON = "application/problem+json"
PROCESSES = "/api/v1/processes"
TASKS = "/api/v1/tasks"


class ApiPerson:
    """A person using the API with the web login's session cookie, as a browser's script would."""

    def __init__(self, app: Flask, username: str | None) -> None:
        self.browser = Browser(app)
        if username is not None:
            self.browser.login(username)
        self.client = self.browser.client

    def csrf(self) -> str:
        response = self.client.get("/api/v1/csrf-token")
        assert response.status_code == 200, response.get_data(as_text=True)
        token: str = response.get_json()["csrf_token"]
        return token

    def get(self, url: str) -> TestResponse:
        return self.client.get(url)

    def post(self, url: str, body: Any, *, csrf: bool = True) -> TestResponse:
        headers = {"X-CSRFToken": self.csrf()} if csrf else {}
        return self.client.post(url, json=body, headers=headers)


Make = Callable[[str | None], ApiPerson]


@pytest.fixture
def api(app: Flask) -> Make:
    return lambda username: ApiPerson(app, username)


# The report as JSON: the web form's yes/no become JSON booleans.
REPORT = {
    **answers.report(),
    "danger_ongoing": False,
    "harm_occurred": False,
    "police_contacted": False,
    "in_committee_activity": False,
}
ASSESSMENT = {**answers.ASSESSMENT, "assessment_notes": "Bara för säkerhetsavdelningen."}


def start_incident(person: ApiPerson, data: dict[str, Any] | None = None) -> int:
    response = person.post(f"{PROCESSES}/incident/cases", {"data": data or REPORT})
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert response.headers["Location"] == f"/api/v1/cases/{body['id']}"
    case_id: int = body["id"]
    return case_id


def task_of(person: ApiPerson, case_id: int, bpmn_id: str) -> dict[str, Any]:
    response = person.get(TASKS)
    assert response.status_code == 200, response.get_data(as_text=True)
    found = [t for t in response.get_json() if t["case_id"] == case_id and t["bpmn_id"] == bpmn_id]
    assert found, f"no {bpmn_id} of case {case_id} in {response.get_json()}"
    task: dict[str, Any] = found[0]
    return task


def count_cases(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count(ProcessInstance.id))) or 0


def assert_problem(response: TestResponse, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status and body["type"] == "about:blank"
    assert body["title"] and body["detail"]
    return body


# -- the incident routine ------------------------------------------------------------------


def test_the_incident_routine_through_the_api(api: Make, session: Session) -> None:
    anna = api("anna")

    processes = {p["process_id"]: p for p in anna.get(PROCESSES).get_json()}
    assert "incident" in processes
    incident = processes["incident"]
    assert incident["needs_subject"] is True
    report_form = {f["name"]: f for f in incident["start_form"]["fields"]}
    assert report_form["danger_ongoing"]["type"] == "boolean"
    assert report_form["danger_ongoing"]["required"] is True
    assert {"value": "threat", "label": "Hot"} in report_form["kind"]["choices"]
    organisations = report_form["organisation_id"]["choices"]
    assert organisations and all(isinstance(c["value"], int) for c in organisations)
    assert report_form["organisation_id"]["show_if"] == {
        "field": "in_committee_activity",
        "values": [True],
    }

    case_id = start_incident(anna)

    sakerhet = api("sakerhet")
    listed = task_of(sakerhet, case_id, "security_assessment")
    assert listed["status"] == "open" and listed["role"] == "security"
    task = sakerhet.get(f"{TASKS}/{listed['id']}")
    assert task.status_code == 200, task.get_data(as_text=True)
    detail = task.get_json()
    assert detail["form"]["id"] == "incident_assessment"
    form = {f["name"]: f for f in detail["form"]["fields"]}
    assert form["severity"]["type"] == "string" and form["severity"]["required"] is True
    assert form["severity"]["enum"] == ["low", "medium", "high", "very_high"]
    assert form["severity"]["label"]
    assert form["measures"]["type"] == "array" and form["measures"]["required"] is False
    assert form["assessment_notes"]["visible_to"] == ["security", "security_lead"]

    done = sakerhet.post(f"{TASKS}/{listed['id']}/completion", {"data": ASSESSMENT})
    assert done.status_code == 200, done.get_data(as_text=True)
    assert done.get_json()["status"] == "completed"

    case = anna.get(f"/api/v1/cases/{case_id}")
    assert case.status_code == 200, case.get_data(as_text=True)
    body = case.get_json()
    assert body["process_id"] == "incident" and body["status"] == "running"
    assert body["subject"]["full_name"] == "Anna Andersson"
    steps = {s["bpmn_id"]: s for s in body["timeline"]}
    assert set(steps) == {"start", "security_assessment"}
    report = {a["field"]: a for a in steps["start"]["answers"]}
    assert report["description"]["value"] == REPORT["description"]
    assert report["danger_ongoing"] == {
        "field": "danger_ongoing",
        "label": report_form["danger_ongoing"]["label"],
        "value": False,
        "text": "Nej",
    }
    assessment = {a["field"]: a for a in steps["security_assessment"]["answers"]}
    assert assessment["severity"]["value"] == "high"
    assert assessment["measures"]["value"] == ["police_report", "crisis_support"]
    # visible_to: the official does not read the security department's notes ...
    assert "assessment_notes" not in assessment
    # ... which the security department does.
    theirs = sakerhet.get(f"/api/v1/cases/{case_id}").get_json()
    notes = next(s for s in theirs["timeline"] if s["bpmn_id"] == "security_assessment")
    assert "assessment_notes" in {a["field"] for a in notes["answers"]}
    actions = [h["action"] for h in body["history"]]
    assert actions[0] == "case.started" and "task.completed" in actions
    assert {"case.viewed", "task.viewed"} <= set(actions)
    assert {w["name"] for w in body["waiting"]}, "the case goes on"
    assert [link["process_id"] for link in body["links"]] == ["police_report"]


def test_an_answer_of_the_wrong_type_is_refused_and_the_web_spellings_are_taken(
    api: Make, session: Session
) -> None:
    anna = api("anna")
    before = count_cases(session)

    wrong = anna.post(
        f"{PROCESSES}/incident/cases",
        {"data": {**REPORT, "danger_ongoing": "maybe", "description": 7, "kind": ["threat"]}},
    )
    errors = assert_problem(wrong, 400)["errors"]
    assert errors == {
        "danger_ongoing": ["invalid"],
        "description": ["invalid"],
        "kind": ["invalid"],
    }
    assert count_cases(session) == before

    # The web form's own spellings ("yes"/"no") are valid here too.
    assert start_incident(anna, answers.report())


# -- refusals ------------------------------------------------------------------------------


def test_bad_data_is_a_400_with_field_errors_and_nothing_is_stored(
    api: Make, session: Session
) -> None:
    anna = api("anna")
    before = count_cases(session)
    audit_before = session.scalar(select(func.count(AuditEvent.id)))

    response = anna.post(
        f"{PROCESSES}/incident/cases",
        {"data": {**REPORT, "kind": "fire", "description": None, "typename": "X", "extra": 1}},
    )

    problem = assert_problem(response, 400)
    assert problem["errors"] == {
        "kind": ["not_a_choice"],
        "description": ["required"],
        "typename": ["forbidden_key"],
        "extra": ["unknown_field"],
    }
    for field in ("kind", "description", "typename", "extra"):
        assert field in problem["detail"]
    assert count_cases(session) == before
    session.expire_all()
    assert session.scalar(select(func.count(AuditEvent.id))) == audit_before

    too_long = anna.post(f"{PROCESSES}/incident/cases", {"data": {**REPORT, "location": "x" * 501}})
    body = assert_problem(too_long, 400)
    assert body["errors"] == {"location": ["length"]}
    assert body["error_params"] == {"location": {"min": 0, "max": 500}}

    envelope = anna.post(f"{PROCESSES}/incident/cases", {"data": REPORT, "subject": "anna"})
    assert assert_problem(envelope, 400)["errors"] == {"subject": ["unknown_field"]}
    not_an_object = anna.post(f"{PROCESSES}/incident/cases", ["data"])
    assert assert_problem(not_an_object, 400)["errors"] == {"body": ["invalid"]}
    assert count_cases(session) == before


def test_another_officials_case_and_another_roles_task_are_403(api: Make) -> None:
    anna = api("anna")
    case_id = start_incident(anna)
    task_id = task_of(api("sakerhet"), case_id, "security_assessment")["id"]

    assert_problem(api("david").get(f"/api/v1/cases/{case_id}"), 403)
    assert_problem(anna.get(f"{TASKS}/{task_id}"), 403)
    refused = anna.post(f"{TASKS}/{task_id}/completion", {"data": answers.ASSESSMENT})
    assert_problem(refused, 403)
    # Reporting about someone else: anna may only report for herself.
    david = api("david").get(PROCESSES)
    assert david.status_code == 200


def test_reporting_for_a_person_one_may_not_is_403(
    api: Make, person_id: Callable[[str], int]
) -> None:
    response = api("anna").post(
        f"{PROCESSES}/incident/cases",
        {"subject_person_id": person_id("Bertil Berg"), "data": REPORT},
    )
    assert_problem(response, 403)


def test_without_authentication_every_operation_is_401(api: Make) -> None:
    anonymous = api(None)
    for response in (
        anonymous.get(PROCESSES),
        anonymous.get(TASKS),
        anonymous.get(f"{TASKS}/1"),
        anonymous.get("/api/v1/cases/1"),
        anonymous.post(f"{PROCESSES}/incident/cases", {"data": REPORT}),
        anonymous.post(f"{TASKS}/1/completion", {"data": {}}),
    ):
        assert_problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Cookie")


def test_a_task_done_twice_is_409(api: Make, session: Session) -> None:
    case_id = start_incident(api("anna"))
    sakerhet = api("sakerhet")
    task_id = task_of(sakerhet, case_id, "security_assessment")["id"]

    first = sakerhet.post(f"{TASKS}/{task_id}/completion", {"data": answers.ASSESSMENT})
    assert first.status_code == 200
    again = sakerhet.post(f"{TASKS}/{task_id}/completion", {"data": answers.ASSESSMENT})

    assert_problem(again, 409)
    session.expire_all()
    task = session.get(HumanTask, task_id)
    assert task is not None and task.submitted_data is not None
    assert task.submitted_data["severity"] == "high"


def test_a_session_post_without_the_csrf_token_is_a_400_problem(
    api: Make, session: Session
) -> None:
    anna = api("anna")
    before = count_cases(session)

    missing = anna.post(f"{PROCESSES}/incident/cases", {"data": REPORT}, csrf=False)
    wrong = anna.client.post(
        f"{PROCESSES}/incident/cases", json={"data": REPORT}, headers={"X-CSRFToken": "nope"}
    )

    for response in (missing, wrong):
        assert "CSRF" in assert_problem(response, 400)["detail"]
    assert count_cases(session) == before


def test_a_body_that_is_not_json_is_415(api: Make, session: Session) -> None:
    anna = api("anna")
    response = anna.client.post(
        f"{PROCESSES}/incident/cases",
        data="kind=threat",
        content_type="application/x-www-form-urlencoded",
        headers={"X-CSRFToken": anna.csrf()},
    )
    assert_problem(response, 415)
    assert count_cases(session) == 0


def test_unknown_resources_and_methods_are_problems(api: Make) -> None:
    sakerhet = api("sakerhet")
    assert_problem(sakerhet.get(f"{TASKS}/999999"), 404)
    assert_problem(sakerhet.get("/api/v1/cases/999999"), 404)
    assert_problem(sakerhet.get(f"{TASKS}/99999999999"), 404)  # beyond any id: no SQL
    assert_problem(sakerhet.post(f"{PROCESSES}/no_such/cases", {"data": {}}), 404)
    assert_problem(sakerhet.get("/api/v2/anything"), 404)
    wrong_method = sakerhet.client.delete(f"{TASKS}/1")
    assert_problem(wrong_method, 405)
    assert wrong_method.headers["Allow"] == "GET, HEAD"


def test_a_system_token_may_post_alarms_but_not_read_cases_or_tasks(
    app: Flask, api: Make, session: Session
) -> None:
    case_id = start_incident(api("anna"))
    token = create_client(session, "Larmcentralen").token
    session.commit()
    client = app.test_client()
    bearer = {"Authorization": f"Bearer {token}"}

    for response in (
        client.get(f"/api/v1/cases/{case_id}", headers=bearer),
        client.get(TASKS, headers=bearer),
        client.get(PROCESSES, headers=bearer),
        client.post(f"{PROCESSES}/incident/cases", json={"data": REPORT}, headers=bearer),
    ):
        assert_problem(response, 403)
    # A token that is not one is a 401, even with a session beside it.
    anna = api("anna")
    forged = anna.client.get(f"/api/v1/cases/{case_id}", headers={"Authorization": "Bearer x"})
    assert_problem(forged, 401)
    assert 'error="invalid_token"' in forged.headers["WWW-Authenticate"]


# -- the document --------------------------------------------------------------------------

OPERATIONS = {
    ("GET", "/api/v1/csrf-token"),
    ("GET", "/api/v1/processes"),
    ("POST", "/api/v1/processes/{process_id}/cases"),
    ("GET", "/api/v1/tasks"),
    ("GET", "/api/v1/tasks/{task_id}"),
    ("POST", "/api/v1/tasks/{task_id}/completion"),
    ("POST", "/api/v1/tasks/{task_id}/claim"),
    ("POST", "/api/v1/tasks/{task_id}/unclaim"),
    ("GET", "/api/v1/cases/{case_id}"),
    ("POST", "/api/v1/alarm-events"),
}


def test_the_openapi_document_is_valid_and_complete(app: Flask) -> None:
    response = app.test_client().get("/api/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    document = response.get_json()
    assert document["openapi"].startswith("3.")

    schema = schemathesis.openapi.from_dict(document)
    schema.validate()  # against the OpenAPI 3.0 meta-schema
    loaded = [result.ok() for result in schema.get_all_operations()]
    assert {(op.method.upper(), op.path) for op in loaded} == OPERATIONS

    problem_ref = {"$ref": "#/components/schemas/Problem"}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert operation["summary"] and operation["operationId"], (method, path)
            statuses = set(operation["responses"])
            if operation["security"]:
                assert "401" in statuses, (method, path)
            if method == "post" and path != "/api/v1/alarm-events":
                # 400 for the CSRF token; 415 only where there is a body to send as JSON.
                assert "400" in statuses, (method, path)
                if "requestBody" in operation:
                    assert "415" in statuses, (method, path)
            for status, answer in operation["responses"].items():
                content = answer["content"]
                if status.startswith(("4", "5")):
                    assert content == {PROBLEM_JSON: {"schema": problem_ref}}, (method, path)
                else:
                    assert "application/json" in content, (method, path)


def test_the_api_page_lists_every_operation(app: Flask) -> None:
    page = app.test_client().get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    for method, path in OPERATIONS:
        assert f"{method} {path}" in text
    # Nothing from elsewhere: the page works offline and under the app's CSP.
    assert "<script" not in text and "http://" not in text and "https://" not in text


# -- what fuzzing the API found ------------------------------------------------------------


def test_json_nested_past_the_parsers_stack_is_a_400_not_a_500(
    app: Flask, api: Make, session: Session
) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    anna = api("anna")
    person = anna.client.post(
        f"{PROCESSES}/incident/cases",
        data=deep,
        content_type="application/json",
        headers={"X-CSRFToken": anna.csrf()},
    )
    assert_problem(person, 400)
    token = create_client(session, "Larmcentralen").token
    session.commit()
    system = app.test_client().post(
        "/api/v1/alarm-events",
        data=deep,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert "JSON" in assert_problem(system, 400)["detail"]


@pytest.mark.parametrize("time", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:00-01:00"])
def test_an_alarm_at_the_ends_of_the_calendar_is_a_400_not_a_500(
    app: Flask, session: Session, time: str
) -> None:
    token = create_client(session, "Larmcentralen").token
    session.commit()
    event = {"event_id": "E-1", "alarm_id": "A-1", "kind": "personal", "time": time}
    response = app.test_client().post(
        "/api/v1/alarm-events",
        json={**event, "location": "Götgatan 12"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert assert_problem(response, 400)["errors"] == {
        "time": ["Not a plausible time for an alarm (years 2000–2099)."]
    }
    assert count_cases(session) == 0
