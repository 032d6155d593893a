"""`trygg backup` and `trygg restore`: a populated instance comes back whole, and checks out.

An instance is filled the way people fill it (incidents reported over HTTP,
tasks completed, evidence files added, every read audited, the audit chain
sealed), backed up with the command, restored with the command into a new
empty database (PostgreSQL: a database made for the test; SQLite: a new file)
and an empty attachments directory, and then every case, task, attachment and
audit event is looked for in the restored instance, which must also keep
working.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from service.app import create_app
from service.audit.chain import seal_new_events, verify
from service.audit.models import AuditEvent, AuditSeal
from service.backup import (
    ATTACHMENTS_TAR,
    MANIFEST,
    BackupError,
    create_backup,
    pg_tool,
    restore_backup,
)
from service.casenotes.attachments import add_attachment
from service.casenotes.models import Attachment
from service.casenotes.storage import AttachmentStore
from service.cases.models import ProcessInstance
from service.cli import main as cli
from service.config import PROJECT_ROOT, Settings
from service.context import Services
from service.crypto.keys import configure, generate_key
from service.people.models import User
from service.tasks.models import HumanTask
from tests import databases
from tests import incident_data as answers
from tests.test_incident_routine import report_incident
from tests.web_client import Browser

Make = Callable[[str | None], Browser]

# A tiny but real PNG (1×1), a PDF header and a text note: what officials attach.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8cfc0f01f0005000201e221bc330000000049454e44ae426082"
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
NOTE = "Skärmdump av hotet, sparad kl. 22.41.\n".encode()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The usual test settings, with the attachments in this test's own directory."""
    return Settings.from_env(
        database_url=database_url,
        secret_key="test-secret-key-not-for-production",
        processes_dir=PROJECT_ROOT / "processes",
        forms_dir=PROJECT_ROOT / "forms",
        session_cookie_secure=False,
        attachments_dir=tmp_path / "attachments",
    )


@pytest.fixture
def empty_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A new, empty database of the same kind as the test's, dropped afterwards."""
    with databases.empty_database(
        database_url, tmp_path / "restored.sqlite3", "trygg_restore"
    ) as url:
        yield url


def _env(settings: Settings, database_url: str, attachments: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "SECRET_KEY": settings.secret_key,
        "TRYGG_ATTACHMENTS_DIR": str(attachments),
    }


def _populate(services: Services, session: Session, browser: Make) -> dict[str, Any]:
    """Cases, tasks, attachments and audit events, made through the pages and the services."""
    anna, bertil, david = browser("anna"), browser("bertil"), browser("david")
    cases = [
        report_incident(anna),
        report_incident(bertil, description="Ett brev med hot kom till kansliet."),
        report_incident(david, danger_ongoing="yes"),
    ]
    _complete(session, browser("kansli.fp"), cases[0], "party_support", answers.PARTY_SUPPORT)
    security = browser("sakerhet")
    for case_id in cases:
        assert security.get(f"/cases/{case_id}").status_code == 200  # audited reads
    store = AttachmentStore(services.settings.attachments_dir)
    uploads = [(cases[0], "anna", "hot.png", PNG), (cases[0], "anna", "brev.pdf", PDF)]
    uploads.append((cases[1], "bertil", "anteckning.txt", NOTE))
    for case_id, username, file_name, content in uploads:
        user = session.scalar(select(User).where(User.username == username))
        instance = session.get(ProcessInstance, case_id)
        assert user is not None and instance is not None
        add_attachment(
            session,
            store,
            user,
            instance,
            file_name=file_name,
            content=content,
            visibility="case",
            description=f"Bevis till ärende {case_id}",
        )
    while seal_new_events(services):
        pass
    return {"cases": cases, "uploads": uploads}


def _complete(
    session: Session, worker: Browser, case_id: int, bpmn_id: str, data: dict[str, Any]
) -> None:
    session.expire_all()
    task_id = session.scalar(
        select(HumanTask.id).where(
            HumanTask.instance_id == case_id,
            HumanTask.bpmn_id == bpmn_id,
            HumanTask.status == "open",
        )
    )
    assert task_id is not None, f"{bpmn_id} is not open in case {case_id}"
    response = worker.submit(f"/tasks/{task_id}", data)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    assert response.location == f"/cases/{case_id}"


def _snapshot(session: Session, attachments_dir: Path) -> dict[str, Any]:
    """Everything the test expects to find again, as plain values."""
    session.expire_all()
    return {
        "cases": [
            (c.id, c.process_id, c.status, c.subject_person_id, c.definition_id, c.state)
            for c in session.scalars(select(ProcessInstance).order_by(ProcessInstance.id))
        ],
        "tasks": [
            (t.id, t.instance_id, t.bpmn_id, t.status, t.role, t.submitted_data, t.completed_by_id)
            for t in session.scalars(select(HumanTask).order_by(HumanTask.id))
        ],
        "audit": [
            (e.id, e.action, e.actor_id, e.instance_id, e.details, e.at)
            for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))
        ],
        "seals": [
            (s.seq, s.event_id, s.seal)
            for s in session.scalars(select(AuditSeal).order_by(AuditSeal.seq))
        ],
        "attachments": [
            (a.id, a.instance_id, a.stored_name, a.original_name, a.sha256, a.media_type)
            for a in session.scalars(select(Attachment).order_by(Attachment.id))
        ],
        "files": {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(attachments_dir.iterdir())
            if p.is_file()
        },
    }


def test_a_backup_restores_every_case_task_attachment_and_audit_event(
    services: Services,
    session: Session,
    settings: Settings,
    browser: Make,
    database_url: str,
    empty_database: str,
    tmp_path: Path,
) -> None:
    made = _populate(services, session, browser)
    before = _snapshot(session, settings.attachments_dir)
    assert len(before["cases"]) >= 3 and len(before["attachments"]) == 3
    assert len(before["seals"]) == len(before["audit"]) > 0

    runner = CliRunner()
    backup_dir = tmp_path / "backup"
    result = runner.invoke(
        cli,
        ["backup", "--output", str(backup_dir)],
        env=_env(settings, database_url, settings.attachments_dir),
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((backup_dir / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["tables"]["process_instance"] == len(before["cases"])
    assert manifest["tables"]["audit_event"] == len(before["audit"])
    assert {e["sha256"] for e in manifest["attachments"].values()} == {
        hashlib.sha256(content).hexdigest() for *_, content in made["uploads"]
    }
    assert manifest["database"]["alembic_revision"]
    assert (backup_dir.stat().st_mode & 0o777) == 0o700, "the backup is for its owner only"

    restored_files = tmp_path / "restored-attachments"
    result = runner.invoke(
        cli,
        ["restore", "--input", str(backup_dir)],
        env=_env(settings, empty_database, restored_files),
    )
    assert result.exit_code == 0, result.output
    assert "allt stämmer" in result.output

    restored = Services.create(
        Settings.from_env(
            database_url=empty_database,
            secret_key=settings.secret_key,
            processes_dir=settings.processes_dir,
            forms_dir=settings.forms_dir,
            session_cookie_secure=False,
            attachments_dir=restored_files,
        )
    )
    try:
        with restored.db.sessions() as again:
            after = _snapshot(again, restored_files)
            assert after == before
            chain = verify(again, settings.secret_key)
            assert chain.ok, chain.problems
            assert chain.checked == len(before["seals"])
            print(  # the figures the lead asked for (pytest -s shows them)
                f"\nrestored on {restored.db.engine.dialect.name}: "
                f"{len(after['cases'])} cases, {len(after['tasks'])} tasks, "
                f"{len(after['attachments'])} attachments ({len(after['files'])} files), "
                f"{len(after['audit'])} audit events, chain verified over {chain.checked} seals"
            )
            # The restored files are the ones the rows name, as the service reads them.
            store = AttachmentStore(restored_files)
            first = again.get(Attachment, before["attachments"][0][0])
            assert first is not None
            assert store.read_verified(first.stored_name, first.sha256) == PNG
        # The restored instance works: the security department opens the case and
        # does its assessment, which loads, runs and saves the restored workflow.
        app = create_app(restored.settings, restored)
        app.config["TESTING"] = True
        security = Browser(app)
        security.login("sakerhet")
        page = security.get(f"/cases/{made['cases'][0]}")
        assert page.status_code == 200 and "Utanför bostaden" in page.get_data(as_text=True)
        with restored.db.sessions() as again:
            _complete(again, security, made["cases"][0], "security_assessment", answers.ASSESSMENT)
    finally:
        restored.db.engine.dispose()


def test_restore_refuses_a_database_that_is_not_empty_unless_forced(
    services: Services,
    session: Session,
    settings: Settings,
    browser: Make,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Restoring in place: refused, then with --force what was there is moved aside."""
    case_id = report_incident(browser("anna"))
    anna = session.scalar(select(User).where(User.username == "anna"))
    instance = session.get(ProcessInstance, case_id)
    assert anna is not None and instance is not None
    store = AttachmentStore(settings.attachments_dir)
    kept = add_attachment(
        session,
        store,
        anna,
        instance,
        file_name="hot.png",
        content=PNG,
        visibility="case",
        description=None,
    ).stored_name
    create_backup(settings, tmp_path / "backup")
    report_incident(browser("bertil"))  # made after the backup
    stray = "0" * 32
    (settings.attachments_dir / stray).write_bytes(PDF)
    session.expire_all()
    cases = session.scalar(select(func.count()).select_from(ProcessInstance))

    with pytest.raises(BackupError, match="inte tom"):
        restore_backup(settings, tmp_path / "backup")
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(ProcessInstance)) == cases
    assert sorted(p.name for p in settings.attachments_dir.iterdir()) == sorted([kept, stray])

    # The attachments directory is a container's volume: it cannot itself be renamed.
    real_rename = Path.rename

    def rename(self: Path, target: Any) -> Path:
        if self == settings.attachments_dir:
            raise OSError(16, "Device or resource busy")
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    session.close()
    services.db.engine.dispose()  # the restore replaces what the open connections see
    report = restore_backup(settings, tmp_path / "backup", force=True)
    assert report.ok, report.problems
    assert len(report.moved_aside) == 2, "the database and the files: moved aside, not deleted"
    assert report.tables["process_instance"] == 1
    with services.db.sessions() as fresh:
        assert fresh.scalars(select(ProcessInstance.id)).all() == [case_id]
    # Moved into a hidden directory on the same volume, which outlives the container.
    (aside,) = settings.attachments_dir.glob(".before-restore-*")
    assert sorted(p.name for p in aside.iterdir()) == sorted([kept, stray])
    assert sorted(p.name for p in settings.attachments_dir.iterdir()) == sorted([kept, aside.name])
    again = create_backup(settings, tmp_path / "backup-after")
    assert list(again["attachments"]) == [kept], "what was moved aside is not an attachment"


def test_a_damaged_backup_is_refused_before_anything_is_touched(
    settings: Settings, empty_database: str, tmp_path: Path
) -> None:
    settings.attachments_dir.mkdir(parents=True)
    (settings.attachments_dir / "0123456789abcdef0123456789abcdef").write_bytes(PDF)
    create_backup(settings, tmp_path / "backup")
    archive = tmp_path / "backup" / ATTACHMENTS_TAR
    damaged = bytearray(archive.read_bytes())
    damaged[600] ^= 0xFF  # inside the file's content
    archive.write_bytes(bytes(damaged))
    target = Settings.from_env(
        database_url=empty_database,
        secret_key=settings.secret_key,
        processes_dir=settings.processes_dir,
        forms_dir=settings.forms_dir,
        session_cookie_secure=False,
        attachments_dir=tmp_path / "restored",
    )
    with pytest.raises(BackupError, match="SHA-256"):
        restore_backup(target, tmp_path / "backup")
    assert not (tmp_path / "restored").exists()
    restored = Services.create(target)
    try:
        with restored.db.engine.connect() as conn:
            assert inspect(conn).get_table_names() == []
    finally:
        restored.db.engine.dispose()

    (tmp_path / "unfinished").mkdir()
    with pytest.raises(BackupError, match="ingen färdig säkerhetskopia"):
        restore_backup(target, tmp_path / "unfinished")


def test_restore_reports_differing_counts_and_keys_of_another_installation(
    services: Services,
    settings: Settings,
    browser: Make,
    empty_database: str,
    tmp_path: Path,
) -> None:
    report_incident(browser("anna"))
    while seal_new_events(services):
        pass
    manifest = create_backup(settings, tmp_path / "backup")
    # Someone edits the manifest (the files themselves still match their hashes).
    manifest["tables"]["human_task"] += 1
    (tmp_path / "backup" / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    target = Settings.from_env(
        database_url=empty_database,
        secret_key="another-key",
        processes_dir=settings.processes_dir,
        forms_dir=settings.forms_dir,
        session_cookie_secure=False,
        attachments_dir=tmp_path / "restored",
    )
    previous = configure([generate_key()])  # the field keys of another installation
    try:
        report = restore_backup(target, tmp_path / "backup")
    finally:
        configure(previous)
    assert not report.ok
    assert any(p.startswith("tabellen human_task har ") for p in report.problems), report.problems
    assert any("TRYGG_AUDIT_KEY" in p for p in report.problems), report.problems
    assert any("TRYGG_FIELD_KEYS saknar" in p for p in report.problems), report.problems


def test_pg_dump_of_another_major_version_is_refused_with_what_to_install() -> None:
    with pytest.raises(BackupError, match="postgresql-client-99"):
        pg_tool("pg_dump", 99)
