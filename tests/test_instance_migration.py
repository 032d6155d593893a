"""Moving running cases between versions of a process: dry run, move, the new path, revert.

Version 1 is the shipped introduction. Two later versions are made from it
the way a designer would: version 2 renames "Ge introduktion", drops
"Bekräfta att du tagit del av riktlinjen", gives the training task a new
name and form, and adds a party-office task after it; version 3 is the same
without the drop. Cases waiting at each of the first three tasks are moved.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.models import AuditEvent
from service.cases.models import ProcessInstance
from service.cases.service import complete_task, start_case
from service.config import PROJECT_ROOT
from service.context import Services
from service.definitions.catalog import (
    ProcessFiles,
    latest_definition,
    store_version,
    validate_definition,
)
from service.definitions.instance_migration import (
    RevertRefused,
    migrate_instances,
    plan_migrations,
    revert_migration,
    running_by_version,
)
from service.definitions.migration_models import InstanceMigration
from service.definitions.models import ProcessDefinition
from service.errors import Conflict, InvalidInput
from service.people.models import User
from service.retention.disposal import _delete_case
from service.tasks.models import HumanTask
from tests.scenario_runner import form_input
from tests.test_incident_routine import report_incident
from tests.web_client import Browser

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN, "spiff": SPIFF}
NOTE = "Riktlinjen reviderad av stadsdirektören 2026-11-20."

GIVEN = {
    "introduced_on": "2026-12-01",
    "guideline_handed_over": "yes",
    "routine_reporting": "yes",
    "routine_police_report": "yes",
    "routine_emergency": "yes",
    "introduction_notes": "Hemlig anteckning om personlarmet.",
}
ACKNOWLEDGED = {"guideline_acknowledged": "yes"}
TRAINED = {"training_outcome": "completed", "training_completed_on": "2026-12-15"}
REGISTERED = {"training_registered": "yes"}

REGISTERED_FORM = {
    "id": "introduction_training_registered",
    "title": "Registrera utbildningen",
    "description": "Partikansliet registrerar att utbildningen är erbjuden.",
    "schema": {
        "type": "object",
        "additionalProperties": False,
        "required": ["training_registered"],
        "properties": {"training_registered": {"type": "string", "enum": ["yes"]}},
    },
    "ui": {
        "order": ["training_registered"],
        "fields": {
            "training_registered": {
                "label": "Är utbildningen registrerad?",
                "widget": "radio",
                "options": {"yes": "Ja"},
            }
        },
    },
}


def _q(tag: str) -> str:
    return f"{{{BPMN}}}{tag}"


def _flow(process: Any, flow_id: str, source: str, target: str) -> None:
    etree.SubElement(process, _q("sequenceFlow"), id=flow_id, sourceRef=source, targetRef=target)


def _retarget(process: Any, element_id: str, tag: str, old: str, new: str) -> None:
    element = process.find(f"bpmn:*[@id='{element_id}']", NS)
    for ref in element.findall(f"bpmn:{tag}", NS):
        if ref.text == old:
            ref.text = new


def next_version(drop_acknowledgement: bool) -> tuple[str, dict[str, Any]]:
    """The introduction changed as described in the module docstring: (BPMN, forms)."""
    root = etree.fromstring((PROJECT_ROOT / "processes" / "introduction.bpmn").read_bytes())
    process = root.find("bpmn:process", NS)
    lanes = {lane.get("id"): lane for lane in process.iter(_q("lane"))}
    give = process.find("bpmn:userTask[@id='give_introduction']", NS)
    give.set("name", "Ge introduktionen")
    training = process.find("bpmn:userTask[@id='security_training']", NS)
    training.set("name", "Personsäkerhetsutbildning – erbjudande")
    form_property = training.find(".//spiff:property[@name='form']", NS)
    form_property.set("value", "introduction_training_v2")
    # A party-office task after the training.
    registered = etree.SubElement(process, _q("userTask"), id="training_registered")
    registered.set("name", "Registrera utbildningen")
    extensions = etree.SubElement(registered, _q("extensionElements"))
    props = etree.SubElement(extensions, f"{{{SPIFF}}}properties")
    etree.SubElement(
        props, f"{{{SPIFF}}}property", name="form", value="introduction_training_registered"
    )
    etree.SubElement(registered, _q("incoming")).text = "flow_training_to_registered"
    etree.SubElement(registered, _q("outgoing")).text = "flow_registered_to_conversation"
    etree.SubElement(lanes["Lane_party_office"], _q("flowNodeRef")).text = "training_registered"
    old = process.find("bpmn:sequenceFlow[@id='flow_training_to_conversation']", NS)
    process.remove(old)
    _flow(process, "flow_training_to_registered", "security_training", "training_registered")
    _flow(
        process,
        "flow_registered_to_conversation",
        "training_registered",
        "start_first_conversation",
    )
    _retarget(
        process,
        "security_training",
        "outgoing",
        "flow_training_to_conversation",
        "flow_training_to_registered",
    )
    _retarget(
        process,
        "start_first_conversation",
        "incoming",
        "flow_training_to_conversation",
        "flow_registered_to_conversation",
    )
    if drop_acknowledgement:
        process.remove(process.find("bpmn:userTask[@id='acknowledge_guideline']", NS))
        for flow_id in ("flow_introduction_to_acknowledge", "flow_acknowledge_to_training"):
            process.remove(process.find(f"bpmn:sequenceFlow[@id='{flow_id}']", NS))
        for ref in list(lanes["Lane_official"]):
            if ref.text == "acknowledge_guideline":
                lanes["Lane_official"].remove(ref)
        _flow(process, "flow_introduction_to_training", "give_introduction", "security_training")
        _retarget(
            process,
            "give_introduction",
            "outgoing",
            "flow_introduction_to_acknowledge",
            "flow_introduction_to_training",
        )
        _retarget(
            process,
            "security_training",
            "incoming",
            "flow_acknowledge_to_training",
            "flow_introduction_to_training",
        )
    # The diagram is not part of what is compared: drop it rather than redraw it.
    for diagram in root.findall("{http://www.omg.org/spec/BPMN/20100524/DI}BPMNDiagram"):
        root.remove(diagram)
    forms_dir = PROJECT_ROOT / "forms"
    forms = {
        form_id: json.loads((forms_dir / f"{form_id}.json").read_text(encoding="utf-8"))
        for form_id in ("introduction_given", "introduction_training")
    }
    if not drop_acknowledgement:
        forms["introduction_acknowledgement"] = json.loads(
            (forms_dir / "introduction_acknowledgement.json").read_text(encoding="utf-8")
        )
    v2_form = copy.deepcopy(forms.pop("introduction_training"))
    v2_form["id"] = "introduction_training_v2"
    v2_form["title"] = "Personsäkerhetsutbildning (erbjudande)"
    forms["introduction_training_v2"] = v2_form
    forms["introduction_training_registered"] = REGISTERED_FORM
    return etree.tostring(root, encoding="unicode"), forms


def store(session: Session, drop_acknowledgement: bool) -> ProcessDefinition:
    bpmn_xml, forms = next_version(drop_acknowledgement)
    meta = json.loads((PROJECT_ROOT / "processes" / "introduction.json").read_text("utf-8"))
    # What a designer deploys is validated first: the test versions must pass too.
    validate_definition(
        "introduction", bpmn_xml, meta, forms, known_processes={"security_conversation"}
    )
    definition, created = store_version(
        session, ProcessFiles("introduction", bpmn_xml, meta, forms), "designer", "test"
    )
    assert created
    session.commit()
    return definition


class World:
    def __init__(self, services: Services, session: Session) -> None:
        self.services, self.session = services, session

    def user(self, username: str) -> User:
        found = self.session.scalar(select(User).where(User.username == username))
        assert found is not None
        return found

    def start(self) -> int:
        subject = self.user("anna").person
        result = start_case(
            self.services,
            self.session,
            self.user("sakerhet"),
            "introduction",
            subject,
            form_input({}),
        )
        self.session.commit()
        return result.instance.id

    def open_task(self, case_id: int) -> HumanTask:
        self.session.expire_all()
        rows = self.session.scalars(
            select(HumanTask).where(HumanTask.instance_id == case_id, HumanTask.status == "open")
        ).all()
        assert len(rows) == 1, [r.bpmn_id for r in rows]
        return rows[0]

    def complete(self, case_id: int, bpmn_id: str, username: str, data: dict[str, Any]) -> None:
        task = self.open_task(case_id)
        assert task.bpmn_id == bpmn_id, task.bpmn_id
        complete_task(self.services, self.session, self.user(username), task.id, form_input(data))
        self.session.commit()

    def case(self, case_id: int) -> ProcessInstance:
        self.session.expire_all()
        found = self.session.get(ProcessInstance, case_id)
        assert found is not None
        return found

    def three_cases(self) -> tuple[int, int, int]:
        """Waiting at the introduction, at the acknowledgement, at the training."""
        at_give, at_ack, at_training = self.start(), self.start(), self.start()
        self.complete(at_ack, "give_introduction", "kansli.fp", GIVEN)
        self.complete(at_training, "give_introduction", "kansli.fp", GIVEN)
        self.complete(at_training, "acknowledge_guideline", "anna", ACKNOWLEDGED)
        return at_give, at_ack, at_training


@pytest.fixture
def world(services: Services, session: Session) -> World:
    return World(services, session)


def test_a_dry_run_shows_what_changes_and_refuses_cases_whose_step_would_vanish(
    world: World, session: Session, services: Services
) -> None:
    at_give, at_ack, at_training = world.three_cases()
    v1 = world.case(at_give).definition
    before = {
        c: (world.case(c).state, world.case(c).lock_version) for c in (at_give, at_ack, at_training)
    }
    v2 = store(session, drop_acknowledgement=True)
    assert running_by_version(session, "introduction") == {1: 3}

    plans = {
        p.case_id: p for p in plan_migrations(services, session, [at_give, at_ack, at_training], v2)
    }
    ok = plans[at_give]
    assert ok.allowed and ok.refusal is None
    assert (ok.from_version, ok.to_version) == (v1.version, v2.version)
    assert [s.bpmn_id for s in ok.open_steps] == ["give_introduction"]
    assert [s.name for s in ok.open_after] == ["Ge introduktionen"]
    changed = {c.bpmn_id: c for c in ok.changed}
    assert changed["give_introduction"].stage == "open"
    assert {"name", "outgoing flows"} <= set(changed["give_introduction"].what)
    assert (
        changed["acknowledge_guideline"].removed
        and changed["acknowledge_guideline"].stage == "ahead"
    )
    assert {"form", "name", "incoming flows"} <= set(changed["security_training"].what)
    assert [s.bpmn_id for s in ok.removed] == ["acknowledge_guideline"]
    assert [s.bpmn_id for s in ok.added] == ["training_registered"]

    waiting = plans[at_ack]
    assert not waiting.allowed
    assert waiting.refusal is not None and "no longer has" in waiting.refusal
    assert waiting.refusals[0].args["step"] == "Bekräfta att du tagit del av riktlinjen"

    past = plans[at_training]
    assert not past.allowed
    assert {r.args["step"] for r in past.refusals} >= {"Bekräfta att du tagit del av riktlinjen"}

    # Nothing moved, nothing saved.
    session.expire_all()
    for case_id, (state, lock) in before.items():
        case = world.case(case_id)
        assert (case.state, case.lock_version, case.definition_id) == (state, lock, v1.id)
    assert session.scalar(select(InstanceMigration.id)) is None

    # Refusals that need no engine: same version, a finished case, another process, no case.
    again = plan_migrations(services, session, [at_give, 999_999], v1)
    assert [p.allowed for p in again] == [False, False]
    assert "already on version" in (again[0].refusal or "")
    other = latest_definition(session, "security_conversation")
    assert other is not None
    [foreign] = plan_migrations(services, session, [at_give], other)
    assert foreign.refusal == "The case belongs to another process."
    with pytest.raises(InvalidInput):
        plan_migrations(services, session, [], v2)


def test_moved_cases_run_the_new_path_to_the_end(
    world: World, session: Session, services: Services
) -> None:
    at_give, at_ack, at_training = world.three_cases()
    training_row = world.open_task(at_training)
    v3 = store(session, drop_acknowledgement=False)
    designer = world.user("designer")

    with pytest.raises(InvalidInput):
        migrate_instances(services, session, designer, [at_give], v3, "  ")
    batch = migrate_instances(services, session, designer, [at_give, at_ack, at_training], v3, NOTE)
    session.commit()
    assert sorted(batch.moved) == sorted([at_give, at_ack, at_training]) and not batch.refused
    assert running_by_version(session, "introduction") == {v3.version: 3}

    # The open training task keeps its row, with the new name and form.
    row = world.open_task(at_training)
    assert row.id == training_row.id and row.task_uuid == training_row.task_uuid
    assert (row.name, row.form_id) == (
        "Personsäkerhetsutbildning – erbjudande",
        "introduction_training_v2",
    )
    assert world.open_task(at_give).name == "Ge introduktionen"

    # A second submit of the same move moves nothing twice.
    twice = migrate_instances(services, session, designer, [at_give, at_ack, at_training], v3, NOTE)
    session.commit()
    assert twice.moved == () and len(twice.refused) == 3
    assert session.scalars(select(InstanceMigration)).all().__len__() == 3

    # The new path: the new form, then the added party-office task, then the end.
    world.complete(at_training, "security_training", "anna", TRAINED)
    world.complete(at_training, "training_registered", "kansli.fp", REGISTERED)
    assert world.case(at_training).status == "completed"
    world.complete(at_give, "give_introduction", "kansli.fp", GIVEN)
    world.complete(at_give, "acknowledge_guideline", "anna", ACKNOWLEDGED)
    world.complete(at_give, "security_training", "anna", TRAINED)
    world.complete(at_give, "training_registered", "kansli.fp", REGISTERED)
    assert world.case(at_give).status == "completed"

    # Audited per case and per batch, with the note and ids only: no answers, no names.
    events = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action.in_(("case.migrated", "process.migration_batch"))
        )
    ).all()
    migrated = [e for e in events if e.action == "case.migrated"]
    assert sorted(e.instance_id for e in migrated) == sorted([at_give, at_ack, at_training])
    assert all(
        e.details["note"] == NOTE and e.details["to_version"] == v3.version for e in migrated
    )
    assert "security_training" in migrated[0].details["changed"]
    assert any(e.action == "process.migration_batch" for e in events)
    text = json.dumps([e.details for e in events], ensure_ascii=False)
    for value in ("Hemlig anteckning", "2026-12-01", "Anna", "Andersson"):
        assert value not in text


def test_partial_move_to_a_version_without_the_waiting_step(
    world: World, session: Session, services: Services
) -> None:
    at_give, at_ack, _at_training = world.three_cases()
    v2 = store(session, drop_acknowledgement=True)
    batch = migrate_instances(
        services, session, world.user("designer"), [at_give, at_ack], v2, NOTE
    )
    session.commit()
    assert batch.moved == (at_give,)
    assert [p.case_id for p in batch.refused] == [at_ack]
    assert world.case(at_ack).definition.version == 1
    # The moved case skips the dropped step and meets the added one.
    world.complete(at_give, "give_introduction", "kansli.fp", GIVEN)
    world.complete(at_give, "security_training", "anna", TRAINED)
    world.complete(at_give, "training_registered", "kansli.fp", REGISTERED)
    assert world.case(at_give).status == "completed"


def test_revert_restores_exactly_when_untouched_and_moves_back_otherwise(
    world: World, session: Session, services: Services
) -> None:
    at_give, at_ack, at_training = world.three_cases()
    v1_id = world.case(at_give).definition_id
    state_before = world.case(at_give).state
    v3 = store(session, drop_acknowledgement=False)
    designer = world.user("designer")
    migrate_instances(services, session, designer, [at_give, at_ack, at_training], v3, NOTE)
    session.commit()
    moves = {m.instance_id: m.id for m in session.scalars(select(InstanceMigration)).all()}

    # Untouched since: exactly the state from before, on version 1 again.
    with pytest.raises(InvalidInput):
        revert_migration(services, session, designer, moves[at_give], "")
    result = revert_migration(services, session, designer, moves[at_give], "Fel version valdes.")
    session.commit()
    assert result.exact
    case = world.case(at_give)
    assert case.state == state_before and case.definition_id == v1_id
    assert world.open_task(at_give).name == "Ge introduktion"
    row = session.get(InstanceMigration, moves[at_give])
    assert (
        row is not None and row.reverted_at is not None and row.revert_note == "Fel version valdes."
    )
    with pytest.raises(Conflict):
        revert_migration(services, session, designer, moves[at_give], "Igen.")
    session.rollback()

    # Moved on since, and version 1 has the step it is in: moved back.
    world.complete(at_ack, "acknowledge_guideline", "anna", ACKNOWLEDGED)
    result = revert_migration(services, session, designer, moves[at_ack], "Tillbaka.")
    session.commit()
    assert not result.exact and world.case(at_ack).definition_id == v1_id
    assert world.open_task(at_ack).form_id == "introduction_training"
    world.complete(at_ack, "security_training", "anna", TRAINED)
    assert world.case(at_ack).status == "completed"

    # Moved on into the added step, which version 1 does not have: refused, nothing changed.
    world.complete(at_training, "security_training", "anna", TRAINED)
    lock = world.case(at_training).lock_version
    with pytest.raises(RevertRefused) as refused:
        revert_migration(services, session, designer, moves[at_training], "Tillbaka.")
    session.rollback()
    assert refused.value.plan.refusals[0].args["step"] == "Registrera utbildningen"
    assert world.case(at_training).lock_version == lock
    assert world.case(at_training).definition_id == v3.id

    events = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "case.migration_reverted")
    ).all()
    assert {e.details["note"] for e in events} == {"Fel version valdes.", "Tillbaka."}


def test_disposal_takes_the_saved_state_from_before_a_move(
    world: World, session: Session, services: Services
) -> None:
    at_give = world.start()
    v3 = store(session, drop_acknowledgement=False)
    migrate_instances(services, session, world.user("designer"), [at_give], v3, NOTE)
    session.commit()
    counts, _files = _delete_case(session, at_give)
    session.commit()
    assert counts["instance_migration"] == 1
    assert session.scalar(select(InstanceMigration.id)) is None


def _post(client: Browser, url: str, data: dict[str, Any], page: str) -> Any:
    return client.submit(url, data, form_page=page)


def test_the_pages_for_a_designer_and_no_one_else(
    world: World, session: Session, browser: Callable[[str | None], Browser]
) -> None:
    at_give, at_ack, _at_training = world.three_cases()
    v2 = store(session, drop_acknowledgement=True)
    designer = browser("designer")
    select_page = "/processes/introduction/migrate"
    page = designer.text(select_page)
    assert f'value="{at_give}"' in page and "Ge introduktion" in page
    assert "Anna" not in page and "Hemlig" not in page

    plan = _post(
        designer,
        "/processes/introduction/migrate/plan",
        {"case": [str(at_give), str(at_ack)], "to": str(v2.version)},
        select_page,
    )
    assert plan.status_code == 200
    text = plan.get_data(as_text=True)
    assert "Kan flyttas" in text and "Kan inte flyttas" in text and "Anna" not in text
    assert session.scalar(select(InstanceMigration.id)) is None

    empty = _post(designer, "/processes/introduction/migrate/plan", {"to": "2"}, select_page)
    assert empty.status_code == 400 and "Välj minst ett ärende" in empty.get_data(as_text=True)
    unknown = _post(
        designer, "/processes/introduction/migrate/plan", {"case": "x", "to": "2"}, select_page
    )
    assert unknown.status_code == 400
    bad_version = _post(
        designer,
        "/processes/introduction/migrate/plan",
        {"case": str(at_give), "to": "99"},
        select_page,
    )
    assert bad_version.status_code == 400

    no_note = _post(
        designer,
        "/processes/introduction/migrate",
        {"case": str(at_give), "to": str(v2.version), "note": ""},
        select_page,
    )
    assert no_note.status_code == 400 and "anteckning" in no_note.get_data(as_text=True)
    moved = _post(
        designer,
        "/processes/introduction/migrate",
        {"case": [str(at_give), str(at_ack)], "to": str(v2.version), "note": NOTE},
        select_page,
    )
    assert moved.status_code == 200
    assert world.case(at_give).definition_id == v2.id
    assert world.case(at_ack).definition.version == 1
    # The same form sent again: nothing moved twice, said clearly.
    again = _post(
        designer,
        "/processes/introduction/migrate",
        {"case": str(at_give), "to": str(v2.version), "note": NOTE},
        select_page,
    )
    assert again.status_code == 200 and "redan på version" in again.get_data(as_text=True)
    assert len(session.scalars(select(InstanceMigration)).all()) == 1

    history = designer.text("/processes/introduction/migrations")
    assert NOTE in history and "Anna" not in history
    migration_id = session.scalar(select(InstanceMigration.id))
    revert_url = f"/processes/introduction/migrations/{migration_id}/revert"
    assert (
        _post(designer, revert_url, {"note": ""}, "/processes/introduction/migrations").status_code
        == 400
    )
    reverted = _post(
        designer, revert_url, {"note": "Tillbaka."}, "/processes/introduction/migrations"
    )
    assert reverted.status_code == 200 and world.case(at_give).definition.version == 1

    # A form without its CSRF token is refused, whoever sends it.
    bare = designer.client.post(
        "/processes/introduction/migrate",
        data={"case": str(at_give), "to": str(v2.version), "note": NOTE},
    )
    assert bare.status_code == 400 and world.case(at_give).definition.version == 1

    for outsider in ("sakerhet", "anna"):
        client = browser(outsider)
        assert client.get(select_page).status_code == 403
        assert client.get("/processes/introduction/migrations").status_code == 403
        refused = _post(
            client,
            "/processes/introduction/migrate",
            {"case": str(at_give), "to": str(v2.version), "note": NOTE},
            "/notifications",
        )
        assert refused.status_code == 403
    assert world.case(at_give).definition.version == 1


def test_a_deadline_keeps_its_due_time_across_a_move(
    services: Services,
    session: Session,
    browser: Callable[[str | None], Browser],
    clock: Any,
) -> None:
    """Migrating re-predicts waiting branches; a waiting deadline timer must not restart."""
    case_id = report_incident(browser("anna"))
    case = session.get(ProcessInstance, case_id)
    assert case is not None and case.next_wakeup is not None
    due = case.next_wakeup
    source = case.definition
    bpmn_xml = source.bpmn_xml.replace(
        'name="Fyra kontorstimmar har gått"', 'name="Fyra kontorstimmar"'
    ).replace('id="security_assessment" name="', 'id="security_assessment" name="Ny: ')
    assert bpmn_xml != source.bpmn_xml
    files = ProcessFiles("incident", bpmn_xml, source.meta, source.forms, source.decisions)
    target, _created = store_version(session, files, "designer", "test")
    session.commit()
    clock.advance(timedelta(days=3))
    [plan] = plan_migrations(services, session, [case_id], target)
    assert plan.allowed, [r.message for r in plan.refusals]
    batch = migrate_instances(
        services, session, World(services, session).user("designer"), [case_id], target, NOTE
    )
    session.commit()
    assert batch.moved == (case_id,)
    session.expire_all()
    moved = session.get(ProcessInstance, case_id)
    assert moved is not None and moved.definition_id == target.id
    assert moved.next_wakeup == due
