"""A designer's draft of a process's next version: open, edit, validate, test, deploy, discard.

One draft per process, shared by the designers. Saving keeps unfinished work
(a diagram that parses is stored even with findings); deploying requires a
draft with no findings and a note, and stores it as the next version through
catalog.store_version, the same path the shipped files take. Every action is
in the audit trail with ids, counts and the designer's note, never case data.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.service import record
from service.context import Services
from service.definitions import scenarios as scenario_tests
from service.definitions.catalog import (
    ProcessFiles,
    content_hash,
    latest_definition,
    latest_definitions,
    store_version,
    validate_definition,
)
from service.definitions.models import ProcessDefinition, ProcessDraft
from service.definitions.notes import NOTE_MAX, required_note
from service.definitions.validation_rules import DefinitionFindings, Finding, FindingList
from service.engine import DefinitionError
from service.engine.parsing import decision_ids, decisions_used
from service.engine.xmlsafety import parse_xml_safely
from service.errors import N_, Conflict, NotFound
from service.formdefs import FormDefinitionError, load_form
from service.people.models import User

DraftFindings = list[Finding]

FORM_ID = re.compile(r"[a-z][a-z0-9_]{0,80}")
MAX_JSON_CHARS = 1024 * 1024  # a form or scenario file far beyond any real one


class NothingChanged(Conflict):
    """Deploying would store content an existing version already has."""

    def __init__(self, version: int, active: bool = True) -> None:
        super().__init__(
            N_(
                "Nothing has changed: the draft is the same as version %(version)s. "
                "Change something before deploying."
            )
            if active
            else N_(
                "The draft is the same as version %(version)s. To use that version again, "
                "make it active on the process page; running cases are not affected."
            ),
            version=version,
        )
        self.version = version


def get_draft(session: Session, process_id: str) -> ProcessDraft | None:
    return session.scalar(select(ProcessDraft).where(ProcessDraft.process_id == process_id))


def open_draft(
    session: Session, actor: User, process_id: str, from_version: int | None = None
) -> ProcessDraft:
    """The process's draft, made from the given (or the latest) version when there is none."""
    existing = get_draft(session, process_id)
    if existing is not None:
        return existing
    if from_version is None:
        base = latest_definition(session, process_id)
    else:
        base = session.scalar(
            select(ProcessDefinition).where(
                ProcessDefinition.process_id == process_id,
                ProcessDefinition.version == from_version,
            )
        )
    if base is None:
        raise NotFound(N_("The process or version does not exist."))
    draft = ProcessDraft(
        process_id=process_id,
        base_definition_id=base.id,
        bpmn_xml=base.bpmn_xml,
        forms=dict(base.forms or {}),
        decisions=dict(base.decisions or {}),
        meta=dict(base.meta or {}),
        scenarios=list(base.scenarios or []),
        created_by=actor.username,
        updated_by=actor.username,
    )
    session.add(draft)
    session.flush()
    record(session, actor, "process.draft_opened", process_id=process_id, from_version=base.version)
    return draft


# ---------------------------------------------------------------- validation


def _available_decisions(draft: ProcessDraft) -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    for name, text in sorted((draft.decisions or {}).items()):
        try:
            for decision in decision_ids(str(text)):
                found.setdefault(decision, (name, str(text)))
        except DefinitionError:
            continue
    return found


def _used_decisions(draft: ProcessDraft) -> dict[str, str]:
    """The draft's DMN files its business rule tasks call (as a version stores them)."""
    available = _available_decisions(draft)
    try:
        called = decisions_used(draft.bpmn_xml)
    except DefinitionError:
        return dict(draft.decisions or {})
    chosen: dict[str, str] = {}
    for decision in sorted(called):
        if decision in available:
            name, text = available[decision]
            chosen[name] = text
    return chosen


def _catalog_ids(session: Session) -> set[str]:
    return set(session.scalars(select(ProcessDefinition.process_id).distinct()))


def _definition_findings(
    session: Session, draft: ProcessDraft
) -> tuple[list[Finding], dict[str, Any] | None]:
    """validate_definition's findings, and the forms the version would freeze (None: unknown)."""
    try:
        _parsed, used = validate_definition(
            draft.process_id,
            draft.bpmn_xml,
            draft.meta,
            draft.forms or {},
            dmn=list(_used_decisions(draft).values()),
            known_processes=_catalog_ids(session) | {draft.process_id},
        )
    except DefinitionFindings as exc:
        return list(exc.findings), None
    except DefinitionError as exc:
        return [Finding.from_error(exc)], None
    return [], used


def shared_form_findings(
    session: Session, draft: ProcessDraft, forms: dict[str, Any]
) -> list[Finding]:
    """A form another process's active version uses too must stay identical in both."""
    findings: list[Finding] = []
    for other in latest_definitions(session):
        if other.process_id == draft.process_id:
            continue
        for form_id, content in sorted(forms.items()):
            theirs = (other.forms or {}).get(form_id)
            if theirs is not None and theirs != content:
                findings.append(
                    Finding.of(
                        form_id,
                        N_(
                            "The form %(form)s is also used by %(process)s; a form shared by "
                            "two processes must be the same in both. Give this form a new id "
                            "(copy it) or change it in both."
                        ),
                        form=form_id,
                        process=other.name,
                    )
                )
    return findings


def scenario_findings(draft: ProcessDraft, paths: Any = None) -> list[Finding]:
    value = draft.scenarios if paths is None else paths
    found_paths, findings = scenario_tests.scenario_paths(value or [], draft.process_id)
    tasks = scenario_tests.user_task_ids(draft.bpmn_xml, draft.process_id)
    return findings + scenario_tests.structure_findings(found_paths, tasks)


def validate_draft(session: Session, draft: ProcessDraft) -> list[Finding]:
    """Everything that stops the draft from being deployed; empty when it may be."""
    findings, used = _definition_findings(session, draft)
    findings.extend(
        shared_form_findings(session, draft, used if used is not None else draft.forms or {})
    )
    findings.extend(scenario_findings(draft))
    return findings


# ---------------------------------------------------------------- saving


def _check_lock(draft: ProcessDraft, expected: int | None) -> None:
    if expected is not None and expected != draft.lock_version:
        raise Conflict(
            N_(
                "Another designer saved the draft meanwhile. Reload the page to see "
                "their changes, then make yours again."
            )
        )


def _touch(draft: ProcessDraft, actor: User) -> None:
    from service.db import utcnow

    draft.updated_by = actor.username
    draft.updated_at = utcnow()


def refuse_hostile_xml(bpmn_xml: str) -> None:
    """Raise DefinitionError for text that must not even be stored."""
    if "\x00" in bpmn_xml:
        raise DefinitionError.of(
            N_("The file is binary, not BPMN text. Export the diagram from the modeler as .bpmn.")
        )
    # Size, DOCTYPE/entities and well-formedness, before anything is kept.
    parse_xml_safely(bpmn_xml)


def save_bpmn(
    session: Session,
    actor: User,
    draft: ProcessDraft,
    bpmn_xml: str,
    expected_lock_version: int | None,
) -> list[Finding]:
    """Store a diagram that parses (even with findings) and return the findings."""
    _check_lock(draft, expected_lock_version)
    refuse_hostile_xml(bpmn_xml)
    draft.bpmn_xml = bpmn_xml
    _touch(draft, actor)
    session.flush()
    findings = validate_draft(session, draft)
    record(
        session,
        actor,
        "process.draft_saved",
        process_id=draft.process_id,
        what="bpmn",
        findings=len(findings),
    )
    return findings


def _json_findings(element: str | None, text: str) -> tuple[Any, list[Finding]]:
    if len(text) > MAX_JSON_CHARS:
        return None, [
            Finding.of(
                element,
                N_("The text is longer than %(limit)s KiB; shorten it."),
                limit=MAX_JSON_CHARS // 1024,
            )
        ]
    try:
        return json.loads(text), []
    except json.JSONDecodeError as exc:
        return None, [
            Finding.of(
                element,
                N_("The JSON is not valid at line %(line)s, column %(column)s: %(detail)s."),
                line=exc.lineno,
                column=exc.colno,
                detail=exc.msg,
            )
        ]


def check_form_text(form_id: str, text: str) -> list[Finding]:
    """The JSON editor's immediate check of one form; nothing is stored."""
    if not FORM_ID.fullmatch(form_id or ""):
        return [
            Finding.of(
                form_id or None,
                N_(
                    "A form id starts with a lowercase letter and holds only lowercase "
                    "letters a-z, digits and _ (at most 81 characters)."
                ),
            )
        ]
    raw, findings = _json_findings(form_id, text)
    if findings:
        return findings
    try:
        load_form(raw, expected_id=form_id)
    except FormDefinitionError as exc:
        return [Finding.from_error(exc, form_id)]
    return []


def save_form(
    session: Session,
    actor: User,
    draft: ProcessDraft,
    form_id: str,
    text: str,
    expected_lock_version: int | None,
) -> list[Finding]:
    """Store a valid form (new ids allowed); an invalid one is refused with its findings."""
    _check_lock(draft, expected_lock_version)
    findings = check_form_text(form_id, text)
    if findings:
        return findings
    forms = dict(draft.forms or {})
    is_new = form_id not in forms
    forms[form_id] = json.loads(text)
    draft.forms = forms  # a new dict: the JSON column sees the change
    _touch(draft, actor)
    session.flush()
    record(
        session,
        actor,
        "process.draft_saved",
        process_id=draft.process_id,
        what="form",
        form_id=form_id,
        new=is_new,
    )
    return []


def save_scenarios(
    session: Session,
    actor: User,
    draft: ProcessDraft,
    text: str,
    expected_lock_version: int | None,
) -> list[Finding]:
    """Store the scenario paths (a list, or the file's {"process_id", "paths"} object).

    The draft keeps the list of paths; refused (nothing stored) when the text
    is not valid JSON or a path is malformed.
    """
    _check_lock(draft, expected_lock_version)
    raw, findings = _json_findings(None, text)
    if findings:
        return findings
    paths, findings = scenario_tests.scenario_paths(raw, draft.process_id)
    tasks = scenario_tests.user_task_ids(draft.bpmn_xml, draft.process_id)
    findings += scenario_tests.structure_findings(paths, tasks)
    if findings:
        return findings
    draft.scenarios = list(paths)
    _touch(draft, actor)
    session.flush()
    record(
        session,
        actor,
        "process.draft_saved",
        process_id=draft.process_id,
        what="scenarios",
        paths=len(paths),
    )
    return []


# ---------------------------------------------------------------- testing


def run_draft_scenarios(
    services: Services, session: Session, actor: User, draft: ProcessDraft
) -> list[scenario_tests.PathResult]:
    """Run the draft's scenario paths on the draft in a sandbox; real cases are untouched."""
    paths, findings = scenario_tests.scenario_paths(draft.scenarios or [], draft.process_id)
    findings += scenario_tests.structure_findings(
        paths, scenario_tests.user_task_ids(draft.bpmn_xml, draft.process_id)
    )
    if findings:
        results = [
            scenario_tests.PathResult(
                name=str(p.get("name") if isinstance(p, dict) else f"Path {i + 1}"),
                index=i,
                passed=False,
                **scenario_tests.failure_fields(
                    Finding.of(
                        None,
                        N_("The scenarios have problems; fix them first: %(problems)s"),
                        problems=FindingList(findings),
                    )
                ),
            )
            for i, p in enumerate(paths or [None])
        ]
    else:
        try:
            results = scenario_tests.run_in_sandbox(services, session, draft, paths)
        except DefinitionError as exc:
            results = [
                scenario_tests.PathResult(
                    name=str(p.get("name", f"Path {i + 1}")),
                    index=i,
                    passed=False,
                    **scenario_tests.failure_fields(
                        Finding.of(
                            None,
                            N_("The draft cannot run: %(problem)s"),
                            problem=replace(Finding.from_error(exc), element_id=None),
                        )
                    ),
                )
                for i, p in enumerate(paths)
            ]
    record(
        session,
        actor,
        "process.draft_tested",
        process_id=draft.process_id,
        paths=len(results),
        passed=sum(1 for r in results if r.passed),
    )
    return results


# ---------------------------------------------------------------- deploying


def check_note(note: str) -> str:
    return required_note(
        note, N_("Write a note saying what changed and why: it is kept with the version.")
    )


def deploy_draft(
    session: Session,
    actor: User,
    draft: ProcessDraft,
    note: str,
    *,
    expected_lock_version: int | None = None,
) -> ProcessDefinition:
    """Make the draft the process's next version; new cases start on it, running ones stay.

    Raises InvalidInput (note), Conflict (lock; NothingChanged when an
    existing version has the same content) or DefinitionFindings.
    """
    _check_lock(draft, expected_lock_version)
    note = check_note(note)
    findings, used = _definition_findings(session, draft)
    if used is not None:
        findings.extend(shared_form_findings(session, draft, used))
    findings.extend(scenario_findings(draft))
    if findings or used is None:
        raise DefinitionFindings(findings or [Finding.of(None, N_("The draft is not valid."))])
    decisions = _used_decisions(draft)
    sha = content_hash(draft.bpmn_xml, used, draft.meta, decisions)
    same = session.scalar(
        select(ProcessDefinition.version).where(
            ProcessDefinition.process_id == draft.process_id, ProcessDefinition.sha256 == sha
        )
    )
    if same is not None:
        active = latest_definition(session, draft.process_id)
        raise NothingChanged(same, active=active is not None and active.version == same)
    files = ProcessFiles(
        draft.process_id,
        draft.bpmn_xml,
        dict(draft.meta),
        used,
        decisions,
        scenarios=list(draft.scenarios or []),
    )
    row, _created = store_version(session, files, author=actor.username, note=note)
    record(
        session,
        actor,
        "process.deployed",
        process_id=draft.process_id,
        version=row.version,
        sha256=row.sha256,
        note=note,
    )
    session.delete(draft)
    session.flush()
    return row


def discard_draft(
    session: Session,
    actor: User,
    draft: ProcessDraft,
    note: str = "",
    *,
    expected_lock_version: int | None = None,
) -> None:
    _check_lock(draft, expected_lock_version)
    details: dict[str, Any] = {"process_id": draft.process_id}
    if note.strip():
        details["note"] = note.strip()[:NOTE_MAX]
    record(session, actor, "process.draft_discarded", **details)
    session.delete(draft)
    session.flush()
