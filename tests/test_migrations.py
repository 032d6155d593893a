"""Upgrades: from every earlier migration to head, with data in the tables.

For each revision in service/migrations/versions (found by Alembic, so a new
migration is tested without touching this file): a fresh database is upgraded
to it, representative rows are written with the schema of that revision (a
party, a person, a user with a role, a definition, a case, its task and an
audit event), and the database is upgraded to head; the rows must come
through intact and readable by this release's models. The last migration's
downgrade, when it has one, must round-trip. And the migrated schema must be
exactly what the models describe, so a model change without its migration
fails here.

On PostgreSQL when TEST_DATABASE_URL is set (scratch databases created and
dropped here), on SQLite otherwise.
"""

from __future__ import annotations

import ast
import inspect as pyinspect
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    select,
)
from sqlalchemy.orm import Session

import service.models  # noqa: F401 - every table on the metadata
from service.audit.models import AuditEvent
from service.cases.models import ProcessInstance
from service.config import PROJECT_ROOT
from service.db import Base, Database
from service.definitions.models import ProcessDefinition
from service.migrate import alembic_config, downgrade, upgrade
from service.people.models import Person, User
from service.tasks.models import HumanTask
from tests import databases

SCRIPT = ScriptDirectory.from_config(alembic_config("sqlite://"))
# Oldest first.
REVISIONS = [r.revision for r in reversed(list(SCRIPT.walk_revisions("base", "heads")))]
HEAD = str(SCRIPT.get_current_head())
STATE = "z1:" + "eJyrVkrLz1eyUkpKLFKqBQAdegQ0"  # a packed (zlib, base64) engine state


@pytest.fixture
def scratch_url(tmp_path: Path) -> Iterator[str]:
    """A new, empty database for one test: PostgreSQL when the tests run there."""
    with databases.empty_database(
        databases.test_database_url(), tmp_path / "migrations.sqlite3", "trygg_mig"
    ) as url:
        yield url


@pytest.fixture
def scratch(scratch_url: str) -> Iterator[Database]:
    database = Database(scratch_url)
    yield database
    database.engine.dispose()


def _filler(table: Table, values: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Values for required columns a later schema has and these rows do not name.

    A migration that adds a NOT NULL column must give existing rows a value;
    rows written at that revision need one too.
    """
    row = dict(values)
    for column in table.columns:
        if column.name in row or column.nullable or column.server_default is not None:
            continue
        if column.primary_key and isinstance(column.type, Integer):
            continue
        kind = column.type
        if isinstance(kind, Boolean):
            row[column.name] = False
        elif isinstance(kind, Integer):
            row[column.name] = 0
        elif isinstance(kind, DateTime):
            row[column.name] = now
        elif isinstance(kind, JSON):
            row[column.name] = {}
        elif isinstance(kind, String):
            row[column.name] = "x"
        else:
            raise AssertionError(f"no filler for {table.name}.{column.name} ({kind})")
    return row


def _insert(connection: Connection, tables: MetaData, name: str, values: dict[str, Any]) -> int:
    table = tables.tables[name]
    now = values.get("created_at") or datetime.now(UTC)
    result = connection.execute(table.insert().values(**_filler(table, values, now)))
    primary_key = result.inserted_primary_key
    assert primary_key is not None
    return int(primary_key[0])


def _write_rows(database: Database) -> dict[str, Any]:
    """Representative rows, written with whatever schema the database has now."""
    # SQLite keeps naive UTC (service/db.py UTCDateTime); PostgreSQL timestamptz.
    now = datetime(2026, 11, 27, 21, 30, tzinfo=UTC)
    if not database.is_postgres:
        now = now.replace(tzinfo=None)
    bpmn = (PROJECT_ROOT / "processes" / "police_report.bpmn").read_text(encoding="utf-8")
    meta = {"title": "Polisanmälan", "description": "Stöd vid polisanmälan.", "starters": []}
    with database.engine.begin() as connection:
        tables = MetaData()
        tables.reflect(connection)
        ids: dict[str, Any] = {}
        ids["party"] = _insert(
            connection, tables, "party", {"name": "Migreringspartiet", "short_name": "MP"}
        )
        ids["person"] = _insert(
            connection,
            tables,
            "person",
            {
                "full_name": "Märta Migrering",
                "category": "full_time",
                "party_id": ids["party"],
                "assignment": "Borgarråd",
                "created_at": now,
            },
        )
        ids["user"] = _insert(
            connection,
            tables,
            "user_account",
            {
                "username": "marta",
                "display_name": "Märta Migrering",
                "email": "marta@example.invalid",
                "password_hash": None,
                "active": True,
                "party_id": ids["party"],
                "person_id": ids["person"],
                "created_at": now,
            },
        )
        _insert(connection, tables, "user_role", {"user_id": ids["user"], "role": "official"})
        ids["definition"] = _insert(
            connection,
            tables,
            "process_definition",
            {
                "process_id": "police_report",
                "version": 1,
                "name": "Polisanmälan",
                "bpmn_xml": bpmn,
                "forms": {"choose_how": {"id": "choose_how"}},
                "meta": meta,
                "sha256": "a" * 64,
                "author": "system",
                "note": "Inläst från processes/",
                "created_at": now,
            },
        )
        ids["instance"] = _insert(
            connection,
            tables,
            "process_instance",
            {
                "definition_id": ids["definition"],
                "process_id": "police_report",
                "status": "running",
                "subject_person_id": ids["person"],
                "party_id": ids["party"],
                "started_by_id": ids["user"],
                "on_behalf": False,
                "state": STATE,
                "lock_version": 3,
                "next_wakeup": now,
                "created_at": now,
                "updated_at": now,
            },
        )
        ids["task"] = _insert(
            connection,
            tables,
            "human_task",
            {
                "instance_id": ids["instance"],
                "task_uuid": "6f1c1c1e-0000-4000-8000-000000000001",
                "bpmn_id": "choose_how",
                "name": "Välj hur anmälan görs",
                "role": "official",
                "party_id": ids["party"],
                "form_id": "choose_how",
                "status": "completed",
                "created_at": now,
                "completed_at": now,
                "completed_by_id": ids["user"],
                "submitted_data": {"filing_mode": "self"},
            },
        )
        ids["audit"] = _insert(
            connection,
            tables,
            "audit_event",
            {
                "at": now,
                "actor_id": ids["user"],
                "action": "task.completed",
                "instance_id": ids["instance"],
                "human_task_id": ids["task"],
                "details": {"task": "choose_how", "fields": ["filing_mode"]},
            },
        )
    return ids


def _check_rows(database: Database, ids: dict[str, Any]) -> None:
    """The rows, read back through this release's models."""
    with Session(database.engine) as session:
        person = session.get(Person, ids["person"])
        assert person is not None and person.full_name == "Märta Migrering"
        assert person.party_id == ids["party"]
        user = session.get(User, ids["user"])
        assert user is not None and user.username == "marta" and user.person_id == ids["person"]
        assert {role.value for role in user.roles} == {"official"}
        definition = session.get(ProcessDefinition, ids["definition"])
        assert definition is not None
        assert (definition.process_id, definition.version) == ("police_report", 1)
        assert (
            definition.bpmn_xml.startswith("<?xml") and definition.meta["title"] == "Polisanmälan"
        )
        instance = session.get(ProcessInstance, ids["instance"])
        assert instance is not None
        assert (instance.state, instance.status, instance.lock_version) == (STATE, "running", 3)
        assert instance.next_wakeup == datetime(2026, 11, 27, 21, 30, tzinfo=UTC)
        task = session.get(HumanTask, ids["task"])
        assert task is not None and task.submitted_data == {"filing_mode": "self"}
        assert (task.bpmn_id, task.status, task.completed_by_id) == (
            "choose_how",
            "completed",
            ids["user"],
        )
        event = session.get(AuditEvent, ids["audit"])
        assert event is not None and event.action == "task.completed"
        assert event.details == {"task": "choose_how", "fields": ["filing_mode"]}
        assert session.scalar(select(AuditEvent.instance_id).where(AuditEvent.id == ids["audit"]))


def _schema_differences(database: Database) -> list[str]:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return [str(diff) for diff in compare_metadata(context, Base.metadata)]


def test_the_migrations_form_one_line_from_base_to_head() -> None:
    assert len(SCRIPT.get_heads()) == 1, f"several heads: {SCRIPT.get_heads()}"
    assert REVISIONS[0] == "0001" and REVISIONS[-1] == HEAD
    files = [p.name.split("_")[0] for p in Path(SCRIPT.versions).glob("[0-9]*.py")]
    assert sorted(files) == sorted(REVISIONS), "every file in versions/ is on the line"


@pytest.mark.parametrize("revision", REVISIONS)
def test_an_instance_at_every_revision_upgrades_to_head_with_its_rows(
    scratch: Database, revision: str
) -> None:
    upgrade(scratch, revision)
    ids = _write_rows(scratch)
    upgrade(scratch)
    _check_rows(scratch, ids)
    with scratch.engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_heads() == (HEAD,)


def test_the_migrated_schema_is_what_the_models_describe(scratch: Database) -> None:
    upgrade(scratch)
    assert _schema_differences(scratch) == [], "a model changed without its migration"


def _implements_downgrade(revision: str) -> bool:
    script = SCRIPT.get_revision(revision)
    assert script is not None
    module = script.module
    function = getattr(module, "downgrade", None)
    if function is None:
        return False
    body = ast.parse(textwrap.dedent(pyinspect.getsource(function))).body[0].body  # type: ignore[attr-defined]
    meaningful = [
        node
        for node in body
        if not isinstance(node, ast.Pass)
        and not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
        and not isinstance(node, ast.Raise)
    ]
    return bool(meaningful)


def test_the_last_migration_downgrades_and_upgrades_again(scratch: Database) -> None:
    if not _implements_downgrade(HEAD):
        pytest.skip(f"migration {HEAD} has no downgrade")
    script = SCRIPT.get_revision(HEAD)
    assert script is not None
    previous = script.down_revision
    upgrade(scratch)
    ids = _write_rows(scratch)
    downgrade(scratch, str(previous))
    with scratch.engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_heads() == (previous,)
    upgrade(scratch)
    _check_rows(scratch, ids)
    assert _schema_differences(scratch) == []
