"""The incident routine over HTTP, on every branch, with the right role doing each task."""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.cases.models import CaseLink, ProcessInstance
from service.context import Services
from service.tasks.models import HumanTask
from tests import incident_data as answers
from tests.web_client import Browser

Make = Callable[[str | None], Browser]


def report_incident(official: Browser, **overrides: object) -> int:
    start = official.get("/report")
    assert start.status_code == 302, "an official goes straight to their own report form"
    response = official.submit(start.location, answers.report(**overrides))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    match = re.match(r"/cases/(\d+)\?reported=1", response.location)
    assert match, response.location
    return int(match.group(1))


def complete(worker: Browser, task_name: str, data: dict[str, object], case_id: int) -> None:
    tasks = worker.inbox_tasks()
    assert task_name in tasks, f"{worker.username} lacks {task_name!r}: {tasks}"
    task_id = tasks[task_name]
    response = worker.submit(f"/tasks/{task_id}", data)
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    assert response.location == f"/cases/{case_id}"


def case_status(session: Session, case_id: int) -> str:
    session.expire_all()
    instance = session.get(ProcessInstance, case_id)
    assert instance is not None
    return instance.status


def open_task_names(session: Session, case_id: int) -> dict[str, str]:
    session.expire_all()
    rows = session.scalars(
        select(HumanTask).where(HumanTask.instance_id == case_id, HumanTask.status == "open")
    )
    return {row.bpmn_id: row.role for row in rows}


def test_full_time_official_with_danger_goes_through_security_party_office_and_tib(
    browser: Make, session: Session, services: Services
) -> None:
    anna = browser("anna")
    case_id = report_incident(anna, danger_ongoing="yes", harm_occurred="yes")

    confirmation = anna.text(f"/cases/{case_id}?reported=1&danger=1")
    assert "112" in confirmation and 'href="tel:112"' in confirmation

    assert open_task_names(session, case_id) == {
        "party_support": "party_office",
        "security_assessment": "security",
        "tib_danger_alert": "tib",
    }
    complete(browser("kansli.fp"), "Stöd till den drabbade", answers.PARTY_SUPPORT, case_id)
    complete(browser("tib"), "Pågående fara – agera nu", answers.TIB_RESPONSE, case_id)
    security = browser("sakerhet")
    complete(security, "Bedöm händelsen", answers.ASSESSMENT, case_id)
    # The chosen measures: crisis support within the case, police report support
    # as a linked case of its own.
    assert open_task_names(session, case_id) == {"crisis_support": "security"}
    linked = session.scalars(
        select(CaseLink.to_instance_id).where(CaseLink.from_instance_id == case_id)
    ).all()
    assert len(linked) == 1
    police_case = session.get(ProcessInstance, linked[0])
    assert police_case is not None and police_case.process_id == "police_report"
    assert police_case.subject_person_id == session.get(ProcessInstance, case_id).subject_person_id  # type: ignore[union-attr]
    child_page = anna.text(f"/cases/{police_case.id}")
    assert f'href="/cases/{case_id}"' in child_page, "the official follows the link back"
    assert f'href="/cases/{police_case.id}"' in anna.text(f"/cases/{case_id}")
    complete(security, "Ordna krisstöd", answers.CRISIS_SUPPORT, case_id)
    assert open_task_names(session, case_id) == {"follow_up_close": "security"}
    complete(security, "Följ upp och avsluta", answers.CLOSE, case_id)

    assert case_status(session, case_id) == "completed"
    page = anna.text(f"/cases/{case_id}")
    assert "status-completed" in page
    # harm ⇒ always an incident: the model's script reclassified the near miss
    instance = session.get(ProcessInstance, case_id)
    assert instance is not None
    assert services.load_case(instance).data()["event_type"] == "incident"


def test_political_staff_without_danger_gets_no_tib_task(browser: Make, session: Session) -> None:
    cecilia = browser("cecilia")
    case_id = report_incident(cecilia, kind="harassment", channel="email")
    assert open_task_names(session, case_id) == {
        "party_support": "party_office",
        "security_assessment": "security",
    }
    assert "Stöd till den drabbade" not in browser("kansli.fp").inbox_tasks(), "other party"
    complete(browser("kansli.gp"), "Stöd till den drabbade", answers.PARTY_SUPPORT, case_id)
    security = browser("sakerhet")
    complete(security, "Bedöm händelsen", {"severity": "low"}, case_id)
    complete(security, "Följ upp och avsluta", answers.CLOSE, case_id)
    assert case_status(session, case_id) == "completed"


def test_leisure_politician_in_committee_activity_goes_to_party_office_and_committee(
    browser: Make, session: Session
) -> None:
    bertil = browser("bertil")
    organisation = re.search(
        r'<option value="(\d+)"[^>]*>Kulturförvaltningen',
        bertil.text(bertil.get("/report").location),
    )
    assert organisation
    case_id = report_incident(
        bertil,
        in_committee_activity="yes",
        organisation_id=organisation.group(1),
        danger_ongoing="yes",
    )
    tasks = open_task_names(session, case_id)
    assert tasks == {"party_support_leisure": "party_office", "committee_review": "committee"}
    assert browser("sakerhet").inbox_tasks() == {}, (
        "leisure cases are not the security department's"
    )
    assert browser("tib").inbox_tasks() == {}

    party = browser("kansli.fp")
    complete(party, "Stöd till den drabbade", answers.PARTY_SUPPORT, case_id)
    complete(browser("namnd"), "Nämndens hantering", answers.COMMITTEE_REVIEW, case_id)
    complete(party, "Följ upp och avsluta", answers.PARTY_CLOSE, case_id)
    assert case_status(session, case_id) == "completed"


def test_leisure_politician_outside_committee_activity_involves_only_the_party_office(
    browser: Make, session: Session
) -> None:
    case_id = report_incident(browser("bertil"))
    assert open_task_names(session, case_id) == {"party_support_leisure": "party_office"}
    party = browser("kansli.fp")
    complete(party, "Stöd till den drabbade", answers.PARTY_SUPPORT, case_id)
    complete(party, "Följ upp och avsluta", answers.PARTY_CLOSE, case_id)
    assert case_status(session, case_id) == "completed"
    assert browser("namnd").inbox_tasks() == {}


def test_party_office_reports_on_behalf_of_an_official(
    browser: Make, session: Session, person_id: Callable[[str], int]
) -> None:
    party = browser("kansli.fp")
    choose = party.text("/report")
    assert "Anna Andersson" in choose and "Bertil Berg" in choose
    assert "Cecilia Carlsson" not in choose, "only the office's own party"
    anna = person_id("Anna Andersson")
    response = party.submit(f"/start/incident/{anna}", answers.report())
    assert response.status_code == 302
    case_id = int(re.findall(r"/cases/(\d+)", response.location)[0])
    instance = session.get(ProcessInstance, case_id)
    assert instance is not None and instance.on_behalf
    page = browser("anna").text(f"/cases/{case_id}")
    assert "Partikansliet (FP)" in page, "the official sees who reported for them"


def test_case_page_shows_history_and_answers(browser: Make) -> None:
    anna = browser("anna")
    case_id = report_incident(anna)
    complete(browser("sakerhet"), "Bedöm händelsen", answers.ASSESSMENT, case_id)
    page = browser("sakerhet").text(f"/cases/{case_id}")
    assert "Länkade ärenden" in page
    assert "Vi vet var du bor." in page  # the exact words, as reported
    assert "Sara Säker" in page  # who did the assessment
    assert "Stöd vid polisanmälan" in page or "polisanmälan" in page  # measure label
    assert "Anna Andersson" in page
