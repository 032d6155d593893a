"""Schemathesis over every operation of the OpenAPI document, against the app in-process (WSGI).

Each operation gets generated requests, valid by its schema and deliberately
invalid, from a signed-in security officer (and, for the alarm centre's
operation, a bearer token). Every answer must be no server error and what the
document says (status, content type, headers, body); invalid data and a
missing required header (the CSRF token) must be refused with a 4xx.
Operations with a path parameter are also run against resources that exist
(a reported incident and its open task), so that their success answers are
checked, not only their 404s. The run is bounded and derandomized: CI repeats
it exactly, in seconds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    missing_required_header,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session

from service.api.tokens import create_client
from tests.test_rest_api import ApiPerson, start_incident, task_of

MAX_EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    missing_required_header,
]
POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
ALARMS = "/api/v1/alarm-events"
# Random answers hardly ever fill a form right: these are checked for refusing them.
FORM_POSTS = {"/api/v1/processes/{process_id}/cases", "/api/v1/tasks/{task_id}/completion"}

Call = Callable[[Any], Any]


def _run(
    operation: Any, mode: GenerationMode, call: Call, path_parameters: dict[str, Any] | None
) -> Counter[int]:
    statuses: Counter[int] = Counter()

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        # No shrinking: a failure is reported as first found, and the run stays short.
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def exercise(case: Any) -> None:
        response = call(case)
        statuses[response.status_code] += 1
        case.validate_response(response, checks=CHECKS)

    exercise()
    return statuses


def test_every_operation_answers_as_its_document_says(app: Flask, session: Session) -> None:
    case_id = start_incident(ApiPerson(app, "anna"))
    security = ApiPerson(app, "sakerhet")
    task_id = task_of(security, case_id, "security_assessment")["id"]
    token = create_client(session, "Larmcentralen").token
    session.commit()

    csrf = security.csrf()  # first: the token is kept in the session the cookie carries
    cookie = security.client.get_cookie("session")
    assert cookie is not None
    as_person = {"cookies": {"session": cookie.value}, "headers": {"X-CSRFToken": csrf}}
    as_system = {"headers": {"Authorization": f"Bearer {token}"}}
    existing = {"process_id": "incident", "task_id": task_id, "case_id": case_id}

    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 10
    answered: dict[str, Counter[int]] = {}
    for operation in operations:
        auth = as_system if operation.path == ALARMS else as_person

        def call(case: Any, auth: dict[str, Any] = auth) -> Any:
            return case.call(**auth)

        names = {p.name for p in operation.path_parameters}
        has_body = len(operation.body) > 0
        runs: list[tuple[GenerationMode, dict[str, Any] | None]] = [(POSITIVE, None)]
        if names or has_body:  # negative mode needs something to get wrong
            runs.append((NEGATIVE, None))
        if names:
            fixed = {name: existing[name] for name in names}
            runs.append((POSITIVE, fixed))
            if has_body:
                runs.append((NEGATIVE, fixed))
        statuses: Counter[int] = Counter()
        for mode, fixed_parameters in runs:
            statuses += _run(operation, mode, call, fixed_parameters)
        answered[f"{operation.method.upper()} {operation.path}"] = statuses

    print(f"{sum(sum(c.values()) for c in answered.values())} requests:", answered)
    # The run got past authentication to the operations' own work.
    for label, statuses in answered.items():
        path = label.split(" ", 1)[1]
        wanted = 400 if path in FORM_POSTS else 201 if path == ALARMS else 200
        assert statuses[wanted], f"{label} never answered {wanted}: {statuses}"
