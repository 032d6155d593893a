"""Case data encrypted at rest (ASVS V6.1/V6.2), old plaintext rows, and key rotation while serving."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from alembic import command
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from service.api.tokens import create_client
from service.cases.models import ProcessInstance
from service.cases.service import complete_task
from service.context import Services
from service.crypto import keys as field_keys
from service.crypto.keys import FieldCipher, FieldKeyError, cipher, configure, generate_key, key_id
from service.crypto.rotation import TARGETS, key_usage, rotate
from service.migrate import alembic_config
from service.people.models import User
from service.tasks.models import HumanTask
from tests import incident_data as answers
from tests.test_alarm_api import event, post
from tests.test_incident_routine import complete, report_incident
from tests.web_client import Browser

Make = Callable[[str | None], Browser]
HOME = "Storgatan 14 B, 168 50 Bromma"
CRISIS_NOTE = "Vill prata med någon utanför partiet; ring efter klockan 18."
ALARM_PLACE = "Hemmet, Tallvägen 3, Enskede"


@pytest.fixture
def keys_restored() -> Iterator[None]:
    """Tests that change the process's keys put the test key back afterwards."""
    previous = cipher()
    try:
        yield
    finally:
        configure(previous)


def raw_values(services: Services) -> list[str]:
    """Every stored value of every encrypted column, as the database (and a backup) holds it."""
    found = []
    with services.db.engine.connect() as conn:
        tables = inspect(conn).get_table_names()
        for target in TARGETS:
            if target.table not in tables:
                continue  # downgraded below 0010
            cast = "CAST(%s AS TEXT)" % target.column  # noqa: UP031 - a fixed column name
            rows = conn.execute(
                text(f"SELECT {cast} FROM {target.table} WHERE {target.column} IS NOT NULL")
            ).scalars()
            found += [str(r) for r in rows if r != "null"]
    return found


def sensitive_case(browser: Make, app: Flask, session: Session) -> int:
    """A report from home with a crisis note, and an alarm from another home."""
    case_id = report_incident(browser("anna"), location=HOME, harm_occurred="yes")
    security = browser("sakerhet")
    complete(security, "Bedöm händelsen", answers.ASSESSMENT, case_id)
    note = {**answers.CRISIS_SUPPORT, "crisis_support_notes": CRISIS_NOTE}
    complete(security, "Ordna krisstöd", note, case_id)
    created = create_client(session, "Larmcentralen")
    session.commit()
    assert post(app, created.token, event(location=ALARM_PLACE)).status_code == 201
    return case_id


def test_addresses_alarm_details_and_crisis_notes_are_not_plaintext_in_the_database(
    browser: Make, app: Flask, services: Services, session: Session
) -> None:
    case_id = sensitive_case(browser, app, session)
    stored = raw_values(services)
    assert len(stored) >= 6
    current = f"f1:{cipher().current_id}:"
    for value in stored:
        assert value.lstrip('"').startswith(current), value[:40]
    everything = "\n".join(stored)
    for secret in (HOME, "Storgatan", CRISIS_NOTE, "klockan 18", ALARM_PLACE, "Tallvägen"):
        assert secret not in everything
    # The application reads them as before.
    assert HOME in browser("sakerhet").text(f"/cases/{case_id}")
    instance = session.get(ProcessInstance, case_id)
    assert instance is not None
    assert services.load_case(instance).data()["location"] == HOME
    notes = session.scalars(
        select(HumanTask.submitted_data).where(HumanTask.bpmn_id == "crisis_support")
    ).all()
    assert notes and notes[0] is not None and notes[0]["crisis_support_notes"] == CRISIS_NOTE


def test_rows_written_before_encryption_are_read_and_then_encrypted(
    browser: Make, services: Services, session: Session
) -> None:
    case_id = report_incident(browser("anna"), location=HOME)
    instance = session.get(ProcessInstance, case_id)
    assert instance is not None
    plain_state = instance.state
    task = session.scalar(select(HumanTask).where(HumanTask.instance_id == case_id).limit(1))
    assert task is not None
    # As an installation from before migration 0010 has them.
    with services.db.engine.begin() as conn:
        conn.execute(
            text("UPDATE process_instance SET state = :s WHERE id = :i"),
            {"s": plain_state, "i": case_id},
        )
        conn.execute(
            text("UPDATE human_task SET submitted_data = :d WHERE id = :i"),
            {"d": '{"location": "%s"}' % HOME, "i": task.id},  # noqa: UP031
        )
    assert any(HOME in value for value in raw_values(services))
    session.expire_all()
    assert services.load_case(session.get(ProcessInstance, case_id)).data()["location"] == HOME  # type: ignore[arg-type]
    assert session.get(HumanTask, task.id).submitted_data == {"location": HOME}  # type: ignore[union-attr]
    usage = key_usage(services.db.engine)
    assert usage["process_instance.state"]["plaintext"] == 1
    assert usage["human_task.submitted_data"]["plaintext"] == 1

    report = rotate(services.db.engine, batch_size=1)
    assert report.left == 0 and report.rewritten >= 2
    assert not any(HOME in value for value in raw_values(services))
    session.expire_all()
    assert session.get(HumanTask, task.id).submitted_data == {"location": HOME}  # type: ignore[union-attr]


def _assessments(services: Services, session: Session) -> list[int]:
    return list(
        session.scalars(
            select(HumanTask.id).where(
                HumanTask.bpmn_id == "security_assessment", HumanTask.status == "open"
            )
        )
    )


def test_rotation_while_the_service_completes_tasks_then_the_old_key_goes(
    browser: Make, services: Services, session: Session, keys_restored: None
) -> None:
    anna = browser("anna")
    cases = [report_incident(anna, location=f"{HOME}, ärende {n}") for n in range(8)]
    old_key_id = cipher().current_id
    new_key = generate_key()
    old_keys = field_keys.keys_from_environment()
    # Step 1: every process gets the new key first, the old ones after it.
    configure([new_key, *old_keys])

    worker_errors: list[BaseException] = []
    task_ids = _assessments(services, session)
    sakerhet_id = session.scalar(select(User.id).where(User.username == "sakerhet"))

    def the_service_at_work() -> None:
        try:
            for task_id in task_ids:
                with services.db.sessions() as work:
                    me = work.get(User, sakerhet_id)
                    assert me is not None
                    complete_task(services, work, me, task_id, _form(answers.ASSESSMENT))
                    work.commit()
        except BaseException as exc:  # reported by the test below
            worker_errors.append(exc)

    serving = threading.Thread(target=the_service_at_work)
    serving.start()
    # Step 2: rotate, in small batches, beside it.
    report = rotate(services.db.engine, batch_size=2)
    serving.join(timeout=120)
    assert not serving.is_alive() and worker_errors == []
    report_after = rotate(services.db.engine, batch_size=2)
    assert report.rewritten > 0 and report_after.left == 0

    usage = key_usage(services.db.engine)
    for label, counts in usage.items():
        # <=: a column may have no rows yet (no comments or files in this case).
        assert set(counts) - {"plaintext"} <= {key_id(new_key)}, (label, counts)
        assert counts["plaintext"] == 0
    assert old_key_id not in str(usage)

    # Step 3: the old key is removed; everything still reads.
    configure([new_key])
    session.expire_all()
    for case_id in cases:
        instance = session.get(ProcessInstance, case_id)
        assert instance is not None
        assert services.load_case(instance).data()["location"].startswith(HOME)
    done = session.scalars(
        select(HumanTask.submitted_data).where(HumanTask.bpmn_id == "security_assessment")
    ).all()
    assert sum(1 for d in done if d) == len(task_ids)
    assert "Bedöm händelsen" not in browser("sakerhet").inbox_tasks()


def _form(data: dict[str, Any]) -> Any:
    from werkzeug.datastructures import MultiDict

    pairs = [(k, v) for k, vs in data.items() for v in (vs if isinstance(vs, list) else [vs])]
    return MultiDict(pairs)


def test_a_row_changed_during_rotation_is_left_as_the_service_wrote_it(
    browser: Make,
    services: Services,
    session: Session,
    keys_restored: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case_id = report_incident(browser("anna"), location=HOME)
    configure([generate_key(), *field_keys.keys_from_environment()])
    from service.crypto import rotation

    real = rotation._rewritten
    changed = []

    def service_writes_first(target: Any, plaintext: str, into: Any) -> Any:
        if target.table == "process_instance" and not changed:
            # Between the rotation's read and its write, a request saves the case.
            with services.db.sessions() as other:
                instance = other.get(ProcessInstance, case_id)
                assert instance is not None
                instance.error_message = "changed meanwhile"
                instance.state = instance.state  # rewritten under the current key
                other.commit()
            changed.append(case_id)
        return real(target, plaintext, into)

    monkeypatch.setattr(rotation, "_rewritten", service_writes_first)
    before = session.get(ProcessInstance, case_id)
    assert before is not None
    version = before.lock_version
    report = rotate(services.db.engine, batch_size=10)
    state_report = report.targets[0]
    assert state_report.changed_meanwhile == 1 and report.left == 0
    session.expire_all()
    after = session.get(ProcessInstance, case_id)
    assert after is not None and after.error_message == "changed meanwhile"
    assert after.lock_version == version + 1, "only the service's own save raised the version"


def test_a_missing_or_damaged_key_fails_loudly_and_names_the_key(
    browser: Make, services: Services, session: Session, keys_restored: None
) -> None:
    case_id = report_incident(browser("anna"), location=HOME)
    stored_kid = cipher().current_id
    configure([generate_key()])
    session.expire_all()
    with pytest.raises(FieldKeyError, match=stored_kid):
        session.get(ProcessInstance, case_id)
    session.rollback()
    with pytest.raises(FieldKeyError, match="Fernet key"):
        FieldCipher(["not-a-key"])
    key = generate_key()
    sealed = FieldCipher([key]).encrypt_text(HOME)
    tampered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    with pytest.raises(FieldKeyError, match="integrity"):
        FieldCipher([key]).decrypt_text(tampered)


def test_the_embedded_default_keeps_a_private_key_file(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRYGG_FIELD_KEYS")
    first = field_keys.keys_from_environment(tmp_path)
    assert first == field_keys.keys_from_environment(tmp_path), "kept across restarts"
    assert (tmp_path / "field_keys").stat().st_mode & 0o777 == 0o600
    FieldCipher(first)


def test_the_keys_commands(
    browser: Make, services: Services, keys_restored: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.cli import main

    report_incident(browser("anna"), location=HOME)
    generated = CliRunner().invoke(main, ["keys", "generate"])
    assert generated.exit_code == 0
    new_key = generated.output.strip()
    FieldCipher([new_key])
    monkeypatch.setenv("DATABASE_URL", services.settings.database_url)
    monkeypatch.setenv("TRYGG_FIELD_KEYS", ",".join([new_key, *field_keys.keys_from_environment()]))
    configure(None)  # the commands read the environment, as a new process does
    status = CliRunner().invoke(main, ["keys", "status"])
    assert status.exit_code == 1 and "(aktuell)" not in status.output
    rotated = CliRunner().invoke(main, ["keys", "rotate", "--batch-size", "3"])
    assert rotated.exit_code == 0, rotated.output
    assert f"Klart: allt är krypterat med nyckel {key_id(new_key)}" in rotated.output
    status = CliRunner().invoke(main, ["keys", "status"])
    assert status.exit_code == 0 and "(aktuell)" in status.output


def test_migration_0010_encrypts_an_existing_database_and_its_downgrade_decrypts(
    browser: Make, services: Services
) -> None:
    report_incident(browser("anna"), location=HOME)
    cfg = alembic_config(services.db.url)

    def migrate(step: Callable[..., None], revision: str) -> None:
        with services.db.engine.begin() as connection:
            cfg.attributes["connection"] = connection
            step(cfg, revision)

    migrate(command.downgrade, "0009")
    assert any(HOME in value for value in raw_values(services))
    migrate(command.upgrade, "head")
    assert not any(HOME in value for value in raw_values(services))
    assert browser("anna").get("/").status_code == 200
