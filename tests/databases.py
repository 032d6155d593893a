"""Fresh databases for tests: SQLite by default, PostgreSQL when TEST_DATABASE_URL names one.

A template database is migrated and loaded once per test session (processes
and demo data); every test then gets its own copy, so tests never see each
other's cases. On PostgreSQL the copy is ``CREATE DATABASE … TEMPLATE``.
"""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from service.config import PROJECT_ROOT, normalise_database_url
from service.db import Database
from service.definitions.catalog import sync_from_files
from service.migrate import upgrade
from service.people.demo import load_demo_data
from tests.totp import enrol_demo_users

_counter = itertools.count()


def test_database_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL")
    return normalise_database_url(url) if url else None


def _prepare(url: str) -> None:
    database = Database(url)
    try:
        upgrade(database)
        with database.transaction() as session:
            sync_from_files(session, PROJECT_ROOT / "processes", PROJECT_ROOT / "forms")
            load_demo_data(session)
            enrol_demo_users(session)  # sakerhet, sakerhetschef, tib: the test TOTP secret
    finally:
        database.engine.dispose()


def _admin_conninfo(url: str) -> str:
    parsed = make_url(url)
    return (
        f"host={parsed.host or '127.0.0.1'} port={parsed.port or 5432} "
        f"user={parsed.username or 'postgres'} dbname={parsed.database}"
        + (f" password={parsed.password}" if parsed.password else "")
    )


@contextmanager
def empty_database(like_url: str | None, sqlite_path: Path, prefix: str) -> Iterator[str]:
    """A new, empty database of the same kind as ``like_url`` (SQLite when None), dropped after."""
    if not like_url or make_url(like_url).get_backend_name() == "sqlite":
        yield f"sqlite:///{sqlite_path}"
        return
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = _admin_conninfo(like_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        yield make_url(like_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


class DatabaseFactory:
    """Makes a fresh copy of the prepared template for each test."""

    def __init__(self, tmp_dir: Path) -> None:
        self.pg_url = test_database_url()
        self.tmp_dir = tmp_dir
        self.tag = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"
        if self.pg_url:
            self.template = f"trygg_tmpl_{self.tag}"
            self._execute(f'CREATE DATABASE "{self.template}"')
            _prepare(self._url_for(self.template))
        else:
            self.template_file = tmp_dir / "template.sqlite3"
            _prepare(f"sqlite:///{self.template_file}")

    @property
    def dialect(self) -> str:
        return "postgresql" if self.pg_url else "sqlite"

    def _url_for(self, name: str) -> str:
        assert self.pg_url
        return make_url(self.pg_url).set(database=name).render_as_string(hide_password=False)

    def _execute(self, sql: str) -> None:
        assert self.pg_url
        with psycopg.connect(_admin_conninfo(self.pg_url), autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    @contextmanager
    def fresh(self) -> Iterator[str]:
        n = next(_counter)
        if self.pg_url:
            name = f"trygg_t_{self.tag}_{n}"
            self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
            try:
                yield self._url_for(name)
            finally:
                self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            path = self.tmp_dir / f"test_{n}.sqlite3"
            shutil.copyfile(self.template_file, path)
            yield f"sqlite:///{path}"

    def close(self) -> None:
        if self.pg_url:
            self._execute(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')
