"""Secrecy marks in the forms, and the release (utlämnande) of a case with them masked."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from service.audit.models import AuditEvent
from service.config import PROJECT_ROOT
from service.context import Services
from service.formdefs.definition import FormDefinitionError, load_form
from service.secrecy.grounds import GROUNDS
from service.secrecy.models import ReleaseDecision
from tests.test_incident_routine import report_incident
from tests.web_client import Browser

Make = Callable[[str | None], Browser]
HOME = "Trappuppgången hemma, Storgatan 14 B, Bromma"
PERPETRATOR = "En granne, Kalle Karlsson, som bor i huset bredvid."
WORDS = "Vi vet var du bor."


def _form(name: str) -> dict[str, object]:
    raw = json.loads((PROJECT_ROOT / "forms" / f"{name}.json").read_text(encoding="utf-8"))
    assert isinstance(raw, dict)
    return raw


def test_every_shipped_form_loads_with_its_secrecy_marks() -> None:
    marks = {}
    for path in sorted((PROJECT_ROOT / "forms").glob("*.json")):
        form = load_form(json.loads(path.read_text(encoding="utf-8")), expected_id=path.stem)
        marks.update({(form.id, f.name): f.secret for f in form.fields if f.secret})
    # The fields the brief names: security measures, home addresses, crisis notes, threat analyses.
    assert marks[("home_inspection_report", "findings")] == "OSL 18 kap. 8 §"
    assert marks[("protective_measure_alarm_setup", "alarm_id")] == "OSL 18 kap. 8 §"
    assert marks[("incident_threat_analysis", "threat_assessment")] == "OSL 18 kap. 8 §"
    assert marks[("incident_report", "location")] == "OSL 21 kap. 3 §"
    assert marks[("incident_crisis_support", "crisis_support_notes")] == "OSL 21 kap. 1 §"
    assert marks[("police_report_details", "witnesses")] == "OSL 21 kap. 7 §"
    assert marks[("conversation_record", "confidential_notes")] == "OSL 39 kap. 3 §"
    assert set(marks.values()) <= set(GROUNDS)
    # Unmarked where nothing secret is asked.
    assert ("incident_report", "kind") not in marks


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("secret", "OSL 99 kap. 1 §", "not a known secrecy provision"),
        ("secret", ["OSL 18 kap. 8 §"], "not a known secrecy provision"),
        ("secrecy", "OSL 18 kap. 8 §", "unknown ui keys ['secrecy']"),
        ("sekretess", "OSL 18 kap. 8 §", "unknown ui keys ['sekretess']"),
    ],
)
def test_an_unknown_mark_or_mark_key_is_refused(key: str, value: object, message: str) -> None:
    raw = copy.deepcopy(_form("incident_crisis_support"))
    fields = raw["ui"]["fields"]  # type: ignore[index]
    entry = fields["crisis_support_notes"]
    entry.pop("secret", None)
    entry[key] = value
    with pytest.raises(FormDefinitionError, match=re.escape(message)) as refused:
        load_form(raw)
    assert "crisis_support_notes" in str(refused.value), "the message says where"


def _case_with_secrets(browser: Make) -> int:
    return report_incident(
        browser("anna"),
        location=HOME,
        perpetrator_known="known",
        perpetrator_description=PERPETRATOR,
        exact_words=WORDS,
    )


def test_release_masks_the_marked_answers_and_records_the_decision(
    browser: Make, services: Services, session: Session
) -> None:
    case_id = _case_with_secrets(browser)
    officer = browser("sakerhet")
    form_page = officer.text(f"/cases/{case_id}/release")
    assert "Sekretessmarkerad: OSL 21 kap. 3 §" in form_page
    assert "Sekretessmarkerad: OSL 21 kap. 7 §" in form_page
    start_task = re.search(r'name="mask-(\d+)-location"', form_page)
    assert start_task, "every answer has its own decision"
    task_id = start_task.group(1)

    # Defaults for the marked answers; the officer also masks the description.
    response = officer.submit(
        f"/cases/{case_id}/release",
        {"requester": "Journalist, per telefon", f"mask-{task_id}-description": "OSL 18 kap. 8 §"},
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:1000]
    printout = officer.text(response.location)
    assert HOME not in printout and PERPETRATOR not in printout
    assert "[Sekretess enligt OSL 21 kap. 3 §]" in printout
    assert "[Sekretess enligt OSL 21 kap. 7 §]" in printout
    assert "[Sekretess enligt OSL 18 kap. 8 §]" in printout, "masked by the officer's choice"
    assert WORDS in printout, "what is not secret is released as written"
    assert "Maskerade svar och deras rättsliga grund" in printout
    assert "en enskilds bostadsadress" in printout, (
        "each masked answer with what its ground protects"
    )

    session.expire_all()
    decision = session.scalars(
        select(ReleaseDecision).where(ReleaseDecision.instance_id == case_id)
    ).one()
    masked = {(m["field"], m["ground"], m["marked"]) for m in decision.masked}
    assert masked == {
        ("location", "OSL 21 kap. 3 §", True),
        ("perpetrator_description", "OSL 21 kap. 7 §", True),
        ("description", "OSL 18 kap. 8 §", False),
    }
    assert {r["field"] for r in decision.released} >= {"exact_words", "kind", "occurred_on"}
    assert decision.requester == "Journalist, per telefon"
    assert decision.decided_by.username == "sakerhet"
    with services.db.engine.connect() as conn:
        stored = conn.execute(
            text("SELECT requester FROM release_decision WHERE id = :id"), {"id": decision.id}
        ).scalar_one()
    assert "Journalist" not in stored, "the requester is encrypted at rest like other case text"

    actions = {
        event.action: event
        for event in session.scalars(select(AuditEvent).where(AuditEvent.instance_id == case_id))
    }
    released = actions["case.released"]
    assert released.details["decision"] == decision.id
    assert f"{task_id}:location:OSL 21 kap. 3 §" in released.details["masked"]
    assert "Journalist" not in json.dumps(released.details), "no requester in the audit trail"
    assert "case.release_printed" in actions
    # The case page lists the decision for the security department.
    assert f"/cases/{case_id}/releases/{decision.id}" in officer.text(f"/cases/{case_id}")


def test_a_marked_answer_released_after_the_harm_test_is_recorded_as_such(
    browser: Make, session: Session
) -> None:
    case_id = _case_with_secrets(browser)
    lead = browser("sakerhetschef")
    page = lead.text(f"/cases/{case_id}/release")
    task_id = re.search(r'name="mask-(\d+)-location"', page).group(1)  # type: ignore[union-attr]
    response = lead.submit(f"/cases/{case_id}/release", {f"mask-{task_id}-location": "release"})
    assert response.status_code == 302
    assert HOME in lead.text(response.location)
    event = session.scalars(
        select(AuditEvent).where(
            AuditEvent.instance_id == case_id, AuditEvent.action == "case.released"
        )
    ).one()
    assert event.details["released_despite_mark"] == [f"{task_id}:location"]


def test_a_choice_that_is_no_provision_is_refused_and_nothing_is_recorded(
    browser: Make, session: Session
) -> None:
    case_id = _case_with_secrets(browser)
    officer = browser("sakerhet")
    page = officer.text(f"/cases/{case_id}/release")
    task_id = re.search(r'name="mask-(\d+)-location"', page).group(1)  # type: ignore[union-attr]
    response = officer.submit(
        f"/cases/{case_id}/release", {f"mask-{task_id}-location": "OSL 1 kap. 1 §"}
    )
    assert response.status_code == 400
    assert "Välj för varje svar" in response.get_data(as_text=True)
    assert session.scalar(select(ReleaseDecision.id)) is None


def test_only_the_security_department_may_release(browser: Make) -> None:
    case_id = _case_with_secrets(browser)
    for username in ("anna", "kansli.fp", "tib", "admin"):
        client = browser(username)
        assert client.get(f"/cases/{case_id}/release").status_code == 403, username
    assert "Lämna ut ärendet (maskerat)" not in browser("anna").text(f"/cases/{case_id}")
