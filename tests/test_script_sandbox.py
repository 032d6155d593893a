"""The restricted script engine: model code that tries to escape fails, is recorded, runs nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from service.cases.models import ProcessInstance
from service.cases.service import complete_task, start_case
from service.context import Services
from service.definitions.catalog import ProcessFiles, store_version, validate_definition
from service.engine import DefinitionError
from service.engine.scripting import check_code
from service.people.models import Person, User
from service.tasks.models import HumanTask
from tests.probe import PROBE_FORM, PROBE_META, deploy_probe, looping_probe_xml, probe_xml

CANARY = Path("/tmp/trygg-sandbox-canary")  # noqa: S108 - the hostile code aims here

HOSTILE = {
    "import": "__import__('os').system('touch /tmp/trygg-sandbox-canary') == 0",
    "open": "open('/etc/passwd').read() != ''",
    "eval": "eval('1 + 1') == 2",
    "exec": "exec('x = 1') is None",
    "dunder walk": "[c for c in ().__class__.__base__.__subclasses__()] != []",
    "getattr walk": "getattr((), '__class__') is not None",
    "format walk": "'{0.__class__}'.format(1) != ''",
    "globals": "globals() is not None",
    "type": "type(1) is int",
}


@pytest.fixture(autouse=True)
def no_canary() -> None:
    CANARY.unlink(missing_ok=True)


def _actors(session: Session) -> tuple[User, Person]:
    user = session.scalar(select(User).where(User.username == "sakerhet"))
    subject = session.scalar(select(Person).where(Person.full_name == "Anna Andersson"))
    assert user is not None and subject is not None
    return user, subject


def _run_to_gateway(services: Services, session: Session) -> ProcessInstance:
    user, subject = _actors(session)
    result = start_case(services, session, user, "engine_probe", subject, MultiDict())
    session.commit()
    task = session.scalar(
        select(HumanTask).where(
            HumanTask.instance_id == result.instance.id, HumanTask.status == "open"
        )
    )
    assert task is not None
    complete_task(services, session, user, task.id, MultiDict({"choice": "timer"}))
    session.commit()
    return result.instance


@pytest.mark.parametrize("condition", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_condition_stops_the_case_and_runs_nothing(
    services: Services, session: Session, condition: str
) -> None:
    deploy_probe(session, condition=condition)
    instance = _run_to_gateway(services, session)
    session.refresh(instance)
    assert instance.status == "error"
    assert instance.error_message
    assert not CANARY.exists()
    # What the person submitted is kept: the task is recorded with its answer.
    done = session.scalar(
        select(HumanTask).where(
            HumanTask.instance_id == instance.id, HumanTask.status == "completed"
        )
    )
    assert done is not None and done.submitted_data == {"choice": "timer"}
    # The saved state still loads, with the engine's restricted environment re-attached.
    handle = services.load_case(instance)
    assert handle.error_tasks() == ["decide"]


@pytest.mark.parametrize(
    "script",
    [
        "import os\nos.system('touch /tmp/trygg-sandbox-canary')",
        "x = open('/tmp/trygg-sandbox-canary', 'w')",
        "f = ().__class__.__base__.__subclasses__()",
        "y = [1 for c in range(3)]\nz = y.__len__()",
    ],
    ids=["import", "open", "dunder", "method dunder"],
)
def test_hostile_script_fails_at_start_and_is_recorded(
    services: Services, session: Session, script: str
) -> None:
    deploy_probe(session, script=script)
    user, subject = _actors(session)
    result = start_case(services, session, user, "engine_probe", subject, MultiDict())
    session.commit()
    assert result.instance.status == "error"
    assert "compute" in (result.instance.error_message or "") or result.instance.error_message
    assert not CANARY.exists()


def test_benign_code_runs_with_the_allowed_builtins(services: Services, session: Session) -> None:
    deploy_probe(
        session,
        script="total = sum([1, 2, 3])\ntotal += 1\nnames = sorted(['b', 'a'])\nd = {'k': 1}\nd['k'] = 2",
    )
    instance = _run_to_gateway(services, session)
    session.refresh(instance)
    assert instance.status == "running"
    data = services.load_case(instance).data()
    # the probe's own next line adds one more
    assert data["total"] == 8 and data["names"] == ["a", "b"] and data["d"] == {"k": 2}


def test_endless_loop_is_stopped_by_the_step_budget(services: Services, session: Session) -> None:
    files = ProcessFiles(
        "engine_probe", looping_probe_xml(), PROBE_META, {"probe_form": PROBE_FORM}
    )
    store_version(session, files, "test")
    session.commit()
    user, subject = _actors(session)
    services.runner.step_budget = 50
    result = start_case(services, session, user, "engine_probe", subject, MultiDict())
    assert result.instance.status == "error"
    assert "automatic steps" in (result.instance.error_message or "")


def test_cycle_without_gateway_is_recorded_not_crashed(
    services: Services, session: Session
) -> None:
    cyclic = probe_xml().replace(
        '<bpmn:sequenceFlow id="f2" sourceRef="compute" targetRef="fill_in" />',
        '<bpmn:sequenceFlow id="f2" sourceRef="compute" targetRef="compute" />',
    )
    store_version(
        session,
        ProcessFiles("engine_probe", cyclic, PROBE_META, {"probe_form": PROBE_FORM}),
        "test",
    )
    session.commit()
    user, subject = _actors(session)
    result = start_case(services, session, user, "engine_probe", subject, MultiDict())
    session.commit()
    assert result.instance.status == "error"
    assert "cycle" in (result.instance.error_message or "")


@pytest.mark.parametrize("condition", list(HOSTILE.values()), ids=list(HOSTILE))
def test_deploy_refuses_hostile_code_before_it_is_stored(condition: str) -> None:
    with pytest.raises(DefinitionError) as refused:
        validate_definition(
            "engine_probe", probe_xml(condition=condition), PROBE_META, {"probe_form": PROBE_FORM}
        )
    assert (
        refused.value.element_id == "decide"
        or "restricted" in str(refused.value)
        or "not" in str(refused.value)
    )


def test_compile_check_names_the_problem() -> None:
    problem = check_code("__import__('os')", expression=True)
    assert problem is not None and "__import__" in problem
    assert check_code("len(items) > 2 and sum(items) < 10", expression=True) is None
