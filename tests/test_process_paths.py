"""Every path of every process (processes/*.scenarios.json) through the service layer, with the policy's
checks; the first path of each process also over HTTP, with another role refused each task."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session

from service.auth import policy
from service.context import Services
from service.people.models import User
from service.tasks.models import HumanTask
from tests.scenario_runner import Path_, ScenarioRunner, load_paths
from tests.web_client import Browser

PATHS = load_paths()
FIRST_PATHS = [p for p in PATHS if p.index == 0]
# Tried in order to find someone who must be refused a task.
OUTSIDERS = (
    "designer",
    "admin",
    "namnd",
    "tib",
    "kansli.gp",
    "bertil",
    "sakerhet",
    "anna",
    "kansli.fp",
)


@pytest.mark.parametrize("path", PATHS, ids=[p.id for p in PATHS])
def test_path_through_the_service_layer(services: Services, session: Session, path: Path_) -> None:
    ScenarioRunner(services, session).run(path)


@pytest.mark.parametrize("path", FIRST_PATHS, ids=[p.id for p in FIRST_PATHS])
def test_path_over_http_with_other_roles_refused(
    services: Services,
    session: Session,
    browser: Callable[[str | None], Browser],
    path: Path_,
) -> None:
    runner = ScenarioRunner(services, session)
    clients: dict[str, Browser] = {}

    def client(username: str) -> Browser:
        if username not in clients:
            clients[username] = browser(username)
        return clients[username]

    def start_over_http(path: Path_) -> int:
        starter = client(path.spec["starter"])
        subject = runner.person(path.spec.get("subject"))
        url = f"/start/{path.process_id}" + (f"/{subject.id}" if subject else "")
        response = starter.submit(url, path.spec.get("start") or {})
        assert response.status_code == 302, response.get_data(as_text=True)[:3000]
        return int(re.findall(r"/cases/(\d+)", response.location)[0])

    def complete_over_http(task: HumanTask, worker: User, data: dict[str, Any]) -> None:
        outsider = next(u for u in OUTSIDERS if not policy.can_work_task(runner.user(u), task))
        assert client(outsider).get(f"/tasks/{task.id}").status_code == 403, outsider
        response = client(worker.username).submit(f"/tasks/{task.id}", data)
        assert response.status_code == 302, response.get_data(as_text=True)[:3000]

    runner.start = start_over_http  # type: ignore[method-assign]
    case_id = runner.run(path, complete=complete_over_http)
    page = client(path.spec["starter"]).get(f"/cases/{case_id}")
    assert page.status_code == 200
