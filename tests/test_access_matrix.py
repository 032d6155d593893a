"""The access matrix: every route of the URL map × every kind of user, against expectations.

Generated from the URL map, so a new route without a rule here fails. The
result to keep: zero unexpected allows (and no unexpected refusals).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.context import Services
from service.jobs.queue import enqueue
from service.notify.models import Notification
from service.people.models import Person, User
from service.tasks.models import HumanTask
from tests import incident_data as answers
from tests.test_incident_routine import report_incident
from tests.test_notifications import _fan_out
from tests.web_client import Browser

ANON = "anonymous"
ACTORS = (
    ANON,
    "anna",
    "david",
    "kansli.fp",
    "kansli.gp",
    "sakerhet",
    "sakerhetschef",
    "tib",
    "namnd",
    "designer",
    "admin",
)
SIGNED_IN = frozenset(ACTORS) - {ANON}
EVERYONE = frozenset(ACTORS)
CASE_WORKERS = SIGNED_IN - {"designer", "admin"}
REPORTERS = frozenset(
    {"anna", "david", "kansli.fp", "kansli.gp", "sakerhet", "sakerhetschef", "tib"}
)
# Who may see Anna's incident (she reported danger: the TiB has a task in it).
CASE_VIEWERS = frozenset({"anna", "kansli.fp", "sakerhet", "sakerhetschef", "tib"})
SECURITY = frozenset({"sakerhet", "sakerhetschef"})


@dataclass(frozen=True)
class Rule:
    method: str
    url: Callable[[World], str]
    allowed: frozenset[str]
    data: Callable[[World], dict[str, Any]] | None = None
    json: bool = False


@dataclass
class World:
    case_id: int
    security_task: int
    anna_person: int
    notification: int
    job: int


RULES: dict[str, list[Rule]] = {
    "home.index": [Rule("GET", lambda w: "/", SIGNED_IN)],
    "home.administration": [Rule("GET", lambda w: "/administration", frozenset({"admin"}))],
    "home.processes": [Rule("GET", lambda w: "/processes", frozenset({"designer"}))],
    "home.healthz": [Rule("GET", lambda w: "/healthz", EVERYONE)],
    "admin.jobs": [Rule("GET", lambda w: "/administration/jobs", frozenset({"admin"}))],
    "admin.retry_job": [
        Rule(
            "POST",
            lambda w: f"/administration/jobs/{w.job}/retry",
            frozenset({"admin"}),
            lambda w: {},
        )
    ],
    "api_docs.docs_page": [Rule("GET", lambda w: "/api/docs", EVERYONE)],
    "api_docs.openapi_json": [Rule("GET", lambda w: "/api/openapi.json", EVERYONE)],
    "alarm-centre.post_alarm_event": [
        Rule("POST", lambda w: "/api/v1/alarm-events", frozenset(), lambda w: {}, json=True)
    ],
    "people.read_case": [Rule("GET", lambda w: f"/api/v1/cases/{w.case_id}", CASE_VIEWERS)],
    "people.get_csrf_token": [Rule("GET", lambda w: "/api/v1/csrf-token", EVERYONE)],
    "people.list_processes": [Rule("GET", lambda w: "/api/v1/processes", SIGNED_IN)],
    "people.start_process": [
        Rule(
            "POST",
            lambda w: "/api/v1/processes/incident/cases",
            frozenset({"anna", "kansli.fp", "sakerhet", "sakerhetschef", "tib"}),
            lambda w: {"subject_person_id": w.anna_person, "data": answers.report()},
            json=True,
        )
    ],
    "people.list_tasks": [Rule("GET", lambda w: "/api/v1/tasks", CASE_WORKERS)],
    "people.read_task": [Rule("GET", lambda w: f"/api/v1/tasks/{w.security_task}", SECURITY)],
    "people.complete": [
        Rule(
            "POST",
            lambda w: f"/api/v1/tasks/{w.security_task}/completion",
            SECURITY,
            lambda w: {"data": {"severity": "low"}},
            json=True,
        )
    ],
    "cases.index": [Rule("GET", lambda w: "/cases", CASE_WORKERS)],
    "cases.detail": [Rule("GET", lambda w: f"/cases/{w.case_id}", CASE_VIEWERS)],
    "cases.report": [Rule("GET", lambda w: "/report", REPORTERS)],
    "cases.catalogue": [Rule("GET", lambda w: "/start", CASE_WORKERS)],
    "cases.choose": [
        Rule("GET", lambda w: "/start/incident", REPORTERS),
        Rule(
            "POST", lambda w: "/start/committee_risk_analysis", frozenset({"namnd"}), lambda w: {}
        ),
    ],
    "cases.start": [
        Rule("GET", lambda w: f"/start/incident/{w.anna_person}", CASE_VIEWERS),
        Rule(
            "POST",
            lambda w: f"/start/incident/{w.anna_person}",
            CASE_VIEWERS,
            lambda w: answers.report(),
        ),
    ],
    "tasks.inbox": [Rule("GET", lambda w: "/inbox", CASE_WORKERS)],
    "tasks.task": [
        Rule("GET", lambda w: f"/tasks/{w.security_task}", SECURITY),
        Rule(
            "POST",
            lambda w: f"/tasks/{w.security_task}",
            frozenset(),
            lambda w: {"severity": "bogus"},
        ),
    ],
    "notify.index": [Rule("GET", lambda w: "/notifications", SIGNED_IN)],
    "notify.follow": [
        Rule("GET", lambda w: f"/notifications/{w.notification}", frozenset({"sakerhet"}))
    ],
    "notify.read_all": [Rule("POST", lambda w: "/notifications/read-all", SIGNED_IN, lambda w: {})],
    "auth.login": [Rule("GET", lambda w: "/login", EVERYONE)],
    "auth.logout": [Rule("POST", lambda w: "/logout", SIGNED_IN, lambda w: {})],
    "auth.language": [Rule("POST", lambda w: "/language", EVERYONE, lambda w: {"lang": "sv"})],
    "static": [Rule("GET", lambda w: "/static/site.css", EVERYONE)],
}
# tasks.task POST as the security user is a real completion (tested elsewhere);
# here every POST with bad data must be refused for outsiders and answered
# 400 for the task's own role, never 2xx. The alarm endpoint takes no session.


def _world(services: Services, session: Session, browser: Callable[[str | None], Browser]) -> World:
    case_id = report_incident(browser("anna"), danger_ongoing="yes")
    _fan_out(services)
    security_task = session.scalar(
        select(HumanTask.id).where(
            HumanTask.instance_id == case_id, HumanTask.bpmn_id == "security_assessment"
        )
    )
    anna = session.scalar(select(Person.id).where(Person.full_name == "Anna Andersson"))
    sakerhet = session.scalar(select(User.id).where(User.username == "sakerhet"))
    note = session.scalar(select(Notification.id).where(Notification.user_id == sakerhet))
    job = enqueue(session, "test.unknown_kind", {})
    session.commit()
    job.status = "dead"
    session.commit()
    assert security_task and anna and note
    return World(case_id, security_task, anna, note, job.id)


def _call(client: Browser, rule: Rule, world: World) -> int:
    url = rule.url(world)
    if rule.method == "GET":
        return client.get(url).status_code
    payload = rule.data(world) if rule.data else {}
    if rule.json:
        token = client.get("/api/v1/csrf-token").get_json()
        headers = {"X-CSRFToken": token.get("csrf_token", "")} if isinstance(token, dict) else {}
        return client.client.post(url, json=payload, headers=headers).status_code
    page = client.get("/login" if client.username is None else "/notifications").get_data(
        as_text=True
    )
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    return client.client.post(
        url, data={**payload, "csrf_token": match.group(1) if match else ""}
    ).status_code


def test_every_route_has_a_rule(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints - set(RULES) == set(), "a route without an access rule: add it to RULES"
    for rule in app.url_map.iter_rules():
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        covered = {r.method for r in RULES[rule.endpoint]}
        missing = set(methods) - covered - ({"POST"} if rule.endpoint == "auth.login" else set())
        assert not missing, f"{rule.endpoint}: no rule for {missing}"


def test_access_matrix(
    app: Flask, services: Services, session: Session, browser: Callable[[str | None], Browser]
) -> None:
    world = _world(services, session, browser)
    clients = {actor: browser(None if actor == ANON else actor) for actor in ACTORS}
    unexpected_allows, unexpected_refusals, checked = [], [], 0
    for endpoint, rules in sorted(RULES.items()):
        for rule in rules:
            for actor in ACTORS:
                if rule.method == "POST" and endpoint == "auth.logout":
                    continue  # would sign the shared client out; covered in test_auth
                status = _call(clients[actor], rule, world)
                checked += 1
                refused = status in (400, 401, 403, 404, 405, 409) or (
                    status == 302 and actor == ANON and endpoint not in ("auth.language",)
                )
                # 409: an allowed colleague already did it (a real completion); 400: bad data on purpose
                expected_no = status == 409 or (rule.data is not None and status == 400)
                if actor in rule.allowed and refused and not expected_no:
                    unexpected_refusals.append((endpoint, rule.method, actor, status))
                if actor not in rule.allowed and not refused:
                    unexpected_allows.append((endpoint, rule.method, actor, status))
    print(f"access matrix: {checked} requests, {len(unexpected_allows)} unexpected allows")
    assert unexpected_allows == []
    assert unexpected_refusals == [], unexpected_refusals
