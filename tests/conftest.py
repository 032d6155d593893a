"""Shared fixtures: a fresh database and app per test, a browser-like client, the demo people."""

from __future__ import annotations

import base64
import os

# Cheap argon2 parameters for the many test logins (set before the hasher is built).
os.environ.setdefault("TRYGG_TEST_FAST_HASHES", "1")
# A field key for this test process (never instance/field_keys); subprocesses inherit it.
os.environ.setdefault("TRYGG_FIELD_KEYS", base64.urlsafe_b64encode(os.urandom(32)).decode())

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.app import create_app
from service.config import PROJECT_ROOT, Settings
from service.context import Services
from service.people.models import Person, User
from tests.databases import DatabaseFactory
from tests.web_client import Browser


@pytest.fixture(scope="session")
def database_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(tmp_path_factory.mktemp("db"))
    yield factory
    factory.close()


@pytest.fixture
def database_url(database_factory: DatabaseFactory) -> Iterator[str]:
    with database_factory.fresh() as url:
        yield url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings.from_env(
        database_url=database_url,
        secret_key="test-secret-key-not-for-production",
        processes_dir=PROJECT_ROOT / "processes",
        forms_dir=PROJECT_ROOT / "forms",
        session_cookie_secure=False,
        attachments_dir=tmp_path / "attachments",
    )


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    services = Services.create(settings)
    yield services
    services.db.engine.dispose()


@pytest.fixture
def app(settings: Settings, services: Services) -> Flask:
    app = create_app(settings, services)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def session(services: Services) -> Iterator[Session]:
    with services.db.sessions() as session:
        yield session


@pytest.fixture
def browser(app: Flask) -> Callable[[str | None], Browser]:
    """browser('anna') gives a client signed in as anna; browser(None) an anonymous one."""

    def make(username: str | None) -> Browser:
        client = Browser(app)
        if username:
            client.login(username)
        return client

    return make


@pytest.fixture
def person_id(session: Session) -> Callable[[str], int]:
    def lookup(full_name: str) -> int:
        found = session.scalar(select(Person.id).where(Person.full_name == full_name))
        assert found is not None, full_name
        return found

    return lookup


@pytest.fixture
def user_by_name(session: Session) -> Callable[[str], User]:
    def lookup(username: str) -> User:
        found = session.scalar(select(User).where(User.username == username))
        assert found is not None, username
        return found

    return lookup


@pytest.fixture
def clock() -> Iterator[object]:
    """The service clock, moved by tests instead of sleeping (clock.advance(timedelta(...)))."""
    from service import clock as service_clock

    offset = service_clock.OffsetClock()
    previous = service_clock.install(offset)
    yield offset
    service_clock.install(previous)
