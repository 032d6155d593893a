"""A small test process (tests/bpmn/engine_probe.bpmn) deployed with chosen code in it."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from sqlalchemy.orm import Session

from service.definitions.catalog import ProcessFiles, store_version
from service.definitions.models import ProcessDefinition

PROBE_XML = (Path(__file__).parent / "bpmn" / "engine_probe.bpmn").read_text()
BENIGN_SCRIPT = "total = sum([1, 2, 3])"
PROBE_META = {"title": "Testprocess", "description": "Endast för test.", "starters": ["security"]}
PROBE_FORM: dict[str, Any] = {
    "id": "probe_form",
    "title": "Testformulär",
    "schema": {
        "type": "object",
        "additionalProperties": False,
        "required": ["choice"],
        "properties": {"choice": {"type": "string", "enum": ["timer", "message"]}},
    },
    "ui": {
        "fields": {
            "choice": {
                "label": "Val",
                "widget": "radio",
                "options": {"timer": "Timer", "message": "Meddelande"},
            }
        }
    },
}


def probe_xml(
    condition: str = "choice == 'timer'", script: str = BENIGN_SCRIPT, timer: str = '"PT1S"'
) -> str:
    return (
        PROBE_XML.replace("CONDITION", escape(condition))
        .replace(BENIGN_SCRIPT, escape(script))
        .replace('"PT1S"', escape(timer))
    )


def deploy_probe(session: Session, **code: str) -> ProcessDefinition:
    """Store the probe as a definition version without the deploy-time code check,
    as if a hostile or broken model had got into the database."""
    files = ProcessFiles("engine_probe", probe_xml(**code), PROBE_META, {"probe_form": PROBE_FORM})
    row, _created = store_version(session, files, author="test")
    session.commit()
    return row


def looping_probe_xml() -> str:
    """The probe with an automatic loop (script → gateway → script) that never ends."""
    loop = """<bpmn:sequenceFlow id="f2" sourceRef="compute" targetRef="again" />
    <bpmn:exclusiveGateway id="again" default="f_out"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f_back</bpmn:outgoing><bpmn:outgoing>f_out</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="f_back" sourceRef="again" targetRef="compute">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">total &gt; 0</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_out" sourceRef="again" targetRef="fill_in" />"""
    return (
        probe_xml()
        .replace('<bpmn:sequenceFlow id="f2" sourceRef="compute" targetRef="fill_in" />', loop)
        .replace(
            "<bpmn:flowNodeRef>compute</bpmn:flowNodeRef>",
            "<bpmn:flowNodeRef>compute</bpmn:flowNodeRef><bpmn:flowNodeRef>again</bpmn:flowNodeRef>",
        )
    )
