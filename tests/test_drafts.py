"""Designers' drafts: open, save, validate, deploy, discard (service/definitions/drafts.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.audit.models import AuditEvent
from service.cases.models import ProcessInstance
from service.context import Services
from service.definitions import drafts
from service.definitions.catalog import ProcessFiles, latest_definition, store_version
from service.definitions.models import ProcessDefinition, ProcessDraft
from service.definitions.scenarios import PathRunner
from service.definitions.validation_rules import DefinitionFindings
from service.engine import DefinitionError
from service.errors import Conflict, InvalidInput
from service.people.models import User
from tests.scenario_runner import load_paths

LABEL = 'name="Stöd till den drabbade"'
NEW_LABEL = 'name="Ring den drabbade"'


@pytest.fixture
def designer(user_by_name: Callable[[str], User]) -> User:
    return user_by_name("designer")


def _actions(session: Session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_open_draft_copies_the_latest_version_once(session: Session, designer: User) -> None:
    latest = latest_definition(session, "incident")
    assert latest is not None and latest.scenarios
    draft = drafts.open_draft(session, designer, "incident")
    assert draft.base_definition_id == latest.id
    assert draft.bpmn_xml == latest.bpmn_xml
    assert draft.forms == latest.forms and draft.decisions == latest.decisions
    assert draft.scenarios == latest.scenarios
    assert drafts.open_draft(session, designer, "incident") is draft
    assert drafts.get_draft(session, "incident") is draft
    assert drafts.validate_draft(session, draft) == []
    (opened,) = _actions(session, "process.draft_opened")
    assert opened.details == {"process_id": "incident", "from_version": latest.version}


def test_save_bpmn_stores_unfinished_work_and_returns_findings(
    session: Session, designer: User
) -> None:
    draft = drafts.open_draft(session, designer, "incident")
    session.commit()
    lock = draft.lock_version
    broken = draft.bpmn_xml.replace('name="security"', 'name="securitys"', 1)
    assert broken != draft.bpmn_xml
    findings = drafts.save_bpmn(session, designer, draft, broken, lock)
    session.commit()
    assert draft.bpmn_xml == broken
    assert findings and any("not a role id" in f.message for f in findings)
    assert draft.lock_version == lock + 1
    saved = _actions(session, "process.draft_saved")
    assert saved[-1].details["what"] == "bpmn"
    # A stale lock version: another designer saved meanwhile.
    with pytest.raises(Conflict, match="Another designer saved"):
        drafts.save_bpmn(session, designer, draft, draft.bpmn_xml, lock)


@pytest.mark.parametrize(
    "hostile",
    [
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
        "<bpmn:definitions \x00\x01\x02",
        "<not-closed>",
        "<x>" + "a" * (6 * 1024 * 1024) + "</x>",
    ],
    ids=["entity", "binary", "malformed", "too-large"],
)
def test_hostile_xml_stores_nothing(
    services: Services, session: Session, designer: User, hostile: str
) -> None:
    draft = drafts.open_draft(session, designer, "incident")
    session.commit()
    before = draft.bpmn_xml
    with pytest.raises(DefinitionError):
        drafts.save_bpmn(session, designer, draft, hostile, draft.lock_version)
    session.rollback()
    with services.db.sessions() as other:
        stored = other.scalar(select(ProcessDraft).where(ProcessDraft.process_id == "incident"))
        assert stored is not None and stored.bpmn_xml == before
    assert _actions(session, "process.draft_saved") == []


def test_form_text_is_checked_with_line_and_column() -> None:
    (syntax,) = drafts.check_form_text("incident_report", '{\n  "id": "incident_report",\n  x')
    assert syntax.element_id == "incident_report"
    assert "line 3, column 3" in syntax.message
    (wrong_id,) = drafts.check_form_text("incident_report", json.dumps({"id": "other"}))
    assert wrong_id.element_id == "incident_report"
    assert drafts.check_form_text("Bad-Id", "{}")[0].message.startswith("A form id")


def test_save_form_refuses_an_invalid_form_and_stores_a_new_one(
    session: Session, designer: User
) -> None:
    draft = drafts.open_draft(session, designer, "incident")
    form_id, form = sorted(draft.forms.items())[0]
    findings = drafts.save_form(session, designer, draft, form_id, "{ not json", None)
    assert findings and "line 1" in findings[0].message
    assert draft.forms[form_id] == form
    copy = dict(form, id="incident_extra_copy")
    assert (
        drafts.save_form(session, designer, draft, "incident_extra_copy", json.dumps(copy), None)
        == []
    )
    assert draft.forms["incident_extra_copy"] == copy
    assert drafts.save_form(session, designer, draft, "../etc", json.dumps(copy), None)
    assert "../etc" not in draft.forms


def test_a_changed_shared_form_is_refused_with_the_other_process(
    session: Session, designer: User
) -> None:
    # No shipped forms are shared today; make police_report's active version use one of
    # incident's forms as well (as a designer would by naming it in a task).
    draft = drafts.open_draft(session, designer, "incident")
    form_id = sorted(draft.forms)[0]
    police = latest_definition(session, "police_report")
    assert police is not None
    files = ProcessFiles(
        "police_report",
        police.bpmn_xml,
        dict(police.meta),
        {**police.forms, form_id: draft.forms[form_id]},
        dict(police.decisions),
    )
    store_version(session, files, author="designer")
    assert drafts.validate_draft(session, draft) == []
    changed = dict(draft.forms[form_id], title="Ändrad rubrik")
    assert drafts.save_form(session, designer, draft, form_id, json.dumps(changed), None) == []
    findings = [f for f in drafts.validate_draft(session, draft) if f.element_id == form_id]
    assert findings
    assert f"The form {form_id} is also used by {police.name};" in findings[0].message
    assert "new id" in findings[0].message
    with pytest.raises(DefinitionFindings):
        drafts.deploy_draft(session, designer, draft, "Ny rubrik")


def test_scenarios_are_checked_before_they_are_stored(session: Session, designer: User) -> None:
    draft = drafts.open_draft(session, designer, "incident")
    before = list(draft.scenarios)
    path = dict(before[0])
    bad = [dict(path, surprise=1), dict(path, steps=[{"task": "no_such_task", "as": "anna"}])]
    findings = drafts.save_scenarios(session, designer, draft, json.dumps(bad), None)
    assert any("unknown key 'surprise'" in f.message for f in findings)
    assert any(f.element_id == "no_such_task" for f in findings)
    assert draft.scenarios == before
    # The whole file's object is accepted; the draft keeps its list of paths.
    text = json.dumps({"process_id": "incident", "paths": before[:2]})
    assert drafts.save_scenarios(session, designer, draft, text, None) == []
    assert draft.scenarios == before[:2]
    wrong = json.dumps({"process_id": "police_report", "paths": before})
    assert drafts.save_scenarios(session, designer, draft, wrong, None)


def test_deploy_makes_the_next_version_new_cases_start_on_it_old_cases_keep_theirs(
    services: Services, session: Session, designer: User
) -> None:
    old = latest_definition(session, "incident")
    assert old is not None
    path = next(p for p in load_paths() if p.process_id == "incident" and p.index == 4)
    runner = PathRunner(services, session)
    old_case = runner.start_path("incident", path.spec)

    draft = drafts.open_draft(session, designer, "incident")
    with pytest.raises(InvalidInput):
        drafts.deploy_draft(session, designer, draft, "   ")
    with pytest.raises(drafts.NothingChanged) as same:
        drafts.deploy_draft(session, designer, draft, "Ingen ändring")
    assert same.value.params == {"version": old.version}
    drafts.save_bpmn(session, designer, draft, draft.bpmn_xml.replace(LABEL, NEW_LABEL), None)
    new = drafts.deploy_draft(session, designer, draft, "Beslut KS 2026-11-28: ny rubrik")
    session.commit()
    assert new.version == old.version + 1
    assert new.author == "designer" and new.note == "Beslut KS 2026-11-28: ny rubrik"
    assert new.scenarios == old.scenarios
    assert drafts.get_draft(session, "incident") is None
    (deployed,) = _actions(session, "process.deployed")
    assert deployed.details == {
        "process_id": "incident",
        "version": new.version,
        "sha256": new.sha256,
        "note": "Beslut KS 2026-11-28: ny rubrik",
    }
    # The same content again: nothing to deploy, and the message names the version.
    again = drafts.open_draft(session, designer, "incident")
    with pytest.raises(drafts.NothingChanged) as twice:
        drafts.deploy_draft(session, designer, again, "Igen")
    assert twice.value.params == {"version": new.version}
    drafts.discard_draft(session, designer, again)
    session.commit()
    assert _actions(session, "process.draft_discarded")

    new_case = PathRunner(services, session).run_path("incident", path.spec)
    assert session.get(ProcessInstance, new_case).definition_id == new.id  # type: ignore[union-attr]

    # The old case finishes on the version it started on.
    def resume(process_id: str, spec: dict[str, Any]) -> int:
        return old_case

    runner.start_path = resume  # type: ignore[method-assign]
    runner.run_path("incident", path.spec)
    finished = session.get(ProcessInstance, old_case)
    assert finished is not None
    assert finished.definition_id == old.id and finished.status == "completed"
    count = session.scalar(
        select(func.count())
        .select_from(ProcessDefinition)
        .where(ProcessDefinition.process_id == "incident")
    )
    assert count == 2


def test_a_draft_with_findings_is_not_deployed(session: Session, designer: User) -> None:
    draft = drafts.open_draft(session, designer, "incident")
    drafts.save_bpmn(
        session, designer, draft, draft.bpmn_xml.replace('id="party_support"', 'id="Start"'), None
    )
    with pytest.raises(DefinitionFindings) as refused:
        drafts.deploy_draft(session, designer, draft, "Prova")
    assert refused.value.findings
    assert drafts.get_draft(session, "incident") is not None
    assert _actions(session, "process.deployed") == []
    assert session.scalar(select(ProcessDraft.id)) is not None
