"""The official's start page: report button, open cases, next conversation, protection, training.

Cases run through the real processes (start_case, complete_task, timers); the
page is read over HTTP as the official sees it, in Swedish and Stockholm time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.cases.official_overview import READ_FIELDS, official_overview
from service.cases.service import complete_task, start_case
from service.cases.timers import fire_due_timers
from service.cases.yearly import offer_yearly_conversations
from service.clock import OffsetClock
from service.config import PROJECT_ROOT
from service.context import Services
from service.people.models import Person, User
from service.tasks.models import HumanTask
from tests.scenario_runner import form_input
from tests.test_incident_routine import report_incident
from tests.web_client import Browser

STOCKHOLM = ZoneInfo("Europe/Stockholm")
Make = Callable[[str | None], Browser]


def home(browser: Make, username: str = "anna") -> str:
    """The start page, signed in afresh (moving the clock ends sessions, as it should)."""
    return browser(username).text("/")


def visible_text(html: str) -> str:
    """The page's words as a reader meets them: no tags, single spaces."""
    main = html[html.find("<main") : html.find("</main>")]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main)).strip()


class Cases:
    """Starts and works cases about the demo officials through the service, as the web does."""

    def __init__(self, services: Services, session: Session, clock: OffsetClock) -> None:
        self.services, self.session, self.clock = services, session, clock

    def move_to(self, local: str) -> None:
        target = datetime.fromisoformat(local).replace(tzinfo=STOCKHOLM)
        self.clock.advance(target - self.clock.now())

    def user(self, username: str) -> User:
        found = self.session.scalar(select(User).where(User.username == username))
        assert found is not None
        return found

    def start(self, username: str, process_id: str, subject: str) -> int:
        person = self.session.scalar(select(Person).where(Person.full_name == subject))
        assert person is not None
        result = start_case(
            self.services, self.session, self.user(username), process_id, person, form_input({})
        )
        self.session.commit()
        return result.instance.id

    def complete(self, case_id: int, bpmn_id: str, username: str, data: dict[str, Any]) -> None:
        self.session.expire_all()
        task = self.session.scalar(
            select(HumanTask).where(
                HumanTask.instance_id == case_id,
                HumanTask.bpmn_id == bpmn_id,
                HumanTask.status == "open",
            )
        )
        assert task is not None, f"{bpmn_id} is not open in case {case_id}"
        complete_task(self.services, self.session, self.user(username), task.id, form_input(data))
        self.session.commit()

    def fire_timers(self) -> None:
        fire_due_timers(self.services, now=self.clock.now())

    def overview_of(self, username: str) -> Any:
        self.session.expire_all()
        return official_overview(self.session, self.user(username))


@pytest.fixture
def cases(services: Services, session: Session, clock: OffsetClock) -> Iterator[Cases]:
    world = Cases(services, session, clock)
    world.move_to("2027-01-20 10:00")
    yield world


BOOKING = {
    "occasion": "annual",
    "proposed_date": "2027-02-10",
    "proposed_time": "10:00",
    "meeting_place": "Stadshuset, rum 301",
}
GUARDING = {
    "kind": "guarding",
    "justification": "Hot mot bostaden.",
    "cost": "45000",
    "valid_from": "2027-01-21",
    "valid_to": "2027-03-31",
}


def test_a_new_official_sees_the_report_button_first_and_plain_answers(
    cases: Cases, browser: Make
) -> None:
    html = home(browser)
    text = visible_text(html)
    assert html.index("button-report") < html.index("heading-open-cases")
    assert text.index("Rapportera händelse") < text.index("Ring 112")
    sections = [
        "Dina pågående ärenden",
        "Ditt nästa säkerhetssamtal",
        "Skydd för dig",
        "Personsäkerhetsutbildning",
    ]
    assert [text.index(s) for s in sections] == sorted(text.index(s) for s in sections)
    assert "Du har inga pågående ärenden." in text
    # Anna is full-time and never had a conversation: the worker offers one at once.
    assert "Du får snart erbjudande om ett säkerhetssamtal." in text
    assert "Du har inga skyddsåtgärder just nu." in text
    assert "Du har inte gått utbildningen ännu – kontakta ditt partikansli." in text


def test_open_cases_say_who_has_them_and_what_i_must_do(cases: Cases, browser: Make) -> None:
    anna = browser("anna")
    case_id = report_incident(anna)
    text = visible_text(home(browser))
    assert f"ärende {case_id}" in text
    assert "Hanteras nu av: Partikansli, Säkerhetsavdelningen." in text
    assert "Startat i dag kl. 10:00" in text

    conversation = cases.start("sakerhet", "security_conversation", "Anna Andersson")
    cases.complete(conversation, "book_conversation", "sakerhet", BOOKING)
    overview = cases.overview_of("anna")
    mine = {c.instance.id: c for c in overview.open_cases}
    assert [t.bpmn_id for t in mine[conversation].my_tasks] == ["answer_invitation"]
    assert mine[case_id].working == ["party_office", "security"]
    page = home(browser)
    assert "Du behöver göra något i det här ärendet." in visible_text(page)
    assert f'href="/tasks/{mine[conversation].my_tasks[0].id}"' in page


def test_the_next_security_conversation_through_its_steps(cases: Cases, browser: Make) -> None:
    case_id = cases.start("sakerhet", "security_conversation", "Anna Andersson")
    assert cases.overview_of("anna").conversation.state == "booking"
    assert "Säkerhetsavdelningen kommer att föreslå en tid" in visible_text(home(browser))

    cases.complete(case_id, "book_conversation", "sakerhet", BOOKING)
    conversation = cases.overview_of("anna").conversation
    assert conversation.state == "answer" and conversation.task is not None
    assert conversation.at == datetime(2027, 2, 10, 10, 0, tzinfo=STOCKHOLM)
    text = visible_text(home(browser))
    assert (
        "Du har fått ett förslag på tid: onsdag 10 februari kl. 10:00. Plats: Stadshuset, rum 301."
        in text
    )
    assert "Svara på förslaget" in text

    cases.complete(
        case_id,
        "answer_invitation",
        "anna",
        {
            "invitation_answer": "other_time",
            "alternative_date": "2027-02-12",
            "alternative_time": "13:30",
        },
    )
    text = visible_text(home(browser))
    assert "Du har bett om en annan tid: fredag 12 februari kl. 13:30." in text

    cases.complete(
        case_id,
        "confirm_new_time",
        "sakerhet",
        {"confirmed_date": "2027-02-12", "confirmed_time": "14:00", "confirmed_place": "Rum 12"},
    )
    text = visible_text(home(browser))
    assert "Ditt säkerhetssamtal är fredag 12 februari kl. 14:00. Plats: Rum 12." in text
    assert "Du får en påminnelse dagen före." in text

    cases.move_to("2027-02-11 12:00")
    assert "Ditt säkerhetssamtal är i morgon kl. 14:00." in visible_text(home(browser))

    cases.move_to("2027-02-12 14:05")
    cases.fire_timers()
    cases.fire_timers()
    assert cases.overview_of("anna").conversation.state == "documenting"
    cases.complete(
        case_id,
        "hold_conversation",
        "sakerhet",
        {"held_on": "2027-02-12", "risk_assessment": "low", "confidential_notes": "Hemligt."},
    )
    conversation = cases.overview_of("anna").conversation
    assert conversation.state == "none" and conversation.last_held == date(2027, 2, 12)
    # The next yearly offer: 11 months after this one was started (service/cases/yearly.py).
    assert conversation.next_offer == date(2027, 12, 20)
    text = visible_text(home(browser))
    assert "Du får erbjudande om nästa säkerhetssamtal omkring 20 december." in text
    assert "Ditt senaste samtal: 12 februari." in text
    assert "Hemligt" not in home(browser)


def test_the_yearly_offer_appears_as_soon_as_the_worker_starts_it(
    cases: Cases, services: Services, browser: Make
) -> None:
    assert offer_yearly_conversations(services) >= 1
    assert cases.overview_of("anna").conversation.state == "booking"
    # A leisure politician gets no yearly offer and is told how to ask for one.
    bertil = cases.overview_of("bertil").conversation
    assert bertil.state == "none" and bertil.next_offer is None and not bertil.full_time
    text = visible_text(home(browser, "bertil"))
    assert "Du har inget säkerhetssamtal bokat." in text
    assert "Be om ett säkerhetssamtal" in text


def test_a_protective_measure_from_proposal_to_in_place(cases: Cases, browser: Make) -> None:
    case_id = cases.start("sakerhet", "protective_measure", "Anna Andersson")
    cases.complete(case_id, "propose_measure", "sakerhet", GUARDING)
    [measure] = cases.overview_of("anna").measures
    assert (measure.state, measure.kind) == ("arranging", "guarding")
    assert "Bevakning Säkerhetsavdelningen ordnar den." in visible_text(home(browser))

    cases.complete(case_id, "approve_measure", "sakerhetschef", {"approved": "yes"})
    cases.complete(case_id, "implement_measure", "sakerhet", {"implemented_on": "2027-01-21"})
    [measure] = cases.overview_of("anna").measures
    assert measure.state == "confirm" and measure.task is not None
    assert "Berätta om den är på plats och fungerar." in visible_text(home(browser))

    cases.complete(
        case_id,
        "confirm_in_place",
        "anna",
        {"in_place": "no", "problem_description": "Vakten kom inte."},
    )
    assert cases.overview_of("anna").measures[0].state == "fixing"
    cases.complete(
        case_id, "fix_measure", "sakerhet", {"fixed": "yes", "fix_notes": "Nytt schema."}
    )
    [measure] = cases.overview_of("anna").measures
    assert (measure.state, measure.since, measure.until) == (
        "in_place",
        date(2027, 1, 21),
        date(2027, 3, 31),
    )
    text = visible_text(home(browser))
    assert "På plats sedan 21 januari. Gäller till 31 mars." in text

    cases.move_to("2027-03-31 08:30")
    cases.fire_timers()
    assert cases.overview_of("anna").measures[0].state == "review"
    cases.complete(
        case_id,
        "review_measure",
        "sakerhet",
        {"review_decision": "end", "review_notes": "Inga nya hot."},
    )
    assert cases.overview_of("anna").measures == []


def test_a_rejected_measure_is_not_shown_as_protection(cases: Cases) -> None:
    case_id = cases.start("sakerhet", "protective_measure", "Anna Andersson")
    cases.complete(case_id, "propose_measure", "sakerhet", {**GUARDING, "kind": "burglar_alarm"})
    cases.complete(
        case_id,
        "approve_measure",
        "sakerhetschef",
        {"approved": "no", "decision_reason": "Besiktning först."},
    )
    overview = cases.overview_of("anna")
    assert overview.measures == []
    assert [c.id for c in overview.closed_cases] == [case_id]


def introduce(cases: Cases, training: dict[str, str] | None) -> int:
    case_id = cases.start("sakerhet", "introduction", "Anna Andersson")
    cases.complete(
        case_id,
        "give_introduction",
        "kansli.fp",
        {
            "introduced_on": "2027-01-20",
            "guideline_handed_over": "yes",
            "routine_reporting": "yes",
            "routine_police_report": "yes",
            "routine_emergency": "yes",
        },
    )
    cases.complete(case_id, "acknowledge_guideline", "anna", {"guideline_acknowledged": "yes"})
    if training is not None:
        cases.complete(case_id, "security_training", "anna", training)
    return case_id


def test_training_completed_shows_its_date(cases: Cases, browser: Make) -> None:
    introduce(cases, None)
    training = cases.overview_of("anna").training
    assert training.state == "offered" and training.task is not None
    page = home(browser)
    assert "Du har inte gått utbildningen ännu." in visible_text(page)
    assert f'href="/tasks/{training.task.id}"' in page

    cases.complete(
        training.task.instance_id,
        "security_training",
        "anna",
        {"training_outcome": "completed", "training_completed_on": "2026-12-15"},
    )
    assert cases.overview_of("anna").training.on == date(2026, 12, 15)
    assert "Utbildning genomförd 15 december 2026." in visible_text(home(browser))
    # The introduction started the first conversation: it is under way now.
    assert cases.overview_of("anna").conversation.state == "booking"


def test_declined_training_says_how_to_take_it_later(cases: Cases, browser: Make) -> None:
    introduce(cases, {"training_outcome": "declined"})
    assert cases.overview_of("anna").training.state == "declined"
    assert "Du kan gå den senare – kontakta ditt partikansli." in visible_text(home(browser))


def test_nobody_elses_cases_show_and_english_works(cases: Cases, browser: Make) -> None:
    introduce(cases, {"training_outcome": "completed", "training_completed_on": "2027-01-19"})
    case_id = cases.start("sakerhet", "protective_measure", "Anna Andersson")
    cases.complete(case_id, "propose_measure", "sakerhet", GUARDING)
    david = cases.overview_of("david")
    assert (david.open_cases, david.measures, david.training.state) == ([], [], "not_taken")
    assert david.conversation.state == "none"

    anna = browser("anna")
    token = anna.csrf_token("/")
    anna.client.post("/language", data={"lang": "en", "next": "/", "csrf_token": token})
    text = visible_text(anna.text("/"))
    assert "Training completed 19 January." in text
    assert "Guarding The security department is arranging it." in text


def test_the_page_reads_no_answer_that_is_hidden_from_the_official() -> None:
    for form_id, name in READ_FIELDS:
        form = json.loads((PROJECT_ROOT / "forms" / f"{form_id}.json").read_text())
        assert name in form["schema"]["properties"], (form_id, name)
        assert "visible_to" not in form["ui"]["fields"].get(name, {}), (form_id, name)
