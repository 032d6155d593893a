"""Load processes/ and forms/ into versioned definition rows, and serve parsed versions.

A definition version freezes the BPMN text, the forms it uses and its
metadata together under one sha256: changing any of them makes a new version,
and a running case keeps using the version it started on.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from threading import Lock
from typing import Any

from sqlalchemy import func, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from service.db import utcnow
from service.definitions.models import ProcessDefinition
from service.definitions.validation_rules import (
    DefinitionFindings,
    Finding,
    call_target_findings,
    structure_findings,
)
from service.engine import DefinitionError, ParsedProcess, parse_process
from service.engine.parsing import decision_ids, decisions_used
from service.engine.scripting import check_code
from service.engine.xmlsafety import parse_xml_safely
from service.errors import N_
from service.formdefs import FormDef, FormDefinitionError, load_form
from service.people.models import LANE_ROLES, Role

log = logging.getLogger(__name__)

STARTER_ROLES = frozenset(r.value for r in Role)


@dataclass(frozen=True)
class ProcessFiles:
    process_id: str
    bpmn_xml: str
    meta: dict[str, Any]
    forms: dict[str, Any]
    decisions: dict[str, str] = field(default_factory=dict)
    # The scenario paths (processes/<id>.scenarios.json); not part of the content hash.
    scenarios: list[Any] | None = None


def read_forms(forms_dir: Path) -> dict[str, Any]:
    forms: dict[str, Any] = {}
    for path in sorted(forms_dir.glob("*.json")):
        try:
            forms[path.stem] = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DefinitionError(f"forms/{path.name} is not valid JSON: {exc}") from exc
    return forms


def _validate_meta(process_id: str, meta: Any) -> dict[str, Any]:
    if not isinstance(meta, dict):
        raise DefinitionError.of(
            N_("processes/%(process)s.json must hold a JSON object"), process=process_id
        )
    for key in ("title", "description"):
        if not isinstance(meta.get(key), str) or not meta[key].strip():
            raise DefinitionError.of(
                N_("processes/%(process)s.json needs a Swedish '%(key)s'"),
                process=process_id,
                key=key,
            )
    if meta.get("subject", "required") not in ("required", "none"):
        raise DefinitionError.of(
            N_("processes/%(process)s.json: 'subject' is 'required' or 'none'"),
            process=process_id,
        )
    starters = meta.get("starters")
    if not isinstance(starters, list) or not set(starters) <= STARTER_ROLES:
        raise DefinitionError.of(
            N_("processes/%(process)s.json: 'starters' must list role ids from %(roles)s"),
            process=process_id,
            roles=str(sorted(STARTER_ROLES)),
        )
    return meta


def validate_definition(
    process_id: str,
    bpmn_xml: str,
    meta: Any,
    all_forms: dict[str, Any],
    dmn: Sequence[str] = (),
    known_processes: Collection[str] = (),
) -> tuple[ParsedProcess, dict[str, Any]]:
    """Everything checked before a version may be stored; returns the parse and its forms.

    Raises DefinitionFindings with every problem found once the document
    parses (a document that does not parse stops at its first error).
    known_processes: the other process ids being deployed or in the catalog,
    which call activities may call.
    """
    meta = _validate_meta(process_id, meta)
    # Call targets are checked on the raw XML first: the parser itself stops
    # at a missing target with a message that names no element.
    early = call_target_findings(parse_xml_safely(bpmn_xml), known_processes)
    try:
        parsed = parse_process(bpmn_xml, process_id, f"{process_id}.bpmn", dmn_xmls=dmn)
    except DefinitionError as exc:
        if early:
            raise DefinitionFindings([*early, Finding.from_error(exc)]) from exc
        raise
    findings: list[Finding] = list(early)
    used: dict[str, Any] = {}
    form_ids = [(t.bpmn_id, t.form) for t in parsed.user_tasks]
    if parsed.start_form:
        form_ids.append(("start event", parsed.start_form))
    for task in parsed.user_tasks:
        if task.lane not in LANE_ROLES:
            findings.append(
                Finding.of(
                    task.bpmn_id,
                    N_(
                        "The user task lies in lane '%(lane)s', which is not a role id (%(roles)s)."
                    ),
                    lane=str(task.lane),
                    roles=", ".join(sorted(LANE_ROLES)),
                )
            )
    for element, form_id in form_ids:
        if not form_id:
            findings.append(
                Finding.of(
                    element,
                    N_("The user task has no 'form' property naming a file in forms/."),
                )
            )
            continue
        if form_id not in all_forms:
            findings.append(
                Finding.of(
                    element, N_("The form '%(form)s' does not exist in forms/."), form=form_id
                )
            )
            continue
        try:
            load_form(all_forms[form_id], expected_id=form_id)
        except FormDefinitionError as exc:
            findings.append(Finding.from_error(exc, element))
            continue
        used[form_id] = all_forms[form_id]
    for element, code, is_expression in parsed.expressions:
        problem = check_code(code, expression=is_expression)
        if problem:
            # The compiler's own explanation stays as it is, inside a translated sentence.
            template = (
                N_("The condition cannot be used: %(problem)s")
                if is_expression
                else N_("The script cannot be used: %(problem)s")
            )
            findings.append(Finding.of(element, template, problem=problem))
    findings.extend(structure_findings(bpmn_xml, parsed.expressions, used, dmn_xmls=dmn))
    if findings:
        raise DefinitionFindings(findings)
    return parsed, used


def read_decisions(processes_dir: Path) -> dict[str, tuple[str, str]]:
    """decision id → (file name, DMN text) for every *.dmn in processes_dir."""
    found: dict[str, tuple[str, str]] = {}
    for path in sorted(processes_dir.glob("*.dmn")):
        text = path.read_text(encoding="utf-8")
        for decision in decision_ids(text):
            if decision in found:
                raise DefinitionError(f"The decision {decision!r} is defined twice ({path.name})")
            found[decision] = (path.name, text)
    return found


def decisions_for(bpmn_xml: str, available: dict[str, tuple[str, str]]) -> dict[str, str]:
    """The DMN files (name → text) that a process's business rule tasks call."""
    chosen: dict[str, str] = {}
    for decision in sorted(decisions_used(bpmn_xml)):
        if decision not in available:
            raise DefinitionError(
                f"The decision {decision!r} is called but no .dmn file defines it"
            )
        name, text = available[decision]
        chosen[name] = text
    return chosen


def read_scenarios(processes_dir: Path, process_id: str) -> list[Any] | None:
    """The paths of processes/<id>.scenarios.json, or None when the process has none."""
    path = processes_dir / f"{process_id}.scenarios.json"
    if not path.exists():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DefinitionError(f"processes/{path.name} is not valid JSON: {exc}") from exc
    if (
        not isinstance(value, dict)
        or value.get("process_id") != process_id
        or not isinstance(value.get("paths"), list)
    ):
        raise DefinitionError(
            f'processes/{path.name} must hold {{"process_id": "{process_id}", "paths": [...]}}'
        )
    return list(value["paths"])


def read_process_files(processes_dir: Path, forms_dir: Path) -> list[ProcessFiles]:
    all_forms = read_forms(forms_dir)
    available = read_decisions(processes_dir)
    found = []
    paths = sorted(processes_dir.glob("*.bpmn"))
    known = {p.stem for p in paths}
    for path in paths:
        process_id = path.stem
        meta_path = path.with_suffix(".json")
        if not meta_path.exists():
            raise DefinitionError(
                f"processes/{process_id}.json (title, description, starters) is missing"
            )
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        bpmn_xml = path.read_text(encoding="utf-8")
        decisions = decisions_for(bpmn_xml, available)
        _parsed, used = validate_definition(
            process_id,
            bpmn_xml,
            meta,
            all_forms,
            dmn=list(decisions.values()),
            known_processes=known,
        )
        found.append(
            ProcessFiles(
                process_id,
                bpmn_xml,
                meta,
                used,
                decisions,
                scenarios=read_scenarios(processes_dir, process_id),
            )
        )
    return found


def content_hash(
    bpmn_xml: str, forms: dict[str, Any], meta: dict[str, Any], decisions: dict[str, str]
) -> str:
    digest = hashlib.sha256(bpmn_xml.encode("utf-8"))
    for name in sorted(decisions):
        digest.update(name.encode("utf-8") + decisions[name].encode("utf-8"))
    digest.update(json.dumps(forms, sort_keys=True, ensure_ascii=False).encode("utf-8"))
    digest.update(json.dumps(meta, sort_keys=True, ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()


def store_version(
    session: Session, files: ProcessFiles, author: str, note: str = ""
) -> tuple[ProcessDefinition, bool]:
    """Store a new version unless identical content is already stored. Returns (row, created)."""
    sha = content_hash(files.bpmn_xml, files.forms, files.meta, files.decisions)
    existing = session.scalar(
        select(ProcessDefinition).where(
            ProcessDefinition.process_id == files.process_id, ProcessDefinition.sha256 == sha
        )
    )
    if existing is not None:
        # Tests describe a version, they do not change it: new scenarios for
        # identical content update the stored version instead of making one.
        if files.scenarios is not None and existing.scenarios != files.scenarios:
            existing.scenarios = list(files.scenarios)
        return existing, False
    latest = session.scalar(
        select(func.max(ProcessDefinition.version)).where(
            ProcessDefinition.process_id == files.process_id
        )
    )
    row = ProcessDefinition(
        process_id=files.process_id,
        version=(latest or 0) + 1,
        name=str(files.meta["title"]),
        bpmn_xml=files.bpmn_xml,
        forms=files.forms,
        decisions=files.decisions,
        meta=files.meta,
        sha256=sha,
        scenarios=list(files.scenarios) if files.scenarios is not None else None,
        author=author,
        note=note,
        activated_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row, True


def sync_from_files(
    session: Session, processes_dir: Path, forms_dir: Path, author: str = "system"
) -> list[ProcessDefinition]:
    """Load every process in processes_dir; a changed file becomes a new version."""
    created = []
    for files in read_process_files(processes_dir, forms_dir):
        row, is_new = store_version(session, files, author, note="Inläst från processes/")
        if is_new:
            log.info(
                "definition stored", extra={"process_id": row.process_id, "version": row.version}
            )
            created.append(row)
    return created


def _activation_order() -> tuple[Any, ...]:
    """Newest activation first; the version number breaks a tie (rows loaded in one go)."""
    activated = func.coalesce(ProcessDefinition.activated_at, ProcessDefinition.created_at)
    return (activated.desc(), ProcessDefinition.version.desc())


def latest_definitions(session: Session) -> list[ProcessDefinition]:
    """The active version of every process: the one new cases start on."""
    ranked = select(
        ProcessDefinition.id,
        func.row_number()
        .over(partition_by=ProcessDefinition.process_id, order_by=_activation_order())
        .label("rank"),
    ).subquery()
    return list(
        session.scalars(
            select(ProcessDefinition)
            .join(ranked, (ProcessDefinition.id == ranked.c.id) & (ranked.c.rank == 1))
            .order_by(ProcessDefinition.process_id)
        )
    )


def versions_of(session: Session, process_id: str) -> list[ProcessDefinition]:
    """Every stored version of one process, newest number first."""
    return list(
        session.scalars(
            select(ProcessDefinition)
            .where(ProcessDefinition.process_id == process_id)
            .order_by(ProcessDefinition.version.desc())
        )
    )


def latest_definition(session: Session, process_id: str) -> ProcessDefinition | None:
    """The active version of one process (the one activated last), or None."""
    return session.scalar(
        select(ProcessDefinition)
        .where(ProcessDefinition.process_id == process_id)
        .order_by(*_activation_order())
        .limit(1)
    )


class DefinitionCache:
    """Parsed specs and built forms per definition version, made once per process.

    Versions are immutable, so entries never go stale.
    """

    def __init__(self) -> None:
        self._parsed: dict[int, ParsedProcess] = {}
        self._specs: dict[int, str] = {}
        self._forms: dict[tuple[int, str], FormDef] = {}
        self._lock = Lock()

    def parsed(self, definition: ProcessDefinition) -> ParsedProcess:
        hit = self._parsed.get(definition.id)
        if hit is None:
            with self._lock:
                hit = self._parsed.get(definition.id)
                if hit is None:
                    hit = parse_process(
                        definition.bpmn_xml,
                        definition.process_id,
                        dmn_xmls=list((definition.decisions or {}).values()),
                    )
                    self._parsed[definition.id] = hit
        return hit

    def spec_json(self, definition: ProcessDefinition) -> str | None:
        """The version's serialized engine spec, once it has been stored."""
        hit = self._specs.get(definition.id)
        if hit is not None:
            return hit
        value = definition.spec_json
        # Cache only what the database holds: a value set in a transaction
        # that then rolls back must not outlive it.
        if value is not None and not sa_inspect(definition).attrs.spec_json.history.has_changes():
            self._specs[definition.id] = value
        return value

    def remember_spec(self, definition: ProcessDefinition, spec_json: str) -> None:
        definition.spec_json = spec_json

    def form(self, definition: ProcessDefinition, form_id: str) -> FormDef:
        key = (definition.id, form_id)
        hit = self._forms.get(key)
        if hit is None:
            raw = definition.forms.get(form_id)
            if raw is None:
                raise DefinitionError(f"Version {definition.version} has no form {form_id!r}")
            hit = load_form(raw, expected_id=form_id)
            self._forms[key] = hit
        return hit
