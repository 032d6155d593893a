"""The decision points of a process version, read from its BPMN and DMN for the timeline.

A decision point is a named exclusive or inclusive gateway with named
outgoing flows ("Pågående fara?" → "Ja"/"Nej"), or a business rule task
calling a decision table ("Räkna fram risknivå" → the matched rule's
description). Each also lists the case variables it reads, so that a
decision on an answer some roles may not see is hidden from them too.
"""

from __future__ import annotations

import builtins
import keyword
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from service.definitions.models import ProcessDefinition
from service.engine.xmlsafety import parse_xml_safely

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPIFF = "{http://spiffworkflow.org/bpmn/schema/1.0/core}"
# Words of the expression language, not case variables (True, and, len, ...).
_NOT_VARIABLES = frozenset(keyword.kwlist) | frozenset(dir(builtins))


@dataclass(frozen=True)
class DecisionPoint:
    bpmn_id: str
    name: str
    # Gateways: target element id → the flow's name.
    flows: dict[str, str] = field(default_factory=dict)
    # Decision tables: the output variable, its label, and value → the rule's description.
    output: str | None = None
    output_label: str | None = None
    rules: dict[str, str] = field(default_factory=dict)
    reads: frozenset[str] = frozenset()

    def describe(self, taken: tuple[str, ...], data: dict[str, Any]) -> str | None:
        """The outcome in the model's own words, or None if it has none to show."""
        if self.output is not None:
            value = data.get(self.output)
            if value is None:
                return None
            text = self.rules.get(str(value), str(value))
            return f"{self.output_label}: {text}" if self.output_label else text
        names = [self.flows[target] for target in taken if target in self.flows]
        return ", ".join(names) if names else None


_cache: dict[tuple[int, str], dict[str, DecisionPoint]] = {}
_lock = threading.Lock()


def decision_points(definition: ProcessDefinition) -> dict[str, DecisionPoint]:
    """bpmn id → decision point, parsed once per definition version."""
    key = (definition.id, definition.sha256)
    with _lock:
        found = _cache.get(key)
    if found is None:
        found = _parse(definition.bpmn_xml, definition.decisions or {})
        with _lock:
            _cache[key] = found
    return found


def _identifiers(text: str | None) -> set[str]:
    # Strings in conditions ('high') are values, not variables.
    stripped = re.sub(r"'[^']*'|\"[^\"]*\"", " ", text or "")
    return set(_IDENTIFIER.findall(stripped)) - _NOT_VARIABLES


def _local(element: Any) -> str:
    return str(etree.QName(element).localname)


def _parse(bpmn_xml: str, dmn_files: dict[str, Any]) -> dict[str, DecisionPoint]:
    root = parse_xml_safely(bpmn_xml)
    flows_from: dict[str, list[Any]] = {}
    for flow in root.iter("{*}sequenceFlow"):
        flows_from.setdefault(str(flow.get("sourceRef")), []).append(flow)
    tables = _decision_tables(dmn_files)
    points: dict[str, DecisionPoint] = {}
    for element in root.iter("{*}exclusiveGateway", "{*}inclusiveGateway"):
        bpmn_id, name = element.get("id"), (element.get("name") or "").strip()
        outgoing = flows_from.get(str(bpmn_id), [])
        named = {
            str(flow.get("targetRef")): flow.get("name").strip()
            for flow in outgoing
            if (flow.get("name") or "").strip()
        }
        if not bpmn_id or not name or not named:
            continue  # a merge, or a split the model does not explain
        reads: set[str] = set()
        for flow in outgoing:
            for condition in flow.iter("{*}conditionExpression"):
                reads |= _identifiers(condition.text)
        points[bpmn_id] = DecisionPoint(str(bpmn_id), name, flows=named, reads=frozenset(reads))
    for element in root.iter("{*}businessRuleTask"):
        called = element.find(f".//{_SPIFF}calledDecisionId")
        table = tables.get((called.text or "").strip()) if called is not None else None
        bpmn_id = element.get("id")
        if table is None or not bpmn_id:
            continue
        output, label, rules, reads = table
        points[bpmn_id] = DecisionPoint(
            str(bpmn_id),
            (element.get("name") or bpmn_id).strip(),
            output=output,
            output_label=label,
            rules=rules,
            reads=frozenset(reads),
        )
    return points


def _decision_tables(
    dmn_files: dict[str, Any],
) -> dict[str, tuple[str, str | None, dict[str, str], set[str]]]:
    """decision id → (output variable, its label, value → rule description, variables read)."""
    tables: dict[str, tuple[str, str | None, dict[str, str], set[str]]] = {}
    for text in dmn_files.values():
        root = parse_xml_safely(str(text), what="DMN")
        for decision in root.iter("{*}decision"):
            output = decision.find(".//{*}output")
            if output is None or not output.get("name"):
                continue  # several outputs or none: nothing single to show
            reads: set[str] = set()
            for expression in decision.iter("{*}inputExpression"):
                for text_node in expression.iter("{*}text"):
                    reads |= _identifiers(text_node.text)
            rules: dict[str, str] = {}
            for rule in decision.iter("{*}rule"):
                entry = rule.find("{*}outputEntry/{*}text")
                description = rule.find("{*}description")
                if entry is None or description is None or not description.text:
                    continue
                value = (entry.text or "").strip().strip("\"'")
                rules[value] = description.text.strip()
            tables[str(decision.get("id"))] = (
                str(output.get("name")),
                output.get("label"),
                rules,
                reads,
            )
    return tables
