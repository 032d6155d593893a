"""Run the process path scenarios (tests/scenarios/*.json) through the service layer or HTTP."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from service.auth import policy
from service.cases.models import CaseLink, ProcessInstance
from service.cases.service import (
    CaseStarter,
    complete_task,
    start_case,
    validate_form,
)
from service.cases.timers import fire_due_timers
from service.config import PROJECT_ROOT
from service.context import Services
from service.db import utcnow
from service.definitions.catalog import latest_definition
from service.people.models import Person, User
from service.tasks.models import HumanTask

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"


@dataclass(frozen=True)
class Path_:
    process_id: str
    index: int
    spec: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.process_id}[{self.index}]"


def load_paths() -> list[Path_]:
    paths = []
    for file in sorted(SCENARIOS.glob("*.json")):
        scenario = json.loads(file.read_text(encoding="utf-8"))
        assert scenario["process_id"] == file.stem, file
        for index, spec in enumerate(scenario["paths"]):
            paths.append(Path_(file.stem, index, spec))
    return paths


def form_input(data: dict[str, Any] | None) -> MultiDict[str, str]:
    """Answers the way a browser posts them."""
    pairs: list[tuple[str, str]] = []
    for key, value in (data or {}).items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, bool):
                item = "yes" if item else "no"
            pairs.append((key, "" if item is None else str(item)))
    return MultiDict(pairs)


def sequence_flows(process_id: str) -> dict[tuple[str, str], str]:
    """(source, target) → flow id, read from the process's own BPMN."""
    root = etree.parse(str(PROJECT_ROOT / "processes" / f"{process_id}.bpmn")).getroot()
    flows = {}
    for process in root.iter(f"{BPMN}process"):
        if process.get("id") != process_id:
            continue
        for flow in process.iter(f"{BPMN}sequenceFlow"):
            flows[(flow.get("sourceRef"), flow.get("targetRef"))] = flow.get("id")
    return flows


@dataclass
class Coverage:
    taken: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def add_case(self, services: Services, instance: ProcessInstance) -> None:
        if not instance.state:
            return
        steps = services.load_case(instance).reached_steps()
        flows = sequence_flows(instance.process_id)
        self.taken[instance.process_id] |= {flows[s] for s in steps if s in flows}


class ScenarioRunner:
    def __init__(
        self, services: Services, session: Session, coverage: Coverage | None = None
    ) -> None:
        self.services = services
        self.session = session
        self.coverage = coverage or Coverage()

    def user(self, username: str) -> User:
        found = self.session.scalar(select(User).where(User.username == username))
        assert found is not None, f"no demo user {username!r}"
        return found

    def person(self, name: str | None) -> Person | None:
        if name is None:
            return None
        found = self.session.scalar(select(Person).where(Person.full_name == name))
        assert found is not None, f"no demo person {name!r}"
        return found

    def open_task(self, case_id: int, bpmn_id: str) -> HumanTask:
        self.session.expire_all()
        task = self.session.scalar(
            select(HumanTask).where(
                HumanTask.instance_id == case_id,
                HumanTask.bpmn_id == bpmn_id,
                HumanTask.status == "open",
            )
        )
        open_now = self.session.scalars(
            select(HumanTask.bpmn_id).where(
                HumanTask.instance_id == case_id, HumanTask.status == "open"
            )
        ).all()
        assert task is not None, f"task {bpmn_id!r} is not open; open: {list(open_now)}"
        return task

    def family(self, case_id: int) -> list[ProcessInstance]:
        """The case and every case started from it, transitively."""
        found, frontier = [case_id], [case_id]
        while frontier:
            children = self.session.scalars(
                select(CaseLink.to_instance_id).where(CaseLink.from_instance_id.in_(frontier))
            ).all()
            frontier = [c for c in children if c not in found]
            found += frontier
        self.session.expire_all()
        return [self.session.get(ProcessInstance, c) for c in found]  # type: ignore[misc]

    def fire_timers(self, case_id: int) -> None:
        for instance in self.family(case_id):
            if instance.status != "running" or instance.next_wakeup is None:
                continue
            handle = self.services.load_case(instance)
            if self.services.runner.make_timers_due(handle, utcnow() - timedelta(seconds=1)):
                instance.state = self.services.runner.dump(handle)
                instance.next_wakeup = utcnow() - timedelta(seconds=1)
        self.session.commit()
        fire_due_timers(self.services)

    def start(self, path: Path_) -> int:
        spec = path.spec
        if "initial" in spec:
            return self.start_as_system(path)
        result = start_case(
            self.services,
            self.session,
            self.user(spec["starter"]),
            path.process_id,
            self.person(spec.get("subject")),
            form_input(spec.get("start")),
        )
        self.session.commit()
        return result.instance.id

    def start_as_system(self, path: Path_) -> int:
        """Start the way another system does (the alarm-centre API): CaseStarter directly,
        with the start-form answers plus the path's ``initial`` data, no starter needed."""
        spec = path.spec
        definition = latest_definition(self.session, path.process_id)
        assert definition is not None, path.process_id
        subject = self.person(spec.get("subject"))
        parsed = self.services.definitions.parsed(definition)
        data: dict[str, Any] = {}
        if parsed.start_form:
            form = self.services.definitions.form(definition, parsed.start_form)
            data = validate_form(self.session, form, form_input(spec.get("start")))
        data.update(spec["initial"])
        starter = self.user(spec["starter"]) if spec.get("starter") else None
        instance = CaseStarter(self.services, self.session, starter).start_about(
            definition, subject, data
        )
        self.session.commit()
        return instance.id

    def run(
        self, path: Path_, complete: Callable[[HumanTask, User, dict[str, Any]], None] | None = None
    ) -> int:
        case_id = self.start(path)
        for step in path.spec.get("steps", []):
            if step.get("fire_timers"):
                self.fire_timers(case_id)
                continue
            task = self.open_task(case_id, step["task"])
            worker = self.user(step["as"])
            assert policy.can_work_task(worker, task), f"{step['as']} may not do {step['task']}"
            if complete is None:
                complete_task(
                    self.services, self.session, worker, task.id, form_input(step.get("data"))
                )
                self.session.commit()
            else:
                complete(task, worker, step.get("data") or {})
        self.check(path, case_id)
        for instance in self.family(case_id):
            self.coverage.add_case(self.services, instance)
        return case_id

    def check(self, path: Path_, case_id: int) -> None:
        expect = path.spec.get("expect", {})
        family = self.family(case_id)
        case = family[0]
        assert case.status == expect.get("status", "completed"), (
            f"{path.id}: status {case.status} ({case.error_message})"
        )
        direct = self.session.scalars(
            select(ProcessInstance.process_id)
            .join(CaseLink, CaseLink.to_instance_id == ProcessInstance.id)
            .where(CaseLink.from_instance_id == case_id)
        ).all()
        assert sorted(direct) == sorted(expect.get("links", [])), f"{path.id}: links {direct}"
        for child in family[1:]:
            assert child.status != "error", (
                f"{path.id}: linked {child.process_id}: {child.error_message}"
            )
        if "open_tasks" in expect:
            still_open = self.session.scalars(
                select(HumanTask.bpmn_id).where(
                    HumanTask.instance_id == case_id, HumanTask.status == "open"
                )
            ).all()
            assert sorted(still_open) == sorted(expect["open_tasks"]), (
                f"{path.id}: open {still_open}"
            )
