"""The engine adapter (timers, messages, save/load) and definition versions."""

from __future__ import annotations

import shutil
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from service.cases.models import ProcessInstance
from service.cases.service import complete_task, start_case
from service.cases.timers import fire_due_timers
from service.config import PROJECT_ROOT
from service.context import Services
from service.db import utcnow
from service.definitions.catalog import (
    latest_definition,
    read_process_files,
    sync_from_files,
    validate_definition,
)
from service.engine import DefinitionError, Runner, parse_process
from service.people.models import Person, User
from service.tasks.models import HumanTask
from tests.probe import PROBE_FORM, PROBE_META, deploy_probe, probe_xml


def _start_probe(services: Services, session: Session, choice: str) -> ProcessInstance:
    user = session.scalar(select(User).where(User.username == "sakerhet"))
    subject = session.scalar(select(Person).where(Person.full_name == "David Dahl"))
    assert user is not None and subject is not None
    instance = start_case(services, session, user, "engine_probe", subject, MultiDict()).instance
    session.commit()
    task = session.scalar(select(HumanTask).where(HumanTask.instance_id == instance.id))
    assert task is not None and task.role == "security"
    complete_task(services, session, user, task.id, MultiDict({"choice": choice}))
    session.commit()
    session.refresh(instance)
    return instance


def test_due_timer_fires_once_and_completes_the_case(services: Services, session: Session) -> None:
    deploy_probe(session, timer='"PT0.3S"')
    instance = _start_probe(services, session, "timer")
    assert instance.status == "running"
    assert instance.next_wakeup is not None and instance.next_wakeup.tzinfo is not None
    # The engine reads the real clock (an injectable clock comes with the worker).
    time.sleep(max(0.0, (instance.next_wakeup - utcnow()).total_seconds()) + 0.05)
    assert fire_due_timers(services) == 1
    session.refresh(instance)
    assert instance.status == "completed" and instance.next_wakeup is None
    assert fire_due_timers(services, now=utcnow() + timedelta(seconds=1)) == 0


def test_timer_not_yet_due_is_left_alone(services: Services, session: Session) -> None:
    deploy_probe(session, timer='"PT1H"')
    instance = _start_probe(services, session, "timer")
    assert instance.next_wakeup is not None
    assert instance.next_wakeup - utcnow() > timedelta(minutes=59)
    assert fire_due_timers(services) == 0
    session.refresh(instance)
    assert instance.status == "running"


def test_message_reaches_the_waiting_case_with_its_payload(
    services: Services, session: Session
) -> None:
    deploy_probe(session)
    instance = _start_probe(services, session, "message")
    handle = services.load_case(instance)
    assert handle.waiting_messages() == ["alarm_ack"]
    services.runner.send_message(handle, "alarm_ack", {"by": "tib"})
    assert handle.is_completed
    assert handle.data()["acked_by"] == "tib"
    with pytest.raises(Exception, match="not waiting"):
        services.runner.send_message(services.load_case(instance), "unknown", {})


def test_saved_state_resumes_with_the_restricted_engine(
    services: Services, session: Session
) -> None:
    deploy_probe(session)
    instance = _start_probe(services, session, "message")
    handle = services.load_case(instance)
    assert handle.workflow.script_engine is services.runner.script_engine


def test_changed_process_file_becomes_a_new_version_and_old_cases_keep_theirs(
    services: Services, session: Session, tmp_path: Path
) -> None:
    processes, forms = tmp_path / "processes", tmp_path / "forms"
    shutil.copytree(PROJECT_ROOT / "processes", processes)
    shutil.copytree(PROJECT_ROOT / "forms", forms)
    assert sync_from_files(session, processes, forms) == [], "unchanged files: no new version"
    v1 = latest_definition(session, "incident")
    assert v1 is not None and v1.version == 1
    user = session.scalar(select(User).where(User.username == "anna"))
    assert user is not None and user.person is not None
    from tests.incident_data import report

    old_case = start_case(
        services, session, user, "incident", user.person, MultiDict(report())
    ).instance
    session.commit()

    bpmn = processes / "incident.bpmn"
    bpmn.write_text(bpmn.read_text().replace('name="Bedöm händelsen"', 'name="Gör en bedömning"'))
    created = sync_from_files(session, processes, forms)
    session.commit()
    assert [(d.process_id, d.version) for d in created] == [("incident", 2)]
    new_case = start_case(
        services, session, user, "incident", user.person, MultiDict(report())
    ).instance
    session.commit()
    assert old_case.definition.version == 1 and new_case.definition.version == 2
    names = {
        t.instance_id: t.name
        for t in session.scalars(
            select(HumanTask).where(HumanTask.bpmn_id == "security_assessment")
        )
    }
    assert names == {old_case.id: "Bedöm händelsen", new_case.id: "Gör en bedömning"}

    # A changed form is a new version too.
    form = forms / "incident_close.json"
    form.write_text(form.read_text().replace("Följ upp", "Följ upp "))
    assert [d.version for d in sync_from_files(session, processes, forms)] in ([3], [])


def test_every_shipped_process_validates() -> None:
    files = read_process_files(PROJECT_ROOT / "processes", PROJECT_ROOT / "forms")
    assert "incident" in {f.process_id for f in files}


HOSTILE_XML = {
    "external entity": (
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&x;</bpmn:definitions>',
        "DOCTYPE",
    ),
    "billion laughs": (
        '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><x>&b;</x>',
        "DOCTYPE",
    ),
    "external DTD": (
        '<?xml version="1.0"?><!DOCTYPE d SYSTEM "http://127.0.0.1:9/evil.dtd">'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"/>',
        "DOCTYPE",
    ),
    "parameter entity": (
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><d/>',
        "DOCTYPE",
    ),
    "not xml": ("this is not xml at all", "not well-formed"),
    "binary": ("\x00\x01PK\x03\x04" + "\xff" * 64, "not well-formed"),
    "empty": ("", "not well-formed"),
    "too large": ("<x>" + "a" * (6 * 1024 * 1024) + "</x>", "limit"),
    "50 MB": ("<x>" + "a" * (50 * 1024 * 1024) + "</x>", "limit"),
}


@pytest.mark.parametrize("case", list(HOSTILE_XML), ids=list(HOSTILE_XML))
def test_hostile_xml_is_refused_before_parsing(case: str) -> None:
    text, complaint = HOSTILE_XML[case]
    with pytest.raises(DefinitionError) as refused:
        parse_process(text, "x")
    assert complaint in str(refused.value)


def test_reserved_id_is_refused_with_the_element() -> None:
    xml = (
        probe_xml()
        .replace('id="probe_start"', 'id="Start"')
        .replace('sourceRef="probe_start"', 'sourceRef="Start"')
    )
    with pytest.raises(DefinitionError) as refused:
        parse_process(xml, "engine_probe")
    assert refused.value.element_id == "Start"


def test_lane_that_is_not_a_role_is_refused() -> None:
    xml = probe_xml().replace('name="security"', 'name="kitchen"')
    with pytest.raises(DefinitionError) as refused:
        validate_definition("engine_probe", xml, PROBE_META, {"probe_form": PROBE_FORM})
    assert refused.value.element_id == "fill_in" and "kitchen" in str(refused.value)


def test_user_task_without_an_existing_form_is_refused() -> None:
    with pytest.raises(DefinitionError) as refused:
        validate_definition("engine_probe", probe_xml(), PROBE_META, {})
    assert refused.value.element_id == "fill_in"


def test_bpmn_that_breaks_the_schema_is_refused() -> None:
    xml = (
        probe_xml()
        .replace("<bpmn:startEvent", "<bpmn:startEventX")
        .replace("</bpmn:startEvent>", "</bpmn:startEventX>")
    )
    with pytest.raises(DefinitionError):
        parse_process(xml, "engine_probe")


def test_runner_start_to_first_task_without_database() -> None:
    runner = Runner()
    handle = runner.start(parse_process(probe_xml(), "engine_probe"), {})
    assert [t.bpmn_id for t in handle.ready_user_tasks()] == ["fill_in"]
    again = runner.load(runner.dump(handle), handle.spec_json)
    assert [t.uuid for t in again.ready_user_tasks()] == [t.uuid for t in handle.ready_user_tasks()]
