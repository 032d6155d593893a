"""`trygg check`: every case's inbox rows and wake-up time match its saved engine state."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.cases.consistency import check_cases
from service.cases.models import ProcessInstance
from service.cli import main as cli
from service.config import Settings
from service.context import Services
from service.tasks.models import HumanTask
from tests.test_incident_routine import report_incident
from tests.web_client import Browser


def test_a_healthy_database_checks_clean_and_damage_is_found_and_repaired(
    services: Services,
    session: Session,
    browser: Callable[[str | None], Browser],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case_id = report_incident(browser("anna"))
    report_incident(browser("bertil"))
    assert check_cases(services).ok

    # A crash between two writes, simulated: an inbox row lost, a wake-up time wrong.
    row = session.scalars(
        select(HumanTask).where(HumanTask.instance_id == case_id, HumanTask.status == "open")
    ).first()
    assert row is not None
    row.status = "cancelled"
    instance = session.get(ProcessInstance, case_id)
    assert instance is not None
    instance.status = "completed"
    session.commit()

    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SECRET_KEY", settings.secret_key)
    found = CliRunner().invoke(cli, ["check"])
    assert found.exit_code == 1
    assert f"case {case_id}: 1 waiting task(s) missing from the inbox" in found.output
    assert f"case {case_id}: status completed, the state says running" in found.output

    repaired = CliRunner().invoke(cli, ["check", "--repair"])
    assert repaired.exit_code == 0 and "1 lagade" in repaired.output
    assert check_cases(services).ok
