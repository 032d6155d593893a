"""A case saved by an earlier release still loads, shows its tasks and runs on.

Each fixture in tests/fixtures/states/ is a case as an earlier release stored
it (``process_instance.state``) with the definition version it runs on (BPMN,
forms, decisions and the engine spec the version stored), written by
tests/fixtures/make_state_fixtures.py. The test stores that version as the
database would hold it, loads the case through the service's loading path
(Services.load_case → Runner.load), lists its ready tasks and its waiting
timer, completes the recorded task with the recorded answers (validated by the
version's own form), serializes and loads again, and must reach what that
release reached. The service clock stands at the moment the case was saved,
so its timers are neither early nor late.
"""

from __future__ import annotations

import base64
import json
import zlib
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from service.cases.models import ProcessInstance
from service.cases.service import validate_form
from service.clock import OffsetClock
from service.context import Services
from service.definitions.catalog import ProcessFiles, content_hash, store_version
from tests.scenario_runner import form_input

STATES = Path(__file__).resolve().parent / "fixtures" / "states"
FIXTURES = sorted(STATES.glob("*.json"))


def _unpack(text: str) -> str:
    assert text.startswith("z1:")
    return zlib.decompress(base64.b64decode(text[3:])).decode("utf-8")


def _wakeup(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def test_there_are_saved_states_of_several_processes() -> None:
    processes = {json.loads(p.read_text(encoding="utf-8"))["process_id"] for p in FIXTURES}
    assert len(processes) >= 3, processes


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_a_saved_case_loads_lists_its_tasks_and_runs_on(
    path: Path, services: Services, session: Session, clock: OffsetClock
) -> None:
    fixture: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    stored = json.loads((STATES / "definitions" / fixture["definition"]["file"]).read_text())
    version = json.loads(_unpack(stored["packed"]))
    files = ProcessFiles(
        fixture["process_id"],
        version["bpmn_xml"],
        version["meta"],
        version["forms"],
        version["decisions"],
    )
    sha = fixture["definition"]["sha256"]
    assert content_hash(files.bpmn_xml, files.forms, files.meta, files.decisions) == sha
    # The version as the database holds it: this release's definitions already hold
    # it when processes/ has not changed since, otherwise it is added beside them.
    definition, _created = store_version(session, files, author="earlier release")
    if definition.spec_json is None:
        definition.spec_json = version["spec_json"]
    instance = ProcessInstance(
        definition=definition,
        process_id=fixture["process_id"],
        state=fixture["state"],
        next_wakeup=_wakeup(fixture["next_wakeup"]),
        on_behalf=False,
    )
    session.add(instance)
    session.commit()
    clock.advance(datetime.fromisoformat(fixture["saved_at"]) - clock.now())

    handle = services.load_case(instance)
    ready = {task.bpmn_id: task for task in handle.ready_user_tasks()}
    assert sorted(ready) == fixture["ready_tasks"]
    assert handle.next_wakeup() == _wakeup(fixture["next_wakeup"])
    for task in ready.values():
        assert task.form in definition.forms, f"{task.bpmn_id} names a form of its version"
        assert task.lane, task.bpmn_id

    todo = ready[fixture["complete"]["task"]]
    data: dict[str, Any] = {}
    if todo.form:
        form = services.definitions.form(definition, todo.form)
        data = validate_form(session, form, form_input(fixture["complete"]["answers"]))
    services.runner.complete_task(handle, todo.uuid, data)
    assert handle.error is None
    instance.state = services.runner.dump(handle)
    session.commit()
    session.expire_all()

    again = services.load_case(session.get(ProcessInstance, instance.id))  # type: ignore[arg-type]
    after = sorted(task.bpmn_id for task in again.ready_user_tasks())
    assert after == fixture["ready_after"]
    assert todo.uuid not in {task.uuid for task in again.ready_user_tasks()}
    assert again.next_wakeup() == _wakeup(fixture["next_wakeup_after"])
    assert again.data().items() >= data.items(), "the answers are in the case's data"
