"""The long-lived parts a domain service needs, created once per process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from service.config import Settings
from service.db import Database
from service.definitions.catalog import DefinitionCache
from service.engine import Runner, WorkflowHandle

if TYPE_CHECKING:
    from service.cases.models import ProcessInstance


@dataclass
class Services:
    settings: Settings
    db: Database
    runner: Runner
    definitions: DefinitionCache

    def load_case(self, instance: ProcessInstance) -> WorkflowHandle:
        """The case's workflow, with the spec of the version it runs on."""
        return self.runner.load(instance.state, self.definitions.spec_json(instance.definition))

    @classmethod
    def create(cls, settings: Settings) -> Services:
        return cls(
            settings=settings,
            db=Database(settings.database_url),
            runner=Runner(step_budget=settings.engine_step_budget),
            definitions=DefinitionCache(),
        )
