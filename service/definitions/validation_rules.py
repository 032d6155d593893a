"""Deploy-time rules that look at a process as a whole: data, calls and loops.

The parser and the XSD catch malformed documents; these rules catch models
that are well-formed but would go wrong with a real case: a gateway that asks
about a field nobody ever fills in, a call to a process that does not exist,
a loop that spins forever without a person acting. Every rule returns all its
findings, each naming the element a designer has to open in the modeller.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from lxml import etree

from service.engine.errors import DefinitionError
from service.engine.scripting import ALLOWED_BUILTINS, HELPER_FUNCTIONS
from service.engine.xmlsafety import parse_xml_safely
from service.errors import N_

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"

# Case variables the service sets itself, not any form or script: the
# subject (service/cases/service.py _subject_data), the routing variables of
# service/cases/persist.py, and what the alarm centre's API starts a case with
# (service/api/alarm_views.py).
SERVICE_VARIABLES = frozenset(
    {
        "subject_category",
        "subject_party_id",
        "subject_person_id",
        "threatened_party_id",
        "organisation_id",
        "alarm_known",
    }
)

# Elements where a case stops and waits for a person or the outside world;
# a cycle through one of them is a legitimate "send back" loop.
WAITING_ELEMENTS = frozenset(
    {
        "userTask",
        "manualTask",
        "receiveTask",
        "intermediateCatchEvent",
        "boundaryEvent",
        "eventBasedGateway",
        "callActivity",  # the called process decides; its own rules check it
    }
)


@dataclass(frozen=True)
class Finding:
    """One problem, pointing at an element, in English (message) and as a template.

    template is an English msgid marked with N_() using %(name)s placeholders
    and params its values (ids, field names, expressions, never case data), so
    the web layer can show the finding in the designer's language
    (service/web/finding_text.py); message is template % params, for logs and
    tests. A param may itself be a Finding (a phrase translated on its own).
    """

    element_id: str | None
    message: str
    template: str | None = None
    # Not hashed: a mapping is not hashable, and element_id + message identify a finding.
    params: Mapping[str, Any] = field(
        default_factory=lambda: MappingProxyType({}), hash=False, compare=False
    )

    @classmethod
    def of(cls, element_id: str | None, template: str, **params: Any) -> Finding:
        return cls(element_id, template % params, template, MappingProxyType(dict(params)))

    @classmethod
    def from_error(cls, exc: Any, element_id: str | None = None) -> Finding:
        """A finding from a DefinitionError or FormDefinitionError, keeping its template."""
        template = getattr(exc, "template", None)
        params = getattr(exc, "params", None) or {}
        element = element_id if element_id is not None else getattr(exc, "element_id", None)
        message = getattr(exc, "message", None) or str(exc)
        return cls(element, message, template, MappingProxyType(dict(params)))

    def __str__(self) -> str:
        return f"{self.element_id}: {self.message}" if self.element_id else self.message


class FindingList(tuple[Finding, ...]):
    """Findings as one param of another finding: their messages joined by '; '."""

    __slots__ = ()

    def __str__(self) -> str:
        return "; ".join(f.message for f in self)


class DefinitionFindings(DefinitionError):
    """Every problem found in one definition; element_id is the first one's."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        if not findings:
            raise ValueError("DefinitionFindings needs at least one finding")
        self.findings = list(findings)
        first = self.findings[0]
        if len(self.findings) == 1:
            super().__init__(
                first.message,
                element_id=first.element_id,
                template=first.template,
                params=first.params,
            )
        else:
            super().__init__("; ".join(str(f) for f in self.findings), element_id=None)
            self.element_id = first.element_id

    def __str__(self) -> str:
        return "; ".join(str(f) for f in self.findings)


def _local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _bpmn(root: etree._Element, name: str) -> list[etree._Element]:
    return list(root.iter(f"{{{BPMN_NS}}}{name}"))


# --- (a) fields in gateway conditions -------------------------------------


def form_fields(form: Any) -> set[str]:
    """Every property name a form's JSON schema declares, nested ones included."""
    names: set[str] = set()

    def walk(schema: Any) -> None:
        if not isinstance(schema, dict):
            return
        props = schema.get("properties")
        if isinstance(props, dict):
            for key, sub in props.items():
                names.add(str(key))
                walk(sub)
        walk(schema.get("items"))

    if isinstance(form, dict):
        walk(form.get("schema"))
    return names


def _assigned_names(code: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()  # the compile check reports the syntax error itself
    names = {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    names |= {a.arg for a in ast.walk(tree) if isinstance(a, ast.arg)}
    return names


def _loaded_names(code: str) -> list[str]:
    try:
        tree = ast.parse(code.strip(), mode="eval")
    except SyntaxError:
        return []
    # Names a comprehension or lambda binds inside the condition are its own.
    local = {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    local |= {a.arg for a in ast.walk(tree) if isinstance(a, ast.arg)}
    seen: list[str] = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Name)
            and isinstance(node.ctx, ast.Load)
            and node.id not in local
            and node.id not in seen
        ):
            seen.append(node.id)
    return seen


def _dmn_outputs(dmn_xmls: Iterable[str]) -> set[str]:
    names: set[str] = set()
    for text in dmn_xmls:
        root = parse_xml_safely(text, what="DMN")
        for element in root.iter():
            if _local(element.tag) == "output" and element.get("name"):
                names.add(str(element.get("name")))
    return names


def _result_variables(root: etree._Element) -> set[str]:
    """Variables a service task's result or a caught message's payload is stored in."""
    names = {
        str(el.get("resultVariable"))
        for el in root.iter()
        if isinstance(el.tag, str) and el.get("resultVariable")
    }
    names |= {
        (el.text or "").strip()
        for el in root.iter(f"{{{SPIFF_NS}}}messageVariable")
        if (el.text or "").strip()
    }
    return names


def condition_field_findings(
    root: etree._Element,
    expressions: Sequence[tuple[str, str, bool]],
    forms: Mapping[str, Any],
    dmn_xmls: Sequence[str] = (),
) -> list[Finding]:
    """Names a gateway condition reads must come from a form, a script or the service."""
    known: set[str] = set(SERVICE_VARIABLES) | set(HELPER_FUNCTIONS) | set(ALLOWED_BUILTINS)
    known |= {"True", "False", "None"}
    for form in forms.values():
        known |= form_fields(form)
    for _element, code, is_expression in expressions:
        if not is_expression:
            known |= _assigned_names(code)
    known |= _dmn_outputs(dmn_xmls)
    known |= _result_variables(root)
    findings: list[Finding] = []
    for element, code, is_expression in expressions:
        if not is_expression:
            continue
        for name in _loaded_names(code):
            if name in known:
                continue
            if hasattr(builtins, name):
                template = N_(
                    "The condition '%(condition)s' reads '%(name)s', but it is a Python "
                    "built-in that model code may not use. Correct the spelling or add the "
                    "field to one of the process's forms."
                )
            else:
                template = N_(
                    "The condition '%(condition)s' reads '%(name)s', but no form of the "
                    "process has such a field and no script sets it. Correct the spelling "
                    "or add the field to one of the process's forms."
                )
            findings.append(Finding.of(element, template, condition=code.strip(), name=name))
    return findings


# --- (b) call activities ----------------------------------------------------


def call_target_findings(root: etree._Element, known_processes: Collection[str]) -> list[Finding]:
    """A call activity must call a process in this document or in the catalog."""
    here = {str(p.get("id")) for p in _bpmn(root, "process") if p.get("id")}
    findings: list[Finding] = []
    for call in _bpmn(root, "callActivity"):
        target = (call.get("calledElement") or "").strip()
        if not target:
            findings.append(
                Finding.of(
                    call.get("id"),
                    N_("The call activity names no process to call; set 'calledElement'."),
                )
            )
        elif target not in here and target not in known_processes:
            findings.append(
                Finding.of(
                    call.get("id"),
                    N_(
                        "The call activity calls the process '%(target)s', which neither this "
                        "file nor the deployed processes define. Deploy that process first or "
                        "correct the id."
                    ),
                    target=target,
                )
            )
    return findings


# --- (c) automatic endless loops --------------------------------------------


def _waits(element: etree._Element) -> bool:
    name = _local(element.tag)
    if name in WAITING_ELEMENTS:
        return True
    if any(_local(child.tag) == "standardLoopCharacteristics" for child in element):
        return True
    if name in ("subProcess", "transaction", "adHocSubProcess"):
        # A sub-process that waits inside stops the outer cycle too.
        return any(
            _local(inner.tag) in WAITING_ELEMENTS
            for inner in element.iter()
            if inner is not element
        )
    return False


def _cycles(nodes: set[str], edges: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components that contain a cycle (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(nodes):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(edges.get(start, [])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            advanced = False
            for nxt in successors:
                if nxt not in nodes:
                    continue
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(edges.get(nxt, []))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges.get(node, []):
                    found.append(sorted(component))
    return found


def loop_findings(root: etree._Element) -> list[Finding]:
    """A sequence-flow cycle where no element waits would run forever on its own."""
    findings: list[Finding] = []
    containers = [*_bpmn(root, "process"), *_bpmn(root, "subProcess")]
    for container in containers:
        elements = {
            str(child.get("id")): child
            for child in container
            if isinstance(child.tag, str) and child.get("id")
        }
        edges: dict[str, list[str]] = {}
        for flow in container:
            if _local(flow.tag) != "sequenceFlow":
                continue
            source, target = flow.get("sourceRef"), flow.get("targetRef")
            if source and target:
                edges.setdefault(str(source), []).append(str(target))
        automatic = {
            element_id
            for element_id, element in elements.items()
            if _local(element.tag) != "sequenceFlow" and not _waits(element)
        }
        for cycle in _cycles(automatic, edges):
            # Point at a gateway when there is one: that is where the loop is decided.
            gateways = [c for c in cycle if _local(elements[c].tag).endswith("Gateway")]
            where = (gateways or cycle)[0]
            findings.append(
                Finding.of(
                    where,
                    N_(
                        "The sequence flows loop back through %(elements)s without any user "
                        "task or waiting event, so a case would go round endlessly on its own. "
                        "Lead the loop through a user task, or mark the repeated activity as "
                        "a standard loop."
                    ),
                    elements=", ".join(cycle),
                )
            )
    return findings


def structure_findings(
    bpmn_xml: str | bytes,
    expressions: Sequence[tuple[str, str, bool]],
    forms: Mapping[str, Any],
    dmn_xmls: Sequence[str] = (),
) -> list[Finding]:
    """Findings of the rules that need the parsed process: condition fields and loops.

    Call targets (call_target_findings) are checked before parsing instead.
    """
    root = parse_xml_safely(bpmn_xml)
    return [*condition_field_findings(root, expressions, forms, dmn_xmls), *loop_findings(root)]
