"""Retention (gallring): the rules, a disposal run with the clock moved, legal holds, the dry run.

Cases are made over HTTP as people make them, then the service clock is
moved years ahead (the ``clock`` fixture) and the disposal run removes what
its rule says is due: exactly those cases, everything about them and their
files, with a disposal record and the audit trail intact.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

import service.models  # noqa: F401 - every table on the metadata
from service.audit.chain import seal_new_events, verify
from service.audit.models import AuditEvent
from service.casenotes.attachments import add_attachment
from service.casenotes.comments import add_comment
from service.casenotes.models import Attachment, CaseComment
from service.casenotes.storage import AttachmentStore
from service.cases.models import CaseLink, ProcessInstance
from service.cli import main as cli
from service.clock import OffsetClock
from service.config import PROJECT_ROOT, Settings
from service.context import Services
from service.db import Base
from service.jobs.models import Job
from service.notify.models import Notification
from service.people.models import User
from service.retention.disposal import (
    CASE_REFERENCES,
    KeepReason,
    plan_disposal,
    run_disposal,
)
from service.retention.holds import active_hold
from service.retention.jobs import KIND, schedule_daily_disposal
from service.retention.models import DisposalRecord, LegalHold
from service.retention.rules import RetentionRulesError, load_rules, parse_rules
from service.tasks.models import HumanTask
from service.worker import Worker
from tests import incident_data as answers
from tests.test_access_matrix import PNG_BYTES
from tests.test_incident_routine import complete, report_incident
from tests.test_notifications import _fan_out
from tests.web_client import Browser

Make = Callable[[str | None], Browser]
YEAR = timedelta(days=366)  # at least a calendar year, leap or not
RULES = PROJECT_ROOT / "service" / "retention" / "rules.json"


def closed_incident(browser: Make, services: Services) -> int:
    """Cecilia's harassment report, supported, assessed and closed (with its notifications)."""
    case_id = report_incident(browser("cecilia"), kind="harassment", channel="email")
    _fan_out(services)  # the worker's notifications of the new tasks
    complete(browser("kansli.gp"), "Stöd till den drabbade", answers.PARTY_SUPPORT, case_id)
    security = browser("sakerhet")
    complete(security, "Bedöm händelsen", {"severity": "low"}, case_id)
    complete(security, "Följ upp och avsluta", answers.CLOSE, case_id)
    return case_id


def _user(session: Session, username: str) -> User:
    found = session.scalar(select(User).where(User.username == username))
    assert found is not None
    return found


def add_evidence(services: Services, session: Session, case_id: int) -> Attachment:
    """A comment and an evidence file on the case, as the security department adds them."""
    instance = session.get(ProcessInstance, case_id)
    security = _user(session, "sakerhet")
    assert instance is not None
    add_comment(session, security, instance, "Ringde upp, allt lugnt.", "security")
    session.commit()
    return add_attachment(
        session,
        AttachmentStore(services.settings.attachments_dir),
        security,
        instance,
        file_name="hotet.png",
        content=PNG_BYTES,
        visibility="case",
        description="Skärmbild av meddelandet",
    )


def rows_about(session: Session, case_id: int) -> dict[str, int]:
    session.expire_all()
    tasks = select(HumanTask.id).where(HumanTask.instance_id == case_id)
    counts = {
        "case": select(func.count()).where(ProcessInstance.id == case_id),
        "human_task": select(func.count()).where(HumanTask.instance_id == case_id),
        "comment": select(func.count()).where(CaseComment.instance_id == case_id),
        "attachment": select(func.count()).where(Attachment.instance_id == case_id),
        "notification": select(func.count()).where(
            (Notification.instance_id == case_id) | Notification.human_task_id.in_(tasks)
        ),
        "link": select(func.count()).where(
            (CaseLink.from_instance_id == case_id) | (CaseLink.to_instance_id == case_id)
        ),
    }
    return {name: int(session.scalar(stmt) or 0) for name, stmt in counts.items()}


# --- the rules -------------------------------------------------------------------------------


def test_the_shipped_rules_load_and_name_only_real_processes_and_end_events() -> None:
    rules = load_rules(RULES, PROJECT_ROOT / "processes")
    assert rules.cases["incident"].keep.years == 5
    assert rules.cases["police_report"].keep.years == 10
    assert rules.cases["protective_measure"].in_force_end_events == {"measure_in_place"}
    assert "introduction" not in rules.cases, "kept: the compliance record relies on it"
    assert "audit_event" in rules.kept
    assert set(rules.records) == {"notification", "job", "login_attempt"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"cases": {"incidnet": {"keep": {"years": 5}, "basis": "x"}}}, "cases.incidnet"),
        ({"cases": {"incident": {"keep": {"years": 0}, "basis": "x"}}}, "får inte vara noll"),
        ({"cases": {"incident": {"keep": {"yeras": 5}, "basis": "x"}}}, "okända nycklar"),
        ({"cases": {"incident": {"keep": {"years": 5}}}}, "basis"),
        ({"records": {"audit_event": {"keep": {"years": 1}, "basis": "x"}}}, "granskningsloggen"),
        ({"records": {"case_comment": {"keep": {"days": 1}, "basis": "x"}}}, "okänd posttyp"),
        (
            {
                "cases": {
                    "protective_measure": {
                        "keep": {"years": 5},
                        "from": "measure_ended",
                        "in_force_end_events": ["measure_forever"],
                        "basis": "x",
                    }
                }
            },
            "measure_forever",
        ),
    ],
)
def test_a_wrong_rule_is_refused_with_where_it_is(change: dict[str, Any], message: str) -> None:
    raw = json.loads(RULES.read_text(encoding="utf-8"))
    for part, rules in change.items():
        raw[part] = {**raw.get(part, {}), **rules}
        if part == "records":
            raw["records"] = {k: v for k, v in raw["records"].items() if k in rules}
    with pytest.raises(RetentionRulesError, match=re.escape(message)):
        parse_rules(raw, RULES, PROJECT_ROOT / "processes")


def test_every_reference_to_a_case_is_handled_by_disposal() -> None:
    """A new table pointing at a case or its tasks must be added to CASE_REFERENCES."""
    found = {
        (table.name, fk.parent.name)
        for table in Base.metadata.sorted_tables
        for fk in table.foreign_keys
        if fk.column.table.name in ("process_instance", "human_task")
    }
    assert found == set(CASE_REFERENCES)


# --- a disposal run ---------------------------------------------------------------------------


def test_a_run_disposes_of_exactly_the_due_cases_and_keeps_a_disposal_record(
    browser: Make, services: Services, session: Session, clock: OffsetClock
) -> None:
    due = closed_incident(browser, services)
    attachment = add_evidence(services, session, due)
    stored = AttachmentStore(services.settings.attachments_dir).path(attachment.stored_name)
    assert stored.exists()
    _fan_out(services)
    before = rows_about(session, due)
    assert before["notification"] > 0 and before["human_task"] == 4  # the report and three tasks
    events_before = session.scalar(select(func.count()).where(AuditEvent.instance_id == due))

    clock.advance(3 * YEAR)
    younger = closed_incident(browser, services)  # closed three years later: not due yet
    _fan_out(services)
    clock.advance(2 * YEAR)
    running = report_incident(browser("anna"))  # never closed: never due
    _fan_out(services)

    report = run_disposal(services)
    assert report.disposed == [due]
    assert report.files_removed == 1 and not stored.exists()
    assert rows_about(session, due) == {
        "case": 0,
        "human_task": 0,
        "comment": 0,
        "attachment": 0,
        "notification": 0,
        "link": 0,
    }
    assert rows_about(session, younger)["case"] == 1
    assert rows_about(session, running)["case"] == 1
    assert rows_about(session, running)["notification"] > 0, "new notifications stay"

    record = session.scalars(
        select(DisposalRecord).where(DisposalRecord.record_type == "case")
    ).one()
    assert (record.case_id, record.process_id, record.rule) == (due, "incident", "incident")
    assert record.disposed_by == "worker" and record.run_id == report.run_id
    assert record.rule_text.startswith("5 år efter avslut")
    assert record.counts["human_task"] == before["human_task"]
    assert record.counts["notification"] == before["notification"]
    assert record.counts["comment"] == 1 and record.counts["attachment_file"] == 1
    assert record.case_closed_at is not None and record.due_at is not None
    assert record.due_at <= clock.now()
    written = json.dumps(
        {c.name: getattr(record, c.name) for c in DisposalRecord.__table__.columns}, default=str
    )
    for personal in ("Cecilia", "Carlsson", "harassment", "hotet.png", "Ringde upp"):
        assert personal not in written, "the disposal record holds no personal data"

    # The younger case's notifications are more than a year old and unread: their own rule.
    notes = session.scalars(
        select(DisposalRecord).where(DisposalRecord.record_type == "notification")
    ).one()
    assert notes.counts["deleted"] == report.records["notification"] > 0

    # The audit trail keeps the case's events (ids and field names), adds the disposal,
    # and its chain still verifies.
    events = session.scalars(select(AuditEvent).where(AuditEvent.instance_id == due)).all()
    assert len(events) == events_before + 1
    assert events[-1].action == "case.disposed"
    assert events[-1].details["disposal_record"] == record.id
    seal_new_events(services)
    assert verify(session, services.settings.secret_key).ok

    # A second run finds nothing more to do.
    assert run_disposal(services).disposed == []
    assert browser("sakerhet").get(f"/cases/{due}").status_code == 404


def test_a_legal_hold_stops_disposal_of_the_case_and_the_cases_linked_to_it(
    browser: Make, services: Services, session: Session, clock: OffsetClock
) -> None:
    # Anna's incident started a police report case; the police report goes to court.
    incident = report_incident(browser("anna"))
    complete(browser("kansli.fp"), "Stöd till den drabbade", answers.PARTY_SUPPORT, incident)
    security = browser("sakerhet")
    complete(security, "Bedöm händelsen", answers.ASSESSMENT, incident)
    complete(security, "Ordna krisstöd", answers.CRISIS_SUPPORT, incident)
    complete(security, "Följ upp och avsluta", answers.CLOSE, incident)
    police = session.scalar(
        select(CaseLink.to_instance_id).where(CaseLink.from_instance_id == incident)
    )
    assert police is not None
    held_directly = closed_incident(browser, services)

    lead = browser("sakerhetschef")
    assert "Sätt gallringsstopp" in lead.text(f"/cases/{police}")
    for case_id, reason in (
        (police, "Mål B 1234-26 vid Stockholms tingsrätt"),
        (held_directly, "Skadeståndstalan väntas"),
    ):
        response = lead.submit(f"/cases/{case_id}/legal-hold", {"reason": reason})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
    refused = security.client.post(
        f"/cases/{police}/legal-hold",
        data={"reason": "försök", "csrf_token": security.csrf_token(f"/cases/{police}")},
    )
    assert refused.status_code == 403
    too_short = lead.submit(f"/cases/{incident}/legal-hold", {"reason": "x"})
    assert too_short.status_code == 400
    assert "minst 5 tecken" in too_short.get_data(as_text=True)

    # Everyone who sees the case sees the hold; only the security department its reason.
    official_page = browser("anna").text(f"/cases/{police}")
    assert "Gallringsstopp" in official_page and "tingsrätt" not in official_page
    assert "tingsrätt" in security.text(f"/cases/{police}")

    clock.advance(5 * YEAR)
    plan = plan_disposal(services)
    kept = {v.case_id: (v.kept, v.held_by) for v in plan.kept}
    assert kept[incident] == (KeepReason.LINKED_LEGAL_HOLD, police)
    assert kept[held_directly] == (KeepReason.LEGAL_HOLD, held_directly)
    assert run_disposal(services).disposed == []
    assert rows_about(session, incident)["case"] == 1

    # The judgment is final: the hold is lifted, and the next run disposes of the incident.
    lead = browser("sakerhetschef")  # a new sign-in: five years have passed
    response = lead.submit(f"/cases/{police}/legal-hold", {"reason": "Domen har vunnit laga kraft"})
    assert response.status_code == 302
    session.expire_all()
    assert active_hold(session, police) is None
    assert run_disposal(services).disposed == [incident]
    assert rows_about(session, police)["case"] == 1, "the running police report case stays"
    assert rows_about(session, police)["link"] == 0
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.instance_id == police)
    ).all()
    assert "case.legal_hold_set" in actions and "case.legal_hold_lifted" in actions
    lifted = session.scalars(select(LegalHold).where(LegalHold.instance_id == police)).one()
    assert lifted.lift_reason == "Domen har vunnit laga kraft"
    assert lifted.lifted_by is not None and lifted.lifted_by.username == "sakerhetschef"


def _measure(browser: Make, person: int, approve: bool) -> int:
    security, lead = browser("sakerhet"), browser("sakerhetschef")
    response = security.submit(f"/start/protective_measure/{person}", {})
    assert response.status_code == 302
    case_id = int(re.match(r"/cases/(\d+)", response.location).group(1))  # type: ignore[union-attr]
    proposal = {
        "kind": "guarding",
        "justification": "Hot mot bostaden.",
        "cost": "5000",
        "valid_from": "2026-12-01",
    }
    complete(security, "Föreslå skyddsåtgärd", proposal, case_id)
    if not approve:
        decision = {"approved": "no", "decision_reason": "Hotbilden motiverar det inte."}
        complete(lead, "Besluta om skyddsåtgärd", decision, case_id)
        return case_id
    complete(lead, "Besluta om skyddsåtgärd", {"approved": "yes"}, case_id)
    complete(security, "Genomför skyddsåtgärden", {"implemented_on": "2026-12-02"}, case_id)
    complete(
        browser("anna"), "Bekräfta att skyddsåtgärden är på plats", {"in_place": "yes"}, case_id
    )
    return case_id


def test_a_protective_measure_without_an_end_date_is_kept_while_in_force(
    browser: Make,
    services: Services,
    session: Session,
    clock: OffsetClock,
    person_id: Callable[[str], int],
) -> None:
    anna = person_id("Anna Andersson")
    rejected = _measure(browser, anna, approve=False)
    in_force = _measure(browser, anna, approve=True)
    session.expire_all()
    assert {session.get(ProcessInstance, c).status for c in (rejected, in_force)} == {  # type: ignore[union-attr]
        "completed"
    }
    clock.advance(5 * YEAR)
    plan = plan_disposal(services)
    assert [v.case_id for v in plan.due] == [rejected]
    assert [(v.case_id, v.kept) for v in plan.kept] == [(in_force, KeepReason.IN_FORCE)]
    lead = browser("sakerhetschef")
    assert "åtgärden gäller fortfarande" in lead.text(f"/cases/{in_force}")
    assert run_disposal(services).disposed == [rejected]


# --- the dry run and the nightly job -----------------------------------------------------------


def _snapshot(services: Services) -> dict[str, Any]:
    with services.db.engine.connect() as conn:
        tables = inspect(conn).get_table_names()
        counts = {
            name: conn.exec_driver_sql(f'SELECT count(*) FROM "{name}"').scalar_one()
            for name in tables
        }
    root = services.settings.attachments_dir
    files = sorted(os.listdir(root)) if root.exists() else []
    return {"rows": counts, "files": files}


def test_the_dry_run_lists_what_would_go_and_changes_nothing(
    browser: Make,
    services: Services,
    session: Session,
    clock: OffsetClock,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    due = closed_incident(browser, services)
    add_evidence(services, session, due)
    clock.advance(5 * YEAR)
    # A file left behind by an upload that never committed its row.
    stray = Path(services.settings.attachments_dir) / ("ab" * 16)
    stray.write_bytes(b"left over")
    os.utime(stray, (0, 0))
    before = _snapshot(services)

    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("TRYGG_ATTACHMENTS_DIR", str(settings.attachments_dir))
    runner = CliRunner()
    dry = runner.invoke(cli, ["retention", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert re.search(rf"ärende {due}\s+incident\s+avslutat", dry.output)
    assert "Ärenden som gallras (1)" in dry.output
    assert "filer utan ärende    1" in dry.output
    assert "introduction" not in dry.output or "utan gallringsregel" in dry.output
    assert "Provkörning: ingenting har ändrats." in dry.output
    assert _snapshot(services) == before, "a dry run changes nothing"

    real = runner.invoke(cli, ["retention"])
    assert real.exit_code == 0, real.output
    assert "Gallrat: 1 ärenden, 1 filer" in real.output
    assert not stray.exists()
    session.expire_all()
    assert rows_about(session, due)["case"] == 0
    by = session.scalars(select(DisposalRecord.disposed_by)).all()
    assert by and set(by) == {"cli"}


def test_the_worker_queues_one_disposal_run_a_night_and_runs_it(
    browser: Make, services: Services, session: Session, clock: OffsetClock
) -> None:
    due = closed_incident(browser, services)
    clock.advance(5 * YEAR)
    worker = Worker(services, schedule_every=0)
    worker.run_once()
    jobs = session.scalars(select(Job).where(Job.kind == KIND)).all()
    assert len(jobs) == 1
    assert schedule_daily_disposal(services) == 0, "once a day, however often the worker asks"
    wait = jobs[0].run_at - clock.now()
    if wait > timedelta(0):
        clock.advance(wait + timedelta(seconds=1))  # to 02:30 Stockholm time
    worker.run_once()
    session.expire_all()
    assert session.get(Job, jobs[0].id).status == "done"  # type: ignore[union-attr]
    assert rows_about(session, due)["case"] == 0
    record = session.scalars(select(DisposalRecord)).first()
    assert record is not None and record.disposed_by == "worker"

    clock.advance(timedelta(days=1))
    assert schedule_daily_disposal(services) == 1, "the next night's run"
    off = Services(
        settings=_without_disposal(services.settings),
        db=services.db,
        runner=services.runner,
        definitions=services.definitions,
    )
    clock.advance(timedelta(days=1))
    assert schedule_daily_disposal(off) == 0, "TRYGG_RETENTION_DISPOSAL=off"


def _without_disposal(settings: Settings) -> Settings:
    from dataclasses import replace

    return replace(settings, retention_disposal=False)


def test_the_rules_file_can_be_replaced_by_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    custom = tmp_path / "gallring.json"
    raw = json.loads(RULES.read_text(encoding="utf-8"))
    raw["cases"]["incident"]["keep"] = {"years": 10}
    custom.write_text(json.dumps(raw), encoding="utf-8")
    monkeypatch.setenv("TRYGG_RETENTION_RULES", str(custom))
    monkeypatch.setenv("SECRET_KEY", "test-secret-key-not-for-production")
    settings = Settings.from_env()
    assert settings.retention_rules == custom
    assert load_rules(settings.retention_rules).cases["incident"].keep.years == 10
