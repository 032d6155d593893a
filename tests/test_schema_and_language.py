"""Migrations, the append-only audit trail, and a complete Swedish catalog."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from service.context import Services
from service.i18n import TRANSLATIONS_DIR
from service.migrate import is_current
from tests.test_incident_routine import report_incident
from tests.web_client import Browser


def test_database_is_at_the_latest_migration(services: Services) -> None:
    assert is_current(services.db)


def test_audit_rows_cannot_be_changed_or_deleted(
    services: Services, browser: Callable[[str | None], Browser]
) -> None:
    report_incident(browser("anna"))
    for statement in ("UPDATE audit_event SET action = 'x'", "DELETE FROM audit_event"):
        with pytest.raises(DatabaseError), services.db.engine.begin() as conn:
            conn.execute(text(statement))
    with services.db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_event")).scalar_one() > 0


def test_every_interface_string_has_swedish_text() -> None:
    with (TRANSLATIONS_DIR / "sv" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle)
    missing = [m.id for m in catalog if m.id and not m.string]
    assert missing == []
    with (TRANSLATIONS_DIR / "messages.pot").open("rb") as handle:
        template = read_po(handle)
    assert {m.id for m in template if m.id} <= {m.id for m in catalog if m.id}, "run make messages"


def test_interface_is_swedish_by_default_and_english_on_request(
    browser: Callable[[str | None], Browser],
) -> None:
    anna = browser("anna")
    assert "Rapportera händelse" in anna.text("/")
    token = anna.csrf_token("/")
    anna.client.post("/language", data={"lang": "en", "next": "/", "csrf_token": token})
    assert "Report an incident" in anna.text("/")
