"""Turn a BPMN document into an engine spec plus the facts the service needs about it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.specs.mixins import UserTaskMixin
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser import VALIDATOR
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from service.engine.errors import DefinitionError
from service.engine.xmlsafety import parse_xml_safely
from service.errors import N_

# Names the engine gives its own internal task specs; an element with one of
# these ids silently truncates the parsed process.
RESERVED_IDS = frozenset({"Start", "End", "StartEventSplit", "StartEventJoin", "Root"})
RESERVED_SUFFIXES = (".EndJoin", ".BoundaryEventSplit", ".BoundaryEventJoin")


@dataclass(frozen=True)
class UserTaskInfo:
    bpmn_id: str
    name: str
    lane: str | None
    form: str | None
    instructions: str | None
    due_in: str | None


@dataclass(frozen=True)
class ParsedProcess:
    process_id: str
    name: str
    spec: Any
    subprocess_specs: dict[str, Any]
    user_tasks: tuple[UserTaskInfo, ...]
    start_form: str | None
    start_instructions: str | None
    documentation: str | None
    expressions: tuple[tuple[str, str, bool], ...] = field(default=())  # (element, code, is_expr)


def _properties(task_spec: Any) -> dict[str, str]:
    props = getattr(task_spec, "extensions", {}).get("properties", {})
    return dict(props) if isinstance(props, dict) else {}


def _check_reserved_ids(root: Any) -> None:
    for element in root.iter():
        element_id = element.get("id") if hasattr(element, "get") else None
        if not element_id:
            continue
        if element_id in RESERVED_IDS or element_id.endswith(RESERVED_SUFFIXES):
            raise DefinitionError.of(
                N_("The id '%(id)s' is reserved by the engine; rename the element."),
                element_id=element_id,
                id=element_id,
            )


def _collect_code(spec: Any) -> list[tuple[str, str, bool]]:
    """Every script and condition in the spec, for compile checks before deploy."""
    found: list[tuple[str, str, bool]] = []
    for name, task_spec in spec.task_specs.items():
        script = getattr(task_spec, "script", None)
        if isinstance(script, str) and script.strip():
            found.append((name, script, False))
        for attr in ("prescript", "postscript"):
            code = getattr(task_spec, attr, None)
            if isinstance(code, str) and code.strip():
                found.append((name, code, False))
        cond_map = getattr(task_spec, "cond_task_specs", None) or []
        for condition, _target in cond_map:
            args = getattr(condition, "args", None) or ()
            if args and isinstance(args[0], str) and args[0].strip():
                found.append((name, args[0], True))
    return found


def decision_ids(dmn_xml: str | bytes) -> list[str]:
    """The decision ids a DMN document defines."""
    root = parse_xml_safely(dmn_xml, what="DMN")
    return [str(el.get("id")) for el in root.iter() if str(el.tag).endswith("}decision")]


def decisions_used(bpmn_xml: str | bytes) -> set[str]:
    """The decision ids the process's business rule tasks call."""
    root = parse_xml_safely(bpmn_xml)
    return {
        (el.text or "").strip()
        for el in root.iter()
        if str(el.tag).endswith("}calledDecisionId") and (el.text or "").strip()
    }


def parse_process(
    bpmn_xml: str | bytes,
    process_id: str,
    filename: str = "upload",
    dmn_xmls: Sequence[str | bytes] = (),
) -> ParsedProcess:
    """Validate (hardened XML, BPMN and DMN XSD, reserved ids) and parse one process."""
    root = parse_xml_safely(bpmn_xml)
    _check_reserved_ids(root)
    parser = SpiffBpmnParser(validator=VALIDATOR)
    try:
        # Decisions first: business rule tasks bind to them when the spec is built.
        for index, dmn in enumerate(dmn_xmls):
            parser.add_dmn_xml(parse_xml_safely(dmn, what="DMN"), f"decision-{index}.dmn")
        parser.add_bpmn_xml(root, filename)
        spec = parser.get_spec(process_id)
        subprocess_specs = parser.get_subprocess_specs(process_id)
    except SpiffWorkflowException as exc:
        # The library's own text stays as it is, quoted inside our sentence.
        raise DefinitionError.of(
            N_("The BPMN file does not validate: %(detail)s"),
            element_id=getattr(exc, "id", None) or None,
            detail=str(exc),
        ) from exc
    except Exception as exc:  # the parser raises plain errors on odd input too
        raise DefinitionError.of(
            N_("The BPMN file could not be parsed: %(detail)s"), detail=str(exc)
        ) from exc
    if spec is None:
        raise DefinitionError.of(
            N_("The file holds no executable process with id '%(process)s'."), process=process_id
        )

    user_tasks: list[UserTaskInfo] = []
    start_form: str | None = None
    start_instructions: str | None = None
    for task_spec in spec.task_specs.values():
        props = _properties(task_spec)
        instructions = getattr(task_spec, "extensions", {}).get("instructionsForEndUser")
        if isinstance(task_spec, UserTaskMixin):
            user_tasks.append(
                UserTaskInfo(
                    bpmn_id=task_spec.bpmn_id,
                    name=task_spec.bpmn_name or task_spec.bpmn_id,
                    lane=task_spec.lane,
                    form=props.get("form"),
                    instructions=instructions,
                    due_in=props.get("dueIn"),
                )
            )
        elif isinstance(task_spec, StartEvent) and props.get("form"):
            start_form = props["form"]
            start_instructions = instructions
    return ParsedProcess(
        process_id=process_id,
        name=getattr(spec, "description", None) or process_id,
        spec=spec,
        subprocess_specs=subprocess_specs,
        user_tasks=tuple(sorted(user_tasks, key=lambda t: t.bpmn_id)),
        start_form=start_form,
        start_instructions=start_instructions,
        documentation=getattr(spec, "documentation", None),
        expressions=tuple(_collect_code(spec)),
    )
