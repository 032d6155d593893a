"""The compliance view: each full-time official's guideline, training, conversations and measures.

Cases run through the real processes (start_case, complete_task, timers) with
the service clock moved; the rows are read from the report module and over
HTTP as the security department sees and exports them.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator
from datetime import date

import pytest
from pypdf import PdfReader
from sqlalchemy.orm import Session

from service.cases.yearly import offer_yearly_conversations
from service.clock import OffsetClock
from service.config import PROJECT_ROOT
from service.context import Services
from service.reports.compliance import READ_FIELDS, ComplianceRow, compliance_report
from tests import incident_data as answers
from tests.report_world import STOCKHOLM, World, read_csv, visible_text
from tests.web_client import Browser

Make = Callable[[str | None], Browser]

INTRODUCTION = {
    "introduced_on": "2027-01-20",
    "guideline_handed_over": "yes",
    "routine_reporting": "yes",
    "routine_police_report": "yes",
    "routine_emergency": "yes",
}
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


@pytest.fixture
def world(services: Services, session: Session, clock: OffsetClock) -> Iterator[World]:
    found = World(services, session, clock)
    found.move_to("2027-01-20 10:00")
    # Registered fifteen days ago: the introduction period ends 4 February.
    found.registered("Anna Andersson", "2027-01-05 10:00")
    found.registered("David Dahl", "2027-01-05 10:00")
    yield found


def rows(world: World) -> dict[str, ComplianceRow]:
    world.session.expire_all()
    report = compliance_report(world.session, world.now(), STOCKHOLM)
    return {row.name: row for row in report.rows}


def introduce_anna(world: World) -> int:
    case_id = world.start("sakerhet", "introduction", "Anna Andersson")
    world.complete(case_id, "give_introduction", "kansli.fp", INTRODUCTION)
    world.complete(case_id, "acknowledge_guideline", "anna", {"guideline_acknowledged": "yes"})
    return case_id


def offer_and_decline(world: World, conversation_id: int) -> None:
    world.complete(conversation_id, "book_conversation", "sakerhet", BOOKING)
    world.complete(
        conversation_id,
        "answer_invitation",
        "anna",
        {"invitation_answer": "decline", "decline_reason": "Inte nu."},
    )


def test_only_full_time_officials_and_nothing_late_until_the_introduction_period_ends(
    world: World,
) -> None:
    found = rows(world)
    assert list(found) == ["Anna Andersson", "David Dahl"], "leisure and staff are not covered"
    anna = found["Anna Andersson"]
    assert anna.registered_on == date(2027, 1, 5)
    assert (anna.guideline.state, anna.guideline.due) == ("not_offered", date(2027, 2, 4))
    assert (anna.training.state, anna.training.due) == ("not_offered", date(2027, 2, 4))
    assert anna.conversation.last_offer is None
    assert anna.conversation.next_due == date(2027, 2, 4)
    assert anna.conversation.due_soon and not anna.conversation.overdue
    assert anna.overdue_items == ()

    world.move_to("2027-02-04 23:00")
    assert rows(world)["Anna Andersson"].overdue_items == (), "due by the 4th means the 4th too"
    world.move_to("2027-02-05 08:00")
    assert rows(world)["Anna Andersson"].overdue_items == ("guideline", "training", "conversation")


def test_introduction_training_and_a_declined_conversation_count_as_offered(world: World) -> None:
    introduction = introduce_anna(world)
    anna = rows(world)["Anna Andersson"]
    assert anna.guideline.state == "offered"
    assert (anna.guideline.offered_on, anna.guideline.acknowledged_on) == (
        date(2027, 1, 20),
        date(2027, 1, 20),
    )
    assert anna.guideline.case_id == introduction
    # The training task went to her when she had acknowledged the guideline.
    assert (anna.training.state, anna.training.offered_on) == ("awaiting", date(2027, 1, 20))
    assert anna.training.answer_due == date(2027, 2, 19)

    world.move_to("2027-01-22 10:00")
    world.complete(
        introduction,
        "security_training",
        "anna",
        {"training_outcome": "completed", "training_completed_on": "2027-01-21"},
    )
    anna = rows(world)["Anna Andersson"]
    assert (anna.training.state, anna.training.completed_on) == ("completed", date(2027, 1, 21))
    # The introduction started the first conversation: being booked is not yet an offer.
    conversation = world.linked(introduction, "security_conversation")
    assert anna.conversation.under_way == "booking"
    assert anna.conversation.last_offer is None

    world.move_to("2027-01-25 10:00")
    offer_and_decline(world, conversation)
    anna = rows(world)["Anna Andersson"]
    offer = anna.conversation.last_offer
    assert offer is not None
    assert (offer.offered_on, offer.answer, offer.case_id) == (
        date(2027, 1, 25),
        "declined",
        conversation,
    )
    assert anna.conversation.next_due == date(2028, 1, 25), "declined, yet offered: a year on"
    assert anna.conversation.last_held_on is None
    assert anna.conversation.under_way is None
    assert anna.overdue_items == ()

    world.move_to("2027-12-30 10:00")
    anna = rows(world)["Anna Andersson"]
    assert anna.conversation.due_soon and not anna.conversation.overdue
    # The worker starts the yearly offer; until a time is proposed it is not one.
    assert offer_yearly_conversations(world.services, world.now()) >= 1
    anna = rows(world)["Anna Andersson"]
    assert anna.conversation.under_way == "booking"
    assert anna.conversation.last_offer is not None
    assert anna.conversation.last_offer.offered_on == date(2027, 1, 25)

    world.move_to("2028-01-26 10:00")
    anna = rows(world)["Anna Andersson"]
    assert anna.overdue_items == ("conversation",)


def test_a_held_conversation_and_the_training_it_agreed(world: World) -> None:
    case_id = world.start("sakerhet", "security_conversation", "David Dahl")
    world.complete(case_id, "book_conversation", "sakerhet", BOOKING)
    world.complete(case_id, "answer_invitation", "david", {"invitation_answer": "accept"})
    david = rows(world)["David Dahl"]
    assert david.conversation.under_way == "agreed"
    assert david.conversation.agreed_on == date(2027, 2, 10)
    assert david.conversation.last_offer is not None
    assert david.conversation.last_offer.answer == "accepted"

    world.move_to("2027-02-10 10:05")
    world.fire_timers()
    world.fire_timers()
    world.complete(
        case_id,
        "hold_conversation",
        "sakerhet",
        {"held_on": "2027-02-10", "risk_assessment": "medium", "agreed_measures": ["training"]},
    )
    david = rows(world)["David Dahl"]
    assert david.conversation.last_held_on == date(2027, 2, 10)
    assert david.conversation.next_due == date(2028, 1, 20), "a year after the offer"
    assert (david.training.state, david.training.offered_on) == ("offered", date(2027, 2, 10))
    # Nobody introduced him: the guideline is the one item late.
    assert david.overdue_items == ("guideline",)


def test_measures_in_place_with_their_review_dates_and_a_missed_review(world: World) -> None:
    guarding = world.start("sakerhet", "protective_measure", "David Dahl")
    world.complete(guarding, "propose_measure", "sakerhet", GUARDING)
    rejected = world.start("sakerhet", "protective_measure", "David Dahl")
    world.complete(rejected, "propose_measure", "sakerhet", {**GUARDING, "kind": "burglar_alarm"})
    world.complete(
        rejected, "approve_measure", "sakerhetschef", {"approved": "no", "decision_reason": "Nej."}
    )
    [measure] = rows(world)["David Dahl"].measures
    assert (measure.case_id, measure.state) == (guarding, "awaiting_decision")

    world.complete(guarding, "approve_measure", "sakerhetschef", {"approved": "yes"})
    world.complete(guarding, "implement_measure", "sakerhet", {"implemented_on": "2027-01-21"})
    world.complete(guarding, "confirm_in_place", "david", {"in_place": "yes"})
    [measure] = rows(world)["David Dahl"].measures
    assert (measure.kind, measure.state, measure.since, measure.review_on, measure.overdue) == (
        "guarding",
        "in_place",
        date(2027, 1, 21),
        date(2027, 3, 31),
        False,
    )

    world.move_to("2027-04-01 09:00")
    world.fire_timers()
    [measure] = rows(world)["David Dahl"].measures
    assert (measure.state, measure.overdue) == ("review", True)
    assert "measure" in rows(world)["David Dahl"].overdue_items
    world.complete(
        guarding, "review_measure", "sakerhet", {"review_decision": "end", "review_notes": "Lugnt."}
    )
    assert rows(world)["David Dahl"].measures == ()


def test_an_open_incident_with_a_task_past_due_stands_out(world: World) -> None:
    case_id = world.start(
        "david", "incident", "David Dahl", answers.report(occurred_on="2027-01-19")
    )
    david = rows(world)["David Dahl"]
    assert david.incidents.open_case_ids == (case_id,)
    assert not david.incidents.overdue
    # The assessment is due within four office hours.
    world.move_to("2027-01-21 10:00")
    david = rows(world)["David Dahl"]
    assert david.incidents.late_case_ids == (case_id,)
    assert "incident" in david.overdue_items


def declined_and_late(world: World) -> None:
    """Anna introduced, trained and offered a conversation she declined; David nothing at all."""
    introduction = introduce_anna(world)
    world.complete(
        introduction,
        "security_training",
        "anna",
        {"training_outcome": "declined", "training_decline_reason": "Har gått den förut."},
    )
    world.move_to("2027-01-25 10:00")
    offer_and_decline(world, world.linked(introduction, "security_conversation"))
    world.move_to("2027-02-05 10:00")


def test_the_page_shows_dates_and_overdue_items_in_words(world: World, browser: Make) -> None:
    declined_and_late(world)
    page = browser("sakerhet").text("/reports/compliance")
    text = visible_text(page)
    assert re.search(r"Uttaget 5 februari 2027 kl\. 10:\d\d", text)
    assert "2 särskilt arvoderade förtroendevalda." in text
    assert "1 med försenade punkter." in text
    anna = text[text.find("Anna Andersson") : text.find("David Dahl")]
    assert "Erbjuden 20 januari 2027 bekräftad 20 januari 2027" in anna
    assert "avböjd av den förtroendevalda" in anna
    assert "Senast erbjudet 25 januari 2027 (tackade nej (räknas ändå som erbjudet))" in anna
    assert "Ska erbjudas senast 25 januari 2028" in anna
    assert "Försenad" not in anna
    david = text[text.find("David Dahl") :]
    assert "Försenad Riktlinjen, Utbildning, Säkerhetssamtal" in david
    assert "Försenad Inte erbjuden senast 4 februari 2027" in david
    assert "Aldrig erbjudet" in david
    # Overdue stands out in words and in the markup, not by colour alone.
    assert page.count('class="tag-overdue"') == 5  # the summary, David's row, his three cells
    assert 'class="overdue"' in page

    only = visible_text(browser("sakerhet").text("/reports/compliance?show=overdue"))
    assert "David Dahl" in only and "Anna Andersson" not in only


def test_csv_and_pdf_hold_the_rows_and_the_date_drawn_and_are_audited(
    world: World, browser: Make
) -> None:
    declined_and_late(world)
    security = browser("sakerhet")
    response = security.get("/reports/compliance.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "uppfoljning-riktlinjen-2027-02-05.csv" in response.headers["Content-Disposition"]
    table = read_csv(response.get_data())
    assert table[0] == ["Uppföljning av riktlinjen: särskilt arvoderade förtroendevalda"]
    assert table[1][0] == "Uttaget" and table[1][1].startswith("5 februari 2027 kl. 10:")
    assert table[1][2] == "av Sara Säker"
    header = table[3]
    by_name = {row[0]: dict(zip(header, row, strict=True)) for row in table[4:]}
    assert list(by_name) == ["Anna Andersson", "David Dahl"]
    anna, david = by_name["Anna Andersson"], by_name["David Dahl"]
    assert anna["Riktlinjen erbjuden"] == "2027-01-20"
    assert anna["Utbildning"] == "Avböjd" and anna["Utbildning erbjuden"] == "2027-01-20"
    assert anna["Samtal senast erbjudet"] == "2027-01-25"
    assert anna["Svar på senaste erbjudandet"] == "tackade nej (räknas ändå som erbjudet)"
    assert anna["Nästa erbjudande senast"] == "2028-01-25"
    assert anna["Försenade punkter"] == "Nej"
    assert david["Riktlinjen"] == "Inte erbjuden" and david["Riktlinjen senast"] == "2027-02-04"
    assert david["Försenade punkter"] == "Riktlinjen, Utbildning, Säkerhetssamtal"

    pdf = security.get("/reports/compliance.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert "uppfoljning-riktlinjen-2027-02-05.pdf" in pdf.headers["Content-Disposition"]
    content = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.get_data())).pages)
    flat = re.sub(r"\s+", " ", content)
    for expected in (
        "Uppföljning av riktlinjen",
        "Uttaget 5 februari 2027 kl. 10:",
        "Anna Andersson",
        "David Dahl",
        "FÖRSENAD",
        "Senast erbjudet 25 januari 2027",
        "Så räknas det",
    ):
        assert expected in flat, expected

    sakerhet = world.user("sakerhet").id
    exports = [(e.actor_id, e.details["format"]) for e in world.audit("report.exported")]
    assert exports == [(sakerhet, "csv"), (sakerhet, "pdf")]
    event = world.audit("report.exported")[0]
    assert event.details["report"] == "compliance" and event.details["overdue"] == 1
    people = {world.person("Anna Andersson").id, world.person("David Dahl").id}
    assert set(event.details["people"]) == people
    assert "Anna" not in json.dumps(event.details), "ids, never names, in the audit trail"

    security.get("/reports/compliance")
    [viewed] = world.audit("report.viewed")
    assert (viewed.actor_id, viewed.details["format"]) == (sakerhet, "html")


def test_only_the_security_department_sees_the_compliance_view(world: World, browser: Make) -> None:
    for username in ("anna", "kansli.fp", "tib", "namnd", "admin", "designer"):
        client = browser(username)
        for url in ("/reports/compliance", "/reports/compliance.csv", "/reports/compliance.pdf"):
            assert client.get(url).status_code == 403, (username, url)
        assert 'href="/reports/compliance"' not in client.text("/notifications")
    lead = browser("sakerhetschef")
    assert lead.get("/reports/compliance").status_code == 200
    assert 'href="/reports/compliance"' in lead.text("/notifications")
    assert world.audit("report.exported") == []


def test_the_view_reads_fields_the_forms_still_have() -> None:
    for form_id, name in READ_FIELDS:
        form = json.loads((PROJECT_ROOT / "forms" / f"{form_id}.json").read_text(encoding="utf-8"))
        assert name in form["schema"]["properties"], (form_id, name)
