"""The audit trail's HMAC chain: sealed by the worker, and `trygg audit verify` finds tampering."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from service.audit.chain import seal_new_events, verify
from service.audit.models import AuditEvent, AuditSeal
from service.cli import main as cli
from service.config import Settings
from service.context import Services
from tests.test_incident_routine import report_incident
from tests.web_client import Browser


@contextmanager
def attacker(services: Services) -> Iterator[object]:
    """Someone with the database's own rights: the append-only triggers switched off."""
    with services.db.engine.begin() as conn:
        if services.db.is_postgres:
            conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only"))
            yield conn
            conn.execute(text("ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only"))
        else:
            conn.execute(text("DROP TRIGGER audit_event_no_update"))
            conn.execute(text("DROP TRIGGER audit_event_no_delete"))
            yield conn


@pytest.fixture
def sealed(
    services: Services, session: Session, browser: Callable[[str | None], Browser]
) -> list[int]:
    case_id = report_incident(browser("anna"))
    browser("sakerhet").get(f"/cases/{case_id}")  # reads are audited, and sealed, too
    while seal_new_events(services):
        pass
    result = verify(session, services.settings.secret_key)
    assert result.ok and result.checked > 0
    return list(session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))


def _problems(services: Services, session: Session) -> list[str]:
    session.expire_all()
    return verify(session, services.settings.secret_key).problems


def test_every_event_is_sealed_in_order(
    services: Services, session: Session, sealed: list[int]
) -> None:
    seals = session.scalars(select(AuditSeal).order_by(AuditSeal.seq)).all()
    assert [s.event_id for s in seals] == sealed
    assert [s.seq for s in seals] == list(range(1, len(sealed) + 1))
    assert "case.viewed" in session.scalars(select(AuditEvent.action)).all()


def test_an_edited_event_is_found(services: Services, session: Session, sealed: list[int]) -> None:
    with attacker(services) as conn:
        conn.execute(  # type: ignore[attr-defined]
            text("UPDATE audit_event SET actor_id = NULL WHERE id = :id"), {"id": sealed[1]}
        )
    assert _problems(services, session) == [f"event {sealed[1]} (seal 2) was changed"]


def test_a_deleted_event_is_found(services: Services, session: Session, sealed: list[int]) -> None:
    with attacker(services) as conn:
        conn.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": sealed[0]})  # type: ignore[attr-defined]
    assert _problems(services, session) == [f"event {sealed[0]} (seal 1) was deleted"]


def test_an_event_slipped_into_the_past_is_found(
    services: Services, session: Session, sealed: list[int]
) -> None:
    newest = max(sealed)
    insert = text(
        "INSERT INTO audit_event (id, at, actor_id, action, instance_id, human_task_id, details) "
        "VALUES (:id, :at, NULL, 'case.viewed', NULL, NULL, '{}')"
    )
    at = session.scalar(select(func.max(AuditEvent.at)))
    with services.db.engine.begin() as conn:  # a legitimate event, sealed later
        conn.execute(insert, {"id": newest + 5, "at": at})
    seal_new_events(services)
    with services.db.engine.begin() as conn:  # the forgery, behind the sealer
        conn.execute(insert, {"id": newest + 2, "at": at})
    assert _problems(services, session) == [f"event {newest + 2} was inserted outside the chain"]


def test_seals_cannot_be_rewritten(services: Services, sealed: list[int]) -> None:
    from sqlalchemy.exc import DatabaseError

    with pytest.raises(DatabaseError), services.db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_seal SET seal = 'x'"))


def test_cli_verify_reports_and_fails_on_tampering(
    services: Services,
    session: Session,
    sealed: list[int],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SECRET_KEY", settings.secret_key)
    runner = CliRunner()
    ok = runner.invoke(cli, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert f"{len(sealed)} förseglade händelser kontrollerade, 0 fel" in ok.output
    with attacker(services) as conn:
        conn.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": sealed[-1]})  # type: ignore[attr-defined]
    bad = runner.invoke(cli, ["audit", "verify"])
    assert bad.exit_code == 1
    assert "was deleted" in bad.output
