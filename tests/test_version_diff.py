"""Differences between two stored versions of a process, by BPMN id and by form field."""

from __future__ import annotations

import copy

from sqlalchemy.orm import Session

from service.definitions.catalog import ProcessFiles, latest_definition, store_version
from service.definitions.diff import bpmn_elements, diff_form, diff_versions
from service.definitions.models import ProcessDefinition


def _current(session: Session) -> ProcessDefinition:
    row = latest_definition(session, "incident")
    assert row is not None
    return row


def _new_version(
    session: Session, old: ProcessDefinition, bpmn_xml: str, forms: dict[str, object]
) -> ProcessDefinition:
    files = ProcessFiles(old.process_id, bpmn_xml, dict(old.meta), forms, dict(old.decisions))
    row, created = store_version(session, files, author="designer", note="test")
    assert created and row.version == old.version + 1
    return row


def test_relabelled_task_in_another_lane_is_changed_with_both_keys(session: Session) -> None:
    old = _current(session)
    xml = (
        old.bpmn_xml.replace(
            '<bpmn:userTask id="party_support" name="Stöd till den drabbade">',
            '<bpmn:userTask id="party_support" name="Ring den drabbade">',
        )
        .replace("<bpmn:flowNodeRef>party_support</bpmn:flowNodeRef>", "", 1)
        .replace(
            "<bpmn:flowNodeRef>classify_report</bpmn:flowNodeRef>",
            "<bpmn:flowNodeRef>classify_report</bpmn:flowNodeRef>"
            "<bpmn:flowNodeRef>party_support</bpmn:flowNodeRef>",
        )
    )
    new = _new_version(session, old, xml, dict(old.forms))
    diff = diff_versions(old, new)
    assert diff.elements_added == [] and diff.elements_removed == []
    assert [c.element_id for c in diff.elements_changed] == ["party_support"]
    change = diff.elements_changed[0]
    assert change.keys == ["lane", "name"]
    assert change.changed["lane"] == ("party_office", "security")
    assert change.changed["name"] == ("Stöd till den drabbade", "Ring den drabbade")
    assert diff.forms_changed == [] and not diff.meta_changed


def test_added_form_field_and_changed_field_keys_are_listed(session: Session) -> None:
    old = _current(session)
    forms = copy.deepcopy(dict(old.forms))
    form = forms["party_support"]
    first_field = sorted(form["schema"]["properties"])[0]
    form["schema"]["properties"][first_field]["description"] = "Ny hjälptext"
    form["schema"]["properties"]["called_back"] = {"type": "boolean"}
    form["ui"]["fields"]["called_back"] = {"label": "Ringt upp igen"}
    new = _new_version(session, old, old.bpmn_xml, forms)
    diff = diff_versions(old, new)
    assert diff.elements_changed == [] and diff.forms_added == [] and diff.forms_removed == []
    [change] = diff.forms_changed
    assert change.form_id == "party_support"
    assert change.fields_added == ["called_back"] and change.fields_removed == []
    assert [(f.field_id, f.keys) for f in change.fields_changed] == [(first_field, ["description"])]
    # Unchanged versions compare empty.
    assert diff_versions(new, new).is_empty


def test_changed_condition_is_shown_with_old_and_new_text(session: Session) -> None:
    old = _current(session)
    xml = old.bpmn_xml.replace(
        "danger_ongoing == True", "danger_ongoing == True or outcome == 'real'", 1
    )
    assert xml != old.bpmn_xml
    new = _new_version(session, old, xml, dict(old.forms))
    [change] = diff_versions(old, new).elements_changed
    assert change.keys == ["condition"]
    before, after = change.changed["condition"]
    assert before == "danger_ongoing == True" and after is not None and after.endswith("'real'")


def test_form_dropped_from_a_version_and_required_flag() -> None:
    old = {
        "id": "f",
        "title": "A",
        "schema": {"properties": {"a": {"type": "string"}}, "required": []},
    }
    new = {
        "id": "f",
        "title": "B",
        "schema": {"properties": {"a": {"type": "string"}}, "required": ["a"]},
    }
    change = diff_form("f", old, new)
    assert change is not None and change.keys == ["title"]
    assert [(f.field_id, f.keys) for f in change.fields_changed] == [("a", ["required"])]
    assert diff_form("f", old, copy.deepcopy(old)) is None


def test_added_and_removed_elements_are_listed_by_id(session: Session) -> None:
    old = _current(session)
    # The party office's end event is renamed: to the diff one element goes, another comes.
    xml = old.bpmn_xml.replace('id="incident_closed_leisure"', 'id="incident_closed_party"')
    xml = xml.replace(
        "<bpmn:flowNodeRef>incident_closed_leisure</bpmn:flowNodeRef>",
        "<bpmn:flowNodeRef>incident_closed_party</bpmn:flowNodeRef>",
    ).replace('targetRef="incident_closed_leisure"', 'targetRef="incident_closed_party"')
    new = _new_version(session, old, xml, dict(old.forms))
    diff = diff_versions(old, new)
    assert diff.elements_added == ["incident_closed_party"]
    assert diff.elements_removed == ["incident_closed_leisure"]
    [flow] = diff.elements_changed
    assert flow.element_id == "flow_close_to_end_leisure" and flow.keys == ["target"]
    assert bpmn_elements(new.bpmn_xml)[flow.element_id]["type"] == "sequenceFlow"
