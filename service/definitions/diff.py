"""What changed between two versions of a process: elements by BPMN id, forms by field.

A designer about to deploy, or a reviewer approving it, sees exactly which
steps moved lane, were renamed or got new conditions, and which form fields
came or went, instead of comparing two XML files by eye.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from service.definitions.models import ProcessDefinition
from service.definitions.validation_rules import BPMN_NS, SPIFF_NS
from service.engine.xmlsafety import parse_xml_safely

# What is compared of each element; DI (positions in the diagram) is not.
ELEMENT_KEYS = ("type", "name", "lane", "condition", "script", "form", "source", "target")
# Element kinds that are containers or bookkeeping, not steps of the procedure.
SKIPPED = frozenset({"laneSet", "lane", "flowNodeRef", "extensionElements", "documentation"})


@dataclass(frozen=True)
class ElementChange:
    element_id: str
    changed: dict[str, tuple[str | None, str | None]]  # key → (old, new)

    @property
    def keys(self) -> list[str]:
        return sorted(self.changed)


@dataclass(frozen=True)
class FieldChange:
    field_id: str
    keys: list[str]  # schema keys, "required", or "ui.<key>"


@dataclass(frozen=True)
class FormChange:
    form_id: str
    keys: list[str] = field(default_factory=list)  # form-level: title, description, ...
    fields_added: list[str] = field(default_factory=list)
    fields_removed: list[str] = field(default_factory=list)
    fields_changed: list[FieldChange] = field(default_factory=list)


@dataclass(frozen=True)
class VersionDiff:
    process_id: str
    old_version: int
    new_version: int
    elements_added: list[str] = field(default_factory=list)
    elements_removed: list[str] = field(default_factory=list)
    elements_changed: list[ElementChange] = field(default_factory=list)
    forms_added: list[str] = field(default_factory=list)
    forms_removed: list[str] = field(default_factory=list)
    forms_changed: list[FormChange] = field(default_factory=list)
    meta_changed: list[str] = field(default_factory=list)
    decisions_changed: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not any(
            (
                self.elements_added,
                self.elements_removed,
                self.elements_changed,
                self.forms_added,
                self.forms_removed,
                self.forms_changed,
                self.meta_changed,
                self.decisions_changed,
            )
        )


def _local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _text(element: etree._Element | None) -> str | None:
    if element is None:
        return None
    text = (element.text or "").strip()
    return text or None


def _form_property(element: etree._Element) -> str | None:
    for prop in element.iter(f"{{{SPIFF_NS}}}property"):
        value = prop.get("value")
        if prop.get("name") == "form" and value is not None:
            return str(value)
    return None


def bpmn_elements(bpmn_xml: str) -> dict[str, dict[str, str | None]]:
    """BPMN id → the compared facts of every flow element in every process of the file."""
    root = parse_xml_safely(bpmn_xml)
    lanes: dict[str, str] = {}
    for lane in root.iter(f"{{{BPMN_NS}}}lane"):
        lane_name = lane.get("name") or lane.get("id") or ""
        for ref in lane.iter(f"{{{BPMN_NS}}}flowNodeRef"):
            if ref.text:
                lanes[ref.text.strip()] = lane_name
    found: dict[str, dict[str, str | None]] = {}
    containers = [*root.iter(f"{{{BPMN_NS}}}process"), *root.iter(f"{{{BPMN_NS}}}subProcess")]
    for container in containers:
        for element in container:
            if not isinstance(element.tag, str):
                continue  # comments and processing instructions
            kind = _local(element.tag)
            element_id = element.get("id")
            if not element_id or kind in SKIPPED or etree.QName(element).namespace != BPMN_NS:
                continue
            found[str(element_id)] = {
                "type": kind,
                "name": element.get("name"),
                "lane": lanes.get(str(element_id)),
                "condition": _text(element.find(f"{{{BPMN_NS}}}conditionExpression")),
                "script": _text(element.find(f"{{{BPMN_NS}}}script")),
                "form": _form_property(element),
                "source": element.get("sourceRef"),
                "target": element.get("targetRef"),
            }
    return found


def _diff_elements(
    old: Mapping[str, dict[str, str | None]], new: Mapping[str, dict[str, str | None]]
) -> tuple[list[str], list[str], list[ElementChange]]:
    changed = []
    for element_id in sorted(old.keys() & new.keys()):
        delta = {
            key: (old[element_id][key], new[element_id][key])
            for key in ELEMENT_KEYS
            if old[element_id][key] != new[element_id][key]
        }
        if delta:
            changed.append(ElementChange(element_id, delta))
    return sorted(new.keys() - old.keys()), sorted(old.keys() - new.keys()), changed


def _fields(form: Any) -> dict[str, Any]:
    schema = form.get("schema") if isinstance(form, dict) else None
    props = schema.get("properties") if isinstance(schema, dict) else None
    return dict(props) if isinstance(props, dict) else {}


def _required(form: Any) -> set[str]:
    schema = form.get("schema") if isinstance(form, dict) else None
    required = schema.get("required") if isinstance(schema, dict) else None
    return set(required) if isinstance(required, list) else set()


def _ui(form: Any, field_id: str) -> dict[str, Any]:
    ui = form.get("ui") if isinstance(form, dict) else None
    fields = ui.get("fields") if isinstance(ui, dict) else None
    entry = fields.get(field_id) if isinstance(fields, dict) else None
    return dict(entry) if isinstance(entry, dict) else {}


def _changed_keys(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    return sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))


def diff_form(form_id: str, old: Any, new: Any) -> FormChange | None:
    """The changes of one form, or None when both snapshots are equal."""
    if old == new:
        return None
    old_fields, new_fields = _fields(old), _fields(new)
    old_required, new_required = _required(old), _required(new)
    fields_changed = []
    for field_id in sorted(old_fields.keys() & new_fields.keys()):
        before, after = old_fields[field_id], new_fields[field_id]
        keys = (
            _changed_keys(before, after)
            if isinstance(before, dict) and isinstance(after, dict)
            else ([] if before == after else ["schema"])
        )
        if (field_id in old_required) != (field_id in new_required):
            keys.append("required")
        keys += [f"ui.{k}" for k in _changed_keys(_ui(old, field_id), _ui(new, field_id))]
        if keys:
            fields_changed.append(FieldChange(field_id, keys))
    old_top = {k: v for k, v in old.items() if k not in ("schema", "ui")}
    new_top = {k: v for k, v in new.items() if k not in ("schema", "ui")}
    keys = _changed_keys(old_top, new_top)
    # Layout beyond the fields (sections, order) counts as a change of the form itself.
    old_ui = {k: v for k, v in (old.get("ui") or {}).items() if k != "fields"}
    new_ui = {k: v for k, v in (new.get("ui") or {}).items() if k != "fields"}
    keys += [f"ui.{k}" for k in _changed_keys(old_ui, new_ui)]
    return FormChange(
        form_id=form_id,
        keys=keys,
        fields_added=sorted(new_fields.keys() - old_fields.keys()),
        fields_removed=sorted(old_fields.keys() - new_fields.keys()),
        fields_changed=fields_changed,
    )


def diff_versions(old: ProcessDefinition, new: ProcessDefinition) -> VersionDiff:
    """Everything that differs between two versions of the same process."""
    added, removed, changed = _diff_elements(
        bpmn_elements(old.bpmn_xml), bpmn_elements(new.bpmn_xml)
    )
    old_forms, new_forms = old.forms or {}, new.forms or {}
    forms_changed = [
        change
        for form_id in sorted(old_forms.keys() & new_forms.keys())
        if (change := diff_form(form_id, old_forms[form_id], new_forms[form_id])) is not None
    ]
    return VersionDiff(
        process_id=new.process_id,
        old_version=old.version,
        new_version=new.version,
        elements_added=added,
        elements_removed=removed,
        elements_changed=changed,
        forms_added=sorted(new_forms.keys() - old_forms.keys()),
        forms_removed=sorted(old_forms.keys() - new_forms.keys()),
        forms_changed=forms_changed,
        meta_changed=_changed_keys(old.meta or {}, new.meta or {}),
        decisions_changed=_changed_keys(old.decisions or {}, new.decisions or {}),
    )
