"""The designers' pages over HTTP: versions, diffs, the draft editor, deploy; never case data."""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.models import AuditEvent
from service.cases.models import ProcessInstance
from service.config import PROJECT_ROOT
from service.context import Services
from service.definitions.catalog import ProcessFiles, latest_definition, store_version
from service.definitions.models import ProcessDefinition, ProcessDraft
from service.definitions.scenarios import PathRunner
from tests.scenario_runner import load_paths
from tests.test_incident_routine import report_incident
from tests.web_client import Browser

INTRODUCTION = (PROJECT_ROOT / "processes" / "introduction.bpmn").read_text(encoding="utf-8")
RENAMED = INTRODUCTION.replace('name="Ge introduktion"', 'name="Ge introduktionen"')
# give_introduction moved from the party office's lane into one that is no role.
BAD_LANE = INTRODUCTION.replace('name="party_office"', 'name="nobody_at_all"')


def _draft_page(designer: Browser) -> str:
    page = designer.get("/processes/introduction/draft")
    assert page.status_code == 200, page.status_code
    return page.get_data(as_text=True)


def _lock_and_token(page: str) -> tuple[int, str]:
    lock = re.search(r'data-lock-version="(\d+)"', page)
    token = re.search(r'data-csrf="([^"]+)"', page)
    assert lock and token
    return int(lock.group(1)), token.group(1)


def _save_json(designer: Browser, xml: str, lock: int, token: str) -> tuple[int, dict[str, object]]:
    response = designer.client.post(
        "/processes/introduction/draft/bpmn",
        json={"xml": xml, "lock_version": lock},
        headers={"X-CSRFToken": token, "Accept": "application/json"},
    )
    body = response.get_json()
    assert isinstance(body, dict), response.get_data(as_text=True)[:500]
    return response.status_code, body


def _open_draft(designer: Browser) -> None:
    response = designer.submit(
        "/processes/introduction/draft", {}, form_page="/processes/introduction"
    )
    assert response.status_code == 302
    assert response.location.endswith("/processes/introduction/draft")


def test_process_pages_show_versions_and_counts_but_no_case_data(
    browser: Callable[[str | None], Browser],
) -> None:
    report_incident(browser("anna"), danger_ongoing="no")
    designer = browser("designer")
    listing = designer.text("/processes")
    assert "/processes/incident" in listing and "/processes/introduction" in listing
    page = designer.text("/processes/incident")
    row = re.search(r'<tr data-version="1">(.*?)</tr>', page, re.S)
    assert row, "the versions table has a row per version"
    cells = re.findall(r"<td>(.*?)</td>", row.group(1), re.S)
    assert cells[5].strip() == "1", "one running case on version 1"
    assert "system" in row.group(1) and "Inläst från processes/" in row.group(1)
    # Designers see counts, never who a case is about or what was reported.
    for text in (listing, page):
        assert "Anna Andersson" not in text and "Vi vet var du bor" not in text
    assert designer.get("/cases").status_code == 403


def test_version_page_diagram_and_unknown_version(browser: Callable[[str | None], Browser]) -> None:
    designer = browser("designer")
    page = designer.text("/processes/introduction/versions/1")
    assert "introduction_given" in page and "sha256" in page
    xml = designer.get("/processes/introduction/versions/1/diagram.bpmn")
    assert xml.status_code == 200 and xml.mimetype == "application/xml"
    assert "sandbox" in xml.headers["Content-Security-Policy"]
    assert designer.get("/processes/introduction/versions/99").status_code == 404
    assert designer.get("/processes/no_such_process").status_code == 404


def test_diff_between_two_versions_names_the_changed_steps(
    browser: Callable[[str | None], Browser], session: Session
) -> None:
    v1 = latest_definition(session, "introduction")
    assert v1 is not None
    files = ProcessFiles("introduction", RENAMED, v1.meta, v1.forms, v1.decisions)
    store_version(session, files, "designer", note="Nytt namn")
    session.commit()
    designer = browser("designer")
    page = designer.text("/processes/introduction/diff?from=1&to=2")
    assert "give_introduction" in page
    assert "Ge introduktion" in page and "Ge introduktionen" in page
    same = designer.text("/processes/introduction/diff?from=2&to=2")
    assert 'id="diff-empty"' in same
    assert designer.get("/processes/introduction/diff?from=x&to=2").status_code == 400


def test_draft_edit_validate_and_deploy(
    browser: Callable[[str | None], Browser], session: Session
) -> None:
    designer = browser("designer")
    _open_draft(designer)
    page = _draft_page(designer)
    assert 'id="no-findings"' in page
    lock, token = _lock_and_token(page)

    # A lane that is no role: saved (a draft may be unfinished), with a finding on the task.
    status, body = _save_json(designer, BAD_LANE, lock, token)
    assert status == 200 and body["saved"] is True
    findings = body["findings"]
    assert isinstance(findings, list) and findings
    assert {f["element"] for f in findings} >= {"give_introduction"}
    lock = int(str(body["lock_version"]))
    assert 'id="findings"' in _draft_page(designer)

    # A stale lock version: another designer saved meanwhile.
    status, body = _save_json(designer, RENAMED, lock - 1, token)
    assert status == 409 and "error" in body

    # A hostile document is refused before parsing and stores nothing.
    hostile = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
    )
    status, body = _save_json(designer, hostile, lock, token)
    assert status == 400 and "error" in body
    session.expire_all()
    draft = session.scalar(select(ProcessDraft).where(ProcessDraft.process_id == "introduction"))
    assert draft is not None and draft.bpmn_xml == BAD_LANE

    status, body = _save_json(designer, RENAMED, lock, token)
    assert status == 200 and body["findings"] == []

    # The JSON editor's immediate check: nothing stored, the problem named.
    check = designer.client.post(
        "/processes/introduction/draft/forms/introduction_given/check",
        json={"text": '{"id": "introduction_given",'},
        headers={"X-CSRFToken": token},
    )
    assert check.status_code == 200 and check.get_json()["findings"]

    # A broken form posted without script: 400, the text kept, nothing lost.
    broken = '{"id": "introduction_given", "title": 5}'
    response = designer.submit(
        "/processes/introduction/draft/forms/introduction_given",
        {"form_json": broken, "lock_version": str(body["lock_version"])},
        form_page="/processes/introduction/draft",
    )
    assert response.status_code == 400
    assert "&#34;title&#34;: 5" in response.get_data(as_text=True) or '"title": 5' in (
        response.get_data(as_text=True)
    )

    # Deploy needs a note.
    response = designer.submit(
        "/processes/introduction/draft/deploy", {"note": " "}, "/processes/introduction/draft"
    )
    assert response.status_code == 400
    response = designer.submit(
        "/processes/introduction/draft/deploy",
        {"note": "Tydligare namn på introduktionen (beslut KS 2026-11-20)"},
        "/processes/introduction/draft",
    )
    assert response.status_code == 302 and response.location.endswith("/processes/introduction")
    session.expire_all()
    newest = latest_definition(session, "introduction")
    assert newest is not None and newest.version == 2 and newest.author == "designer"
    assert newest.note.startswith("Tydligare namn")
    assert session.scalar(select(ProcessDraft)) is None
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "process.deployed"))
    assert event is not None and "Tydligare namn" in str(event.details)
    assert '<tr data-version="2">' in designer.text("/processes/introduction")


def test_upload_replaces_the_draft_diagram(
    browser: Callable[[str | None], Browser], session: Session
) -> None:
    designer = browser("designer")
    _open_draft(designer)
    lock, _token = _lock_and_token(_draft_page(designer))
    token = designer.csrf_token("/processes/introduction/draft")
    response = designer.client.post(
        "/processes/introduction/draft/bpmn",
        data={
            "csrf_token": token,
            "lock_version": str(lock),
            "bpmn_file": (__import__("io").BytesIO(RENAMED.encode()), "introduction.bpmn"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    session.expire_all()
    draft = session.scalar(select(ProcessDraft))
    assert draft is not None and "Ge introduktionen" in draft.bpmn_xml
    no_file = designer.client.post("/processes/introduction/draft/bpmn", data={"csrf_token": token})
    assert no_file.status_code == 400


def test_only_designers_reach_the_pages(browser: Callable[[str | None], Browser]) -> None:
    for username in ("anna", "sakerhet", "admin"):
        client = browser(username)
        assert client.get("/processes").status_code == 403
        assert client.get("/processes/introduction").status_code == 403
        assert client.get("/processes/introduction/versions/1/diagram.bpmn").status_code == 403
    assert browser(None).get("/processes/introduction").status_code == 302


def test_a_post_without_csrf_is_refused(
    browser: Callable[[str | None], Browser], session: Session
) -> None:
    designer = browser("designer")
    response = designer.client.post("/processes/introduction/draft", data={})
    assert response.status_code == 400
    assert session.scalar(select(ProcessDraft)) is None
    assert session.scalar(select(ProcessDefinition.id).where(ProcessDefinition.version > 1)) is None


def test_an_older_version_is_made_active_again_and_new_cases_start_on_it(
    browser: Callable[[str | None], Browser], session: Session, services: Services
) -> None:
    """The way back from a deploy that went wrong: no new version, a new activation, audited."""
    v1 = latest_definition(session, "introduction")
    assert v1 is not None
    files = ProcessFiles("introduction", RENAMED, v1.meta, v1.forms, v1.decisions)
    v2, _created = store_version(session, files, "designer", note="Nytt namn")
    session.commit()
    designer = browser("designer")
    page = designer.text("/processes/introduction")
    assert re.search(r'<tr data-version="2">\s*<td>2 <strong>', page), "version 2 is active"

    # No note: refused with the reason, nothing changes.
    response = designer.submit(
        "/processes/introduction/versions/1/activate", {"note": ""}, "/processes/introduction"
    )
    assert response.status_code == 302
    session.expire_all()
    assert latest_definition(session, "introduction") == v2

    response = designer.submit(
        "/processes/introduction/versions/1/activate",
        {"note": "Version 2 gav fel namn i inkorgen; tillbaka tills det är rättat"},
        "/processes/introduction",
    )
    assert response.status_code == 302
    session.expire_all()
    active = latest_definition(session, "introduction")
    assert active is not None and active.version == 1
    assert session.scalar(select(ProcessDefinition.id).where(ProcessDefinition.version > 2)) is None
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "process.activated"))
    assert event is not None and event.details["previous_version"] == 2
    assert "tillbaka" in event.details["note"]
    page = designer.text("/processes/introduction")
    assert re.search(r'<tr data-version="1">\s*<td>1 <strong>', page), "version 1 is active"
    path = next(p for p in load_paths() if p.process_id == "introduction")
    case_id = PathRunner(services, session).start_path("introduction", path.spec)
    session.expire_all()
    started = session.get(ProcessInstance, case_id)
    assert started is not None and started.definition.version == 1

    # Making the active version active again is refused with a message, not an error page.
    again = designer.submit(
        "/processes/introduction/versions/1/activate", {"note": "igen"}, "/processes/introduction"
    )
    assert again.status_code == 302
    assert "redan den aktiva" in designer.text("/processes/introduction")

    # A draft made from version 2 and deployed unchanged points at activation instead.
    _open_draft(designer)
    session.expire_all()
    draft = session.scalar(select(ProcessDraft))
    assert draft is not None
    draft.bpmn_xml = RENAMED
    session.commit()
    response = designer.submit(
        "/processes/introduction/draft/deploy",
        {"note": "Tillbaka till 2"},
        "/processes/introduction/draft",
    )
    assert response.status_code == 400
    assert "gör den aktiv på processens sida" in response.get_data(as_text=True)
