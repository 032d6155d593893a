"""The access matrix: every route of the URL map × every kind of user, against expectations.

Generated from the URL map, so a new route without a rule here fails. The
result to keep: zero unexpected allows (and no unexpected refusals).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.casenotes.attachments import add_attachment
from service.casenotes.storage import AttachmentStore
from service.cases.models import ProcessInstance
from service.context import Services
from service.definitions.drafts import open_draft
from service.jobs.queue import enqueue
from service.notify.models import Notification
from service.people.models import Person, User
from service.secrecy.release import decide, release_fields
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
LEAD = frozenset({"sakerhetschef"})
DESIGNER = frozenset({"designer"})
# The smallest valid PNG (1×1, transparent): an evidence file for the upload routes.
PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
POLICE_SUMMARY = CASE_VIEWERS - {"tib"}
STATISTICS = SECURITY | {"kansli.fp", "kansli.gp", "namnd"}


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
    # Evidence files in the case: one for everyone in it, one for the security department only.
    attachment: int = 0
    secret_attachment: int = 0
    # The party office's support task in the case, and the one party office user who may hold it.
    party_task: int = 0
    fp_office: int = 0
    # A user outside ACTORS whose second factor the administrator resets (signs them out).
    bystander: int = 0
    # A release decision (utlämnande) on the case, for its printout.
    release_decision: int = 0


RULES: dict[str, list[Rule]] = {
    "home.index": [Rule("GET", lambda w: "/", SIGNED_IN)],
    "home.administration": [Rule("GET", lambda w: "/administration", frozenset({"admin"}))],
    # Designers' pages. The world has a draft of `introduction` (edited here) and
    # one of `alarm_event` (discarded here); deploying with no note is a 400.
    "designer.processes": [Rule("GET", lambda w: "/processes", DESIGNER)],
    "designer.process": [Rule("GET", lambda w: "/processes/introduction", DESIGNER)],
    "designer.version": [Rule("GET", lambda w: "/processes/introduction/versions/1", DESIGNER)],
    "designer.activate": [
        Rule(
            "POST", lambda w: "/processes/introduction/versions/1/activate", DESIGNER, lambda w: {}
        )
    ],
    "designer.version_diagram": [
        Rule("GET", lambda w: "/processes/introduction/versions/1/diagram.bpmn", DESIGNER)
    ],
    "designer.diff": [
        Rule("GET", lambda w: "/processes/introduction/diff?from=1&to=draft", DESIGNER)
    ],
    "designer.draft": [
        Rule("GET", lambda w: "/processes/introduction/draft", DESIGNER),
    ],
    "designer.open_draft": [
        Rule("POST", lambda w: "/processes/security_conversation/draft", DESIGNER, lambda w: {})
    ],
    "designer.draft_diagram": [
        Rule("GET", lambda w: "/processes/introduction/draft/diagram.bpmn", DESIGNER)
    ],
    "designer.save_bpmn": [
        Rule("POST", lambda w: "/processes/introduction/draft/bpmn", DESIGNER, lambda w: {})
    ],
    "designer.check_form": [
        Rule(
            "POST",
            lambda w: "/processes/introduction/draft/forms/introduction_given/check",
            DESIGNER,
            lambda w: {"text": "{"},
            json=True,
        )
    ],
    "designer.save_form": [
        Rule(
            "POST",
            lambda w: "/processes/introduction/draft/forms/introduction_given",
            DESIGNER,
            lambda w: {"form_json": "{"},
        )
    ],
    "designer.add_form": [
        Rule(
            "POST",
            lambda w: "/processes/introduction/draft/forms",
            DESIGNER,
            lambda w: {"form_id": "Not An Id", "form_json": "{}"},
        )
    ],
    "designer.save_scenarios": [
        Rule(
            "POST",
            lambda w: "/processes/introduction/draft/scenarios",
            DESIGNER,
            lambda w: {"scenarios_json": "not json"},
        )
    ],
    "designer.test_draft": [
        Rule("POST", lambda w: "/processes/introduction/draft/test", DESIGNER, lambda w: {})
    ],
    "designer.deploy": [
        Rule("POST", lambda w: "/processes/introduction/draft/deploy", DESIGNER, lambda w: {})
    ],
    "designer.discard": [
        Rule("POST", lambda w: "/processes/alarm_event/draft/discard", DESIGNER, lambda w: {})
    ],
    # Moving running cases between versions (the world's cases are all on version 1:
    # a plan or a move of a case number that does not exist is refused per case, a
    # revert without a note is a 400).
    "migration.select_cases": [Rule("GET", lambda w: "/processes/incident/migrate", DESIGNER)],
    "migration.plan": [
        Rule(
            "POST",
            lambda w: "/processes/incident/migrate/plan",
            DESIGNER,
            lambda w: {"case": str(w.case_id), "to": "1"},
        )
    ],
    "migration.migrate": [
        Rule(
            "POST",
            lambda w: "/processes/incident/migrate",
            DESIGNER,
            lambda w: {"case": str(w.case_id), "to": "1"},
        ),
    ],
    "migration.history": [Rule("GET", lambda w: "/processes/incident/migrations", DESIGNER)],
    "migration.revert": [
        Rule("POST", lambda w: "/processes/incident/migrations/1/revert", DESIGNER, lambda w: {})
    ],
    # Operators' probes: no personal data, no sign-in; /metrics answers the
    # loopback address (the test client's) when no token is set.
    "health.healthz": [Rule("GET", lambda w: "/healthz", EVERYONE)],
    "health.readyz": [Rule("GET", lambda w: "/readyz", EVERYONE)],
    "health.metrics": [Rule("GET", lambda w: "/metrics", EVERYONE)],
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
    "people.claim_task": [
        Rule(
            "POST",
            lambda w: f"/api/v1/tasks/{w.party_task}/claim",
            frozenset({"kansli.fp"}),
            lambda w: {},
            json=True,
        )
    ],
    "people.unclaim_task": [
        Rule(
            "POST",
            lambda w: f"/api/v1/tasks/{w.party_task}/unclaim",
            frozenset({"kansli.fp"}),
            lambda w: {},
            json=True,
        )
    ],
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
    "casenotes.comment": [
        Rule(
            "POST",
            lambda w: f"/cases/{w.case_id}/comments",
            CASE_VIEWERS,
            lambda w: {"body": "Ringde upp, allt lugnt.", "visibility": "case"},
        )
    ],
    "casenotes.upload": [
        Rule(
            "POST",
            lambda w: f"/cases/{w.case_id}/attachments",
            CASE_VIEWERS,
            lambda w: {"file": (io.BytesIO(PNG_BYTES), "skarmbild.png"), "visibility": "case"},
        )
    ],
    # A security-only file: 404 for everyone else in the case (its existence is not told).
    "casenotes.download": [
        Rule(
            "GET",
            lambda w: f"/cases/{w.case_id}/attachments/{w.attachment}",
            CASE_VIEWERS,
        ),
        Rule(
            "GET",
            lambda w: f"/cases/{w.case_id}/attachments/{w.secret_attachment}",
            SECURITY,
        ),
    ],
    "diagram.case_diagram": [
        Rule("GET", lambda w: f"/cases/{w.case_id}/diagram.bpmn", CASE_VIEWERS)
    ],
    # The summary for the police: the official concerned, their party office, the
    # security department; not the TiB, who sees the case through its own task.
    "police.page": [Rule("GET", lambda w: f"/cases/{w.case_id}/police-summary", POLICE_SUMMARY)],
    "police.pdf": [Rule("GET", lambda w: f"/cases/{w.case_id}/police-summary.pdf", POLICE_SUMMARY)],
    # Reports: the compliance view is the security department's; the statistics also the
    # party offices' (own party) and the administrations' (the whole city), small counts hidden.
    "reports.compliance": [Rule("GET", lambda w: "/reports/compliance", SECURITY)],
    "reports.compliance_csv": [Rule("GET", lambda w: "/reports/compliance.csv", SECURITY)],
    "reports.compliance_pdf": [Rule("GET", lambda w: "/reports/compliance.pdf", SECURITY)],
    "reports.statistics": [Rule("GET", lambda w: "/reports/statistics", STATISTICS)],
    "reports.statistics_csv": [Rule("GET", lambda w: "/reports/statistics.csv", STATISTICS)],
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
    # Claims run in this order on the party office's task: claimed (API), given back
    # (API), claimed (web), offered to its holder again (400), given back (web).
    "tasks.claim": [
        Rule(
            "POST", lambda w: f"/tasks/{w.party_task}/claim", frozenset({"kansli.fp"}), lambda w: {}
        )
    ],
    "tasks.unclaim": [
        Rule(
            "POST",
            lambda w: f"/tasks/{w.party_task}/unclaim",
            frozenset({"kansli.fp"}),
            lambda w: {},
        )
    ],
    "tasks.reassign": [
        Rule("GET", lambda w: f"/tasks/{w.party_task}/reassign", frozenset({"sakerhetschef"})),
        Rule(
            "POST",
            lambda w: f"/tasks/{w.party_task}/reassign",
            frozenset({"sakerhetschef"}),
            lambda w: {"to_user": w.fp_office, "reason": "workload"},
        ),
    ],
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
    # The code step exists only half-way through a password sign-in: without
    # one, the anonymous are sent to /login and the signed-in home (a 302 each).
    "second_factor.verify": [
        Rule("GET", lambda w: "/login/totp", SIGNED_IN),
        Rule("POST", lambda w: "/login/totp", SIGNED_IN, lambda w: {"code": "000000"}),
    ],
    "second_factor.enrol": [
        Rule("GET", lambda w: "/login/totp/enrol", SIGNED_IN),
        Rule("POST", lambda w: "/login/totp/enrol", SIGNED_IN, lambda w: {"code": "000000"}),
    ],
    "second_factor.reset": [
        Rule(
            "POST",
            lambda w: f"/administration/users/{w.bystander}/second-factor/reset",
            frozenset({"admin"}),
            lambda w: {},
        )
    ],
    # A wrong current password: 400 for everyone signed in, nothing changed.
    "account.password": [
        Rule("GET", lambda w: "/account/password", SIGNED_IN),
        Rule(
            "POST",
            lambda w: "/account/password",
            SIGNED_IN,
            lambda w: {
                "current_password": "not the password",
                "new_password": "ett nytt långt lösenord",
                "new_password_again": "ett nytt långt lösenord",
            },
        ),
    ],
    "auth.logout": [Rule("POST", lambda w: "/logout", SIGNED_IN, lambda w: {})],
    "auth.language": [Rule("POST", lambda w: "/language", EVERYONE, lambda w: {"lang": "sv"})],
    # Single sign-on is off in the embedded default: its routes answer 404 to everyone
    # (with it on, tests/test_sso.py walks them against a real provider).
    "sso.start": [Rule("GET", lambda w: "/login/sso", frozenset())],
    "sso.callback": [Rule("GET", lambda w: "/login/sso/callback?code=x&state=y", frozenset())],
    "static": [Rule("GET", lambda w: "/static/site.css", EVERYONE)],
    # Data protection: the security lead only. Erasure without the confirmation is a 400
    # (nothing erased); the legal hold is really set.
    "privacy.index": [Rule("GET", lambda w: "/privacy", LEAD)],
    "privacy.retention": [Rule("GET", lambda w: "/privacy/retention", LEAD)],
    "privacy.subject": [
        Rule("GET", lambda w: f"/privacy/people/{w.anna_person}", LEAD),
        Rule("GET", lambda w: f"/privacy/accounts/{w.fp_office}", LEAD),
    ],
    "privacy.export_page": [Rule("GET", lambda w: f"/privacy/people/{w.anna_person}/export", LEAD)],
    "privacy.export_json": [
        Rule("GET", lambda w: f"/privacy/people/{w.anna_person}/export.json", LEAD)
    ],
    "privacy.erase": [
        Rule("GET", lambda w: f"/privacy/people/{w.anna_person}/erase", LEAD),
        Rule("POST", lambda w: f"/privacy/people/{w.anna_person}/erase", LEAD, lambda w: {}),
    ],
    "privacy.legal_hold": [
        Rule("GET", lambda w: f"/cases/{w.case_id}/legal-hold", LEAD),
        Rule(
            "POST",
            lambda w: f"/cases/{w.case_id}/legal-hold",
            LEAD,
            lambda w: {"reason": "Mål B 1234-26 vid Stockholms tingsrätt"},
        ),
    ],
    # Utlämnande with the secret answers masked: the security department.
    "release.release": [
        Rule("GET", lambda w: f"/cases/{w.case_id}/release", SECURITY),
        Rule("POST", lambda w: f"/cases/{w.case_id}/release", SECURITY, lambda w: {}),
    ],
    "release.printout": [
        Rule("GET", lambda w: f"/cases/{w.case_id}/releases/{w.release_decision}", SECURITY)
    ],
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
    world = World(case_id, security_task, anna, note, job.id)
    world.party_task = (
        session.scalar(
            select(HumanTask.id).where(
                HumanTask.instance_id == case_id, HumanTask.bpmn_id == "party_support"
            )
        )
        or 0
    )
    world.fp_office = session.scalar(select(User.id).where(User.username == "kansli.fp")) or 0
    assert world.party_task and world.fp_office
    world.bystander = session.scalar(select(User.id).where(User.username == "bertil")) or 0
    _add_attachments(services, session, world)
    world.release_decision = _release_decision(services, session, world)
    designer = session.scalar(select(User).where(User.username == "designer"))
    assert designer is not None
    for process_id in ("introduction", "alarm_event"):
        open_draft(session, designer, process_id)
    session.commit()
    return world


def _release_decision(services: Services, session: Session, world: World) -> int:
    instance = session.get(ProcessInstance, world.case_id)
    security = session.scalar(select(User).where(User.username == "sakerhet"))
    assert instance is not None and security is not None
    fields = release_fields(services, session, instance)
    decision = decide(session, security, instance, fields, None, {})
    session.commit()
    return decision.id


def _add_attachments(services: Services, session: Session, world: World) -> None:
    instance = session.get(ProcessInstance, world.case_id)
    security = session.scalar(select(User).where(User.username == "sakerhet"))
    assert instance is not None and security is not None
    store = AttachmentStore(services.settings.attachments_dir)
    for level in ("case", "security"):
        added = add_attachment(
            session,
            store,
            security,
            instance,
            file_name="hot.png",
            content=PNG_BYTES,
            visibility=level,
            description=None,
        )
        if level == "case":
            world.attachment = added.id
        else:
            world.secret_attachment = added.id


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
