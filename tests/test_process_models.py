"""The shipped process models: readable diagrams, no loops, roles as lanes, the risk model as data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree

from service.config import PROJECT_ROOT
from service.definitions.catalog import read_process_files
from service.engine import Runner, parse_process
from service.people.models import LANE_ROLES

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
}
REQUIRED = {
    "incident",
    "event_risk_analysis",
    "security_conversation",
    "home_inspection",
    "police_report",
    "protective_measure",
    "alarm_event",
    "introduction",
    "committee_risk_analysis",
}
MODELS = sorted((PROJECT_ROOT / "processes").glob("*.bpmn"))
FLOW_NODES = (
    "startEvent",
    "endEvent",
    "userTask",
    "scriptTask",
    "serviceTask",
    "businessRuleTask",
    "exclusiveGateway",
    "parallelGateway",
    "inclusiveGateway",
    "intermediateCatchEvent",
    "intermediateThrowEvent",
    "boundaryEvent",
    "manualTask",
    "callActivity",
    "subProcess",
)


def _bounds(shape: etree._Element) -> tuple[float, float, float, float]:
    b = shape.find("dc:Bounds", NS)
    assert b is not None
    return float(b.get("x")), float(b.get("y")), float(b.get("width")), float(b.get("height"))


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def test_every_procedure_of_the_guideline_is_a_process() -> None:
    assert {m.stem for m in MODELS} >= REQUIRED
    files = read_process_files(PROJECT_ROOT / "processes", PROJECT_ROOT / "forms")
    assert {f.process_id for f in files} >= REQUIRED


@pytest.mark.parametrize("model", MODELS, ids=[m.stem for m in MODELS])
def test_diagram_is_complete_and_readable(model: Path) -> None:
    root = etree.parse(str(model)).getroot()
    process = root.find(f"bpmn:process[@id='{model.stem}']", NS)
    assert process is not None
    nodes = [el for name in FLOW_NODES for el in process.iter(f"{{{NS['bpmn']}}}{name}")]
    flows = list(process.iter(f"{{{NS['bpmn']}}}sequenceFlow"))
    shapes = {s.get("bpmnElement"): s for s in root.iter(f"{{{NS['bpmndi']}}}BPMNShape")}
    edges = {e.get("bpmnElement"): e for e in root.iter(f"{{{NS['bpmndi']}}}BPMNEdge")}
    for node in nodes:
        assert node.get("id") in shapes, f"{node.get('id')} has no shape"
    for flow in flows:
        edge = edges.get(flow.get("id"))
        assert edge is not None and len(edge.findall("di:waypoint", NS)) >= 2, flow.get("id")
    boxes = {n.get("id"): _bounds(shapes[n.get("id")]) for n in nodes}
    ids = sorted(boxes)
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            assert not _overlap(boxes[a], boxes[b]), f"{a} overlaps {b}"
    lanes = list(process.iter(f"{{{NS['bpmn']}}}lane"))
    assert lanes, "lanes carry the roles"
    placed: dict[str, str] = {}
    for lane in lanes:
        assert lane.get("name") in LANE_ROLES, lane.get("name")
        lane_box = _bounds(shapes[lane.get("id")])
        for ref in lane.findall("bpmn:flowNodeRef", NS):
            assert ref.text not in placed, f"{ref.text} is in two lanes"
            placed[ref.text] = lane.get("name")
            _x, y, _w, h = boxes[ref.text]
            assert lane_box[1] <= y and y + h <= lane_box[1] + lane_box[3], (
                f"{ref.text} outside its lane"
            )
    assert set(placed) == {n.get("id") for n in nodes if n.tag != f"{{{NS['bpmn']}}}boundaryEvent"}


@pytest.mark.parametrize("model", MODELS, ids=[m.stem for m in MODELS])
def test_no_sequence_flow_cycles(model: Path) -> None:
    """Loops deepen the engine's task tree until it stalls: repetition is a new case."""
    root = etree.parse(str(model)).getroot()
    graph: dict[str, list[str]] = {}
    for flow in root.iter(f"{{{NS['bpmn']}}}sequenceFlow"):
        graph.setdefault(flow.get("sourceRef"), []).append(flow.get("targetRef"))
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph.get(node, []):
            assert state.get(nxt) != 1, f"cycle: {' → '.join([*trail, node, nxt])}"
            if nxt not in state:
                visit(nxt, [*trail, node])
        state[node] = 2

    for start in list(graph):
        if start not in state:
            visit(start, [])


@pytest.mark.parametrize("model", MODELS, ids=[m.stem for m in MODELS])
def test_every_user_task_has_swedish_instructions_and_a_form(model: Path) -> None:
    parsed = parse_process(
        model.read_text(),
        model.stem,
        dmn_xmls=[(PROJECT_ROOT / "processes" / "risk_level.dmn").read_text()],
    )
    for task in parsed.user_tasks:
        assert task.instructions and len(task.instructions) > 20, task.bpmn_id
        assert task.form and (PROJECT_ROOT / "forms" / f"{task.form}.json").exists(), task.bpmn_id
    meta = json.loads(model.with_suffix(".json").read_text())
    assert meta["description"] and meta["starters"]


@pytest.mark.parametrize(
    ("probability", "consequence", "level"),
    [
        (1, 1, "low"),
        (1, 3, "low"),
        (2, 2, "medium"),
        (2, 3, "medium"),
        (3, 3, "high"),
        (2, 4, "high"),
        (3, 4, "very_high"),
        (4, 4, "very_high"),
    ],
)
def test_risk_model_table(probability: int, consequence: int, level: str) -> None:
    dmn = (PROJECT_ROOT / "processes" / "risk_level.dmn").read_text()
    bpmn = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="D" targetNamespace="t">
  <bpmn:process id="risk_probe" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:businessRuleTask id="r"><bpmn:extensionElements>
      <spiffworkflow:calledDecisionId>risk_level</spiffworkflow:calledDecisionId>
    </bpmn:extensionElements><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:businessRuleTask>
    <bpmn:endEvent id="e"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="r"/><bpmn:sequenceFlow id="f2" sourceRef="r" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>"""
    handle = Runner().start(
        parse_process(bpmn, "risk_probe", dmn_xmls=[dmn]),
        {"probability": probability, "consequence": consequence},
    )
    assert handle.is_completed and handle.data()["risk_level"] == level
