"""The long-lived parts a domain service needs, created once per process."""

from __future__ import annotations

from dataclasses import dataclass

from service.config import Settings
from service.db import Database
from service.definitions.catalog import DefinitionCache
from service.engine import Runner


@dataclass
class Services:
    settings: Settings
    db: Database
    runner: Runner
    definitions: DefinitionCache

    @classmethod
    def create(cls, settings: Settings) -> Services:
        return cls(
            settings=settings,
            db=Database(settings.database_url),
            runner=Runner(step_budget=settings.engine_step_budget),
            definitions=DefinitionCache(),
        )
