"""Personal-data rights: the subject access extract (GDPR art. 15) and erasure (art. 17)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.audit.models import AuditEvent
from service.auth.models import LoginAttempt
from service.cases.models import ProcessInstance
from service.context import Services
from service.notify.models import Notification
from service.notify.service import notify_request
from service.people.models import Person, User, UserRole
from tests import incident_data as answers
from tests.test_incident_routine import complete, report_incident
from tests.test_notifications import _fan_out
from tests.web_client import Browser

Make = Callable[[str | None], Browser]
PERPETRATOR = "En granne, Kalle Karlsson, som bor i huset bredvid."


def _anna_with_a_case(browser: Make, services: Services) -> int:
    case_id = report_incident(
        browser("anna"), perpetrator_known="known", perpetrator_description=PERPETRATOR
    )
    _fan_out(services)
    complete(browser("kansli.fp"), "Stöd till den drabbade", answers.PARTY_SUPPORT, case_id)
    with services.db.sessions() as session:
        # A reminder to the official from the process (its notify/send to the subject).
        instance = session.get(ProcessInstance, case_id)
        assert instance is not None
        assert notify_request(session, instance, "subject", "police_report_not_filed")
        session.commit()
    return case_id


def _audit(session: Session, action: str) -> list[AuditEvent]:
    session.expire_all()
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )


def _fields(case: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["field"]: f for task in case["answers"] for f in task["fields"]}


def test_the_extract_holds_everything_about_the_person_and_marks_what_needs_review(
    browser: Make, services: Services, session: Session, person_id: Callable[[str], int]
) -> None:
    case_id = _anna_with_a_case(browser, services)
    anna = person_id("Anna Andersson")
    lead = browser("sakerhetschef")
    response = lead.get(f"/privacy/people/{anna}/export.json")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    document = json.loads(response.get_data(as_text=True))

    assert document["person"]["full_name"] == "Anna Andersson"
    assert document["account"]["username"] == "anna"
    assert "password" not in json.dumps(document["account"]), "no secrets or hashes"
    cases = {c["id"]: c for c in document["cases"]}
    assert case_id in cases and cases[case_id]["relations"] == ["subject", "reporter"]
    fields = _fields(cases[case_id])
    # Her own answers, as stored; others' data and free text marked for review, with the ground.
    assert fields["kind"]["value"] == "threat" and fields["kind"]["review"] is None
    assert fields["perpetrator_description"]["value"] == PERPETRATOR
    assert fields["perpetrator_description"]["review"]["ground"] == "OSL 21 kap. 7 §"
    assert fields["location"]["review"]["reason"] == "free_text", (
        "her own address: secrecy protecting her does not apply against her (OSL 12 kap. 1 §)"
    )
    assert fields["support_notes"]["review"]["reason"] == "free_text"
    assert document["marked_for_review"] > 0
    assert document["notifications"], "her notifications of her own tasks"
    assert any(e["action"] == "login.succeeded" for e in document["audit"]["about_the_account"])
    staff = [e for e in document["audit"]["in_cases_about_the_person"] if e["by"]]
    assert staff and all(e["review"]["reason"] == "staff" for e in staff)

    events = _audit(session, "privacy.subject_access")
    assert len(events) == 1
    assert events[0].details["person"] == anna and events[0].details["format"] == "json"
    assert case_id in events[0].details["cases"]
    assert "Anna" not in json.dumps(events[0].details), "ids in the audit trail, not names"

    page = lead.text(f"/privacy/people/{anna}/export")
    assert "Registerutdrag" in page and PERPETRATOR in page and "Granska (OSL 21 kap. 7 §)" in page
    assert [e.details["format"] for e in _audit(session, "privacy.subject_access")] == [
        "json",
        "html",
    ]


def test_the_extract_of_someone_who_worked_on_a_case_holds_only_what_they_wrote(
    browser: Make, services: Services, session: Session, user_by_name: Callable[[str], User]
) -> None:
    case_id = _anna_with_a_case(browser, services)
    office = user_by_name("kansli.fp")
    document = browser("sakerhetschef").get(f"/privacy/accounts/{office.id}/export.json").get_json()
    assert document["person"] is None
    (case,) = [c for c in document["cases"] if c["id"] == case_id]
    assert case["relations"] == ["handler"]
    fields = _fields(case)
    assert set(fields) == set(answers.PARTY_SUPPORT), "only the party office's own answers"
    assert all(f["review"]["reason"] == "other_person" for f in fields.values())


def test_only_the_security_lead_takes_out_an_extract(
    browser: Make, session: Session, person_id: Callable[[str], int]
) -> None:
    anna = person_id("Anna Andersson")
    for username in ("anna", "sakerhet", "kansli.fp", "admin"):
        client = browser(username)
        for url in (
            f"/privacy/people/{anna}/export.json",
            f"/privacy/people/{anna}/export",
            f"/privacy/people/{anna}/erase",
            "/privacy",
        ):
            assert client.get(url).status_code == 403, (username, url)
    assert _audit(session, "privacy.subject_access") == []
    assert browser("sakerhetschef").get("/privacy/people/999999/export.json").status_code == 404


def test_a_person_no_case_refers_to_is_erased(
    browser: Make, session: Session, person_id: Callable[[str], int]
) -> None:
    eva = person_id("Eva Ek")  # a leisure politician without an account or any case
    lead = browser("sakerhetschef")
    plan = lead.text(f"/privacy/people/{eva}/erase")
    assert "Inget ärende hänvisar till personen" in plan
    refused = lead.submit(f"/privacy/people/{eva}/erase", {})
    assert refused.status_code == 400, "the request must be confirmed as tried"
    session.expire_all()
    assert session.get(Person, eva) is not None
    done = lead.submit(f"/privacy/people/{eva}/erase", {"confirm": "yes"})
    assert done.status_code == 200
    assert "Begäran är prövad" in done.get_data(as_text=True)
    session.expire_all()
    assert session.get(Person, eva) is None
    (event,) = _audit(session, "privacy.erased")
    assert event.details == {"person": eva, "erased": {"person": 1}, "refused": []}


def test_an_official_with_cases_is_refused_with_the_legal_ground_and_only_notifications_go(
    browser: Make,
    services: Services,
    session: Session,
    person_id: Callable[[str], int],
    user_by_name: Callable[[str], User],
) -> None:
    case_id = _anna_with_a_case(browser, services)
    anna, account = person_id("Anna Andersson"), user_by_name("anna")
    assert session.scalar(select(func.count()).where(Notification.user_id == account.id))
    lead = browser("sakerhetschef")
    plan = lead.text(f"/privacy/people/{anna}/erase")
    assert "arkivlagen 1990:782" in plan and "art. 17.3 b och d" in plan
    assert "Kontot är aktivt" in plan
    done = lead.submit(f"/privacy/people/{anna}/erase", {"confirm": "yes"})
    assert done.status_code == 200
    session.expire_all()
    assert session.get(Person, anna) is not None, "the person of a case is kept"
    assert session.get(User, account.id).username == "anna"  # type: ignore[union-attr]
    assert browser("anna").get(f"/cases/{case_id}").status_code == 200
    assert not session.scalar(select(func.count()).where(Notification.user_id == account.id))
    (event,) = _audit(session, "privacy.erased")
    assert event.details["erased"]["notifications"] > 0
    assert set(event.details["refused"]) == {"account", "person", "cases", "audit_events"}


def test_an_inactive_account_that_took_part_in_no_case_is_anonymised(
    browser: Make, session: Session, user_by_name: Callable[[str], User]
) -> None:
    browser("bertil")  # signs in once: a login attempt and audit events by the account
    bertil = user_by_name("bertil")
    bertil.active = False
    session.commit()
    person = bertil.person_id
    lead = browser("sakerhetschef")
    done = lead.submit(f"/privacy/accounts/{bertil.id}/erase", {"confirm": "yes"})
    assert done.status_code == 200, done.get_data(as_text=True)[:1000]
    session.expire_all()
    erased = session.get(User, bertil.id)
    assert erased is not None, "the audit trail refers to the account by id"
    assert erased.username == f"raderad-{bertil.id}" and erased.display_name == "Raderat konto"
    assert (erased.email, erased.password_hash, erased.person_id, erased.active) == (
        None,
        None,
        None,
        False,
    )
    assert not session.scalar(select(func.count()).where(UserRole.user_id == bertil.id))
    assert session.get(Person, person) is None if person else True
    assert not session.scalar(select(func.count()).where(LoginAttempt.username == "bertil"))
    (event,) = _audit(session, "privacy.erased")
    assert event.details["erased"]["account"] == 1 and event.details["refused"] == ["audit_events"]
    # The trail of what the account did is untouched.
    assert session.scalar(select(func.count()).where(AuditEvent.actor_id == bertil.id))
