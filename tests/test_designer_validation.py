"""Deploy-time rules a designer meets: every finding names its element, all are reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.definitions.catalog import read_process_files, validate_definition
from service.definitions.validation_rules import DefinitionFindings, loop_findings
from service.engine import DefinitionError
from service.engine.xmlsafety import parse_xml_safely
from tests.probe import PROBE_FORM, PROBE_META, looping_probe_xml, probe_xml

FORMS = {"probe_form": PROBE_FORM}


def _refused(xml: str, known_processes: frozenset[str] = frozenset()) -> DefinitionFindings:
    with pytest.raises(DefinitionFindings) as refused:
        validate_definition("engine_probe", xml, PROBE_META, FORMS, known_processes=known_processes)
    return refused.value


def test_the_probe_as_shipped_passes() -> None:
    parsed, used = validate_definition("engine_probe", probe_xml(), PROBE_META, FORMS)
    assert parsed.process_id == "engine_probe" and set(used) == {"probe_form"}


def test_condition_reading_a_field_no_form_has_is_refused() -> None:
    findings = _refused(probe_xml(condition="chioce == 'timer'")).findings
    assert [f.element_id for f in findings] == ["decide"]
    assert "'chioce'" in findings[0].message and "no form" in findings[0].message


def test_condition_may_read_form_fields_script_results_helpers_and_case_variables() -> None:
    condition = (
        "choice == 'timer' and total > 0 and len(doubled) > 1 "
        "and subject_person_id is not None and all(x for x in doubled)"
    )
    validate_definition("engine_probe", probe_xml(condition=condition), PROBE_META, FORMS)


def test_call_activity_to_a_process_that_does_not_exist_is_refused() -> None:
    call = (
        '<bpmn:callActivity id="call_other" calledElement="no_such_process">'
        "<bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f2b</bpmn:outgoing></bpmn:callActivity>"
        '<bpmn:sequenceFlow id="f2" sourceRef="compute" targetRef="call_other" />'
        '<bpmn:sequenceFlow id="f2b" sourceRef="call_other" targetRef="fill_in" />'
    )
    xml = probe_xml().replace(
        '<bpmn:sequenceFlow id="f2" sourceRef="compute" targetRef="fill_in" />', call
    )
    refused = _refused(xml, known_processes=frozenset({"incident"}))
    first = refused.findings[0]
    assert first.element_id == "call_other" and "'no_such_process'" in first.message


def test_automatic_endless_loop_is_refused_at_its_gateway() -> None:
    findings = _refused(looping_probe_xml()).findings
    loops = [f for f in findings if "loop back" in f.message]
    assert [f.element_id for f in loops] == ["again"]
    assert "compute" in loops[0].message and "user task" in loops[0].message


def test_loop_through_a_user_task_or_a_loop_marker_is_allowed() -> None:
    send_back = probe_xml().replace(
        '<bpmn:sequenceFlow id="f3" sourceRef="fill_in" targetRef="decide" />',
        '<bpmn:sequenceFlow id="f3" sourceRef="fill_in" targetRef="decide" />'
        '<bpmn:sequenceFlow id="f_back" sourceRef="after_message" targetRef="fill_in" />',
    )
    assert loop_findings(parse_xml_safely(send_back)) == []
    marked = looping_probe_xml().replace(
        '<bpmn:scriptTask id="compute" name="Compute">',
        '<bpmn:scriptTask id="compute" name="Compute"><bpmn:standardLoopCharacteristics />',
    )
    assert loop_findings(parse_xml_safely(marked)) == []


def test_every_finding_is_reported_not_just_the_first() -> None:
    xml = probe_xml(condition="chioce == 'timer'").replace('name="security"', 'name="kitchen"')
    refused = _refused(xml)
    assert [f.element_id for f in refused.findings] == ["fill_in", "decide"]
    assert refused.element_id == "fill_in"
    text = str(refused)
    assert "kitchen" in text and "chioce" in text
    # Callers that only know DefinitionError still catch it.
    assert isinstance(refused, DefinitionError)


def test_the_shipped_processes_pass_every_rule() -> None:
    root = Path(__file__).resolve().parent.parent
    loaded = read_process_files(root / "processes", root / "forms")
    assert {f.process_id for f in loaded} >= {"incident", "police_report", "alarm_event"}
