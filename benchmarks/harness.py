"""Shared set-up for the benchmarks: a scratch database, the demo data, timing helpers."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from service.config import PROJECT_ROOT, Settings
from service.context import Services
from service.definitions.catalog import sync_from_files
from service.migrate import upgrade
from service.people.demo import load_demo_data


@dataclass
class Stats:
    samples_ms: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def timed(fn: Callable[[], object], repeat: int, warmup: int = 3) -> Stats:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return Stats(samples)


def timed_each(fns: list[Callable[[], object]]) -> Stats:
    samples = []
    for fn in fns:
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return Stats(samples)


@contextmanager
def scratch_database(base_url: str | None) -> Iterator[str]:
    """A fresh database: a temporary SQLite file, or a new database on the given server."""
    if base_url is None:
        folder = tempfile.mkdtemp(prefix="trygg-bench-")
        yield f"sqlite:///{folder}/bench.sqlite3"
        return
    url = make_url(base_url.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = f"host={url.host} port={url.port or 5432} user={url.username} dbname={url.database}"
    name = f"trygg_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def prepared_services(url: str) -> Services:
    os.environ.setdefault("TRYGG_TEST_FAST_HASHES", "1")
    services = Services.create(Settings.from_env(database_url=url))
    upgrade(services.db)
    with services.db.sessions() as session:
        sync_from_files(session, PROJECT_ROOT / "processes", PROJECT_ROOT / "forms")
        load_demo_data(session)
        session.commit()
    return services


class SqlCounter:
    """Counts statements and transactions sent through an engine."""

    def __init__(self, engine: Engine) -> None:
        self.statements = 0
        self.commits = 0
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, *_args: object) -> None:
        self.statements += 1

    def _commit(self, *_args: object) -> None:
        self.commits += 1

    def reset(self) -> None:
        self.statements = self.commits = 0
