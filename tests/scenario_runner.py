"""The test suite's side of the scenario tests (processes/<id>.scenarios.json).

The runner itself lives in service/definitions/scenarios.py, where designers
run a draft's paths too; here a failing path is an AssertionError with the
runner's message, and the cases' task trees feed the flow coverage.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from service.cases.models import ProcessInstance
from service.config import PROJECT_ROOT
from service.context import Services
from service.definitions.scenarios import (
    PathRunner,
    ScenarioFailure,
    form_input,
    sequence_flows_of,
)
from service.people.models import Person, User
from service.tasks.models import HumanTask

PROCESSES = PROJECT_ROOT / "processes"
SUFFIX = ".scenarios.json"

__all__ = ["Coverage", "Path_", "ScenarioRunner", "form_input", "load_paths", "sequence_flows"]


@dataclass(frozen=True)
class Path_:
    process_id: str
    index: int
    spec: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.process_id}[{self.index}]"


def scenario_files(directory: Path = PROCESSES) -> list[Path]:
    return sorted(directory.glob(f"*{SUFFIX}"))


def load_paths() -> list[Path_]:
    paths = []
    for file in scenario_files():
        process_id = file.name.removesuffix(SUFFIX)
        scenario = json.loads(file.read_text(encoding="utf-8"))
        assert scenario["process_id"] == process_id, file
        for index, spec in enumerate(scenario["paths"]):
            paths.append(Path_(process_id, index, spec))
    return paths


def sequence_flows(process_id: str) -> dict[tuple[str, str], str]:
    """(source, target) → flow id, read from the process's own BPMN."""
    bpmn = (PROCESSES / f"{process_id}.bpmn").read_text(encoding="utf-8")
    return sequence_flows_of(bpmn, process_id)


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
    """PathRunner with assertions; ``start`` may be replaced (the HTTP test starts over HTTP)."""

    def __init__(
        self, services: Services, session: Session, coverage: Coverage | None = None
    ) -> None:
        self.services = services
        self.session = session
        self.coverage = coverage or Coverage()
        self.core = PathRunner(services, session)
        self._path: Path_ | None = None
        core_start = self.core.start_path

        def start_path(process_id: str, spec: dict[str, Any]) -> int:
            assert self._path is not None
            if "start" in vars(self):  # a test replaced start (e.g. over HTTP)
                return int(self.start(self._path))
            return core_start(process_id, spec)

        self.core.start_path = start_path  # type: ignore[method-assign]

    def start(self, path: Path_) -> int:
        return self.core.start_path(path.process_id, path.spec)

    def user(self, username: str) -> User:
        try:
            return self.core.user(username)
        except ScenarioFailure as exc:
            raise AssertionError(exc.message) from exc

    def person(self, name: str | None) -> Person | None:
        try:
            return self.core.person(name)
        except ScenarioFailure as exc:
            raise AssertionError(exc.message) from exc

    def family(self, case_id: int) -> list[ProcessInstance]:
        return self.core.family(case_id)

    def run(
        self, path: Path_, complete: Callable[[HumanTask, User, dict[str, Any]], None] | None = None
    ) -> int:
        self._path = path
        try:
            case_id = self.core.run_path(path.process_id, path.spec, complete)
        except ScenarioFailure as exc:
            raise AssertionError(f"{path.id}: {exc.message}") from exc
        for instance in self.family(case_id):
            self.coverage.add_case(self.services, instance)
        return case_id
