"""The case page's summary and timeline, and comments written for a chosen circle of readers."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy import text as sql
from sqlalchemy.orm import Session

from service.audit.models import AuditEvent
from service.auth import policy
from service.casenotes.comments import MAX_COMMENT_LENGTH
from service.casenotes.decisions import decision_points
from service.casenotes.models import CaseComment, NoteVisibility
from service.casenotes.timeline import hidden_fields
from service.cases.models import ProcessInstance
from service.clock import OffsetClock
from service.context import Services
from service.people.models import User
from service.tasks.models import HumanTask
from tests import incident_data as answers
from tests.test_incident_routine import complete, report_incident
from tests.web_client import Browser

Make = Callable[[str | None], Browser]

NOTES = {
    "case": "Anteckning för alla i ärendet: polisen är kontaktad.",
    "security_party": "Anteckning för kansliet: ring henne på fredag.",
    "security": "Endast säkerhet: gärningspersonen finns i vårt register.",
}


def write_comment(client: Browser, case_id: int, body: str, visibility: str | None) -> object:
    data = {"body": body} | ({"visibility": visibility} if visibility else {})
    return client.submit(f"/cases/{case_id}/comments", data, form_page=f"/cases/{case_id}")


def comments_in_db(session: Session, case_id: int) -> list[CaseComment]:
    session.expire_all()
    return list(
        session.scalars(
            select(CaseComment).where(CaseComment.instance_id == case_id).order_by(CaseComment.id)
        )
    )


@pytest.fixture
def danger_case(browser: Make) -> int:
    """Anna's incident with danger ongoing: the party office, security and the TiB are in it."""
    return report_incident(browser("anna"), danger_ongoing="yes")


def test_each_role_reads_only_the_comment_levels_meant_for_it(
    browser: Make, danger_case: int, session: Session
) -> None:
    security = browser("sakerhet")
    for level, text in NOTES.items():
        response = write_comment(security, danger_case, text, level)
        assert response.status_code == 302  # type: ignore[attr-defined]
    assert {c.visibility for c in comments_in_db(session, danger_case)} == set(NOTES)

    sees = {
        "sakerhet": {"case", "security_party", "security"},
        "sakerhetschef": {"case", "security_party", "security"},
        "kansli.fp": {"case", "security_party"},
        "anna": {"case"},
        "tib": {"case"},
    }
    for username, levels in sees.items():
        client = browser(username)
        page = client.text(f"/cases/{danger_case}")
        api = json.dumps(client.get(f"/api/v1/cases/{danger_case}").get_json(), ensure_ascii=False)
        for level, text in NOTES.items():
            if level in levels:
                assert text in page, (username, level)
                assert text in api, (username, level)
            else:
                assert text not in page, (username, level)
                assert text not in api, (username, level)
        # Not even a trace: the history hides the audit rows of unreadable comments.
        assert page.count("Kommentar skriven") == len(levels), username

    # The API lists the readable ones with their level.
    party_api = browser("kansli.fp").get(f"/api/v1/cases/{danger_case}").get_json()
    assert sorted(c["visibility"] for c in party_api["comments"]) == ["case", "security_party"]
    assert {c["body"] for c in party_api["comments"]} == {NOTES["case"], NOTES["security_party"]}


def test_an_author_may_only_choose_levels_they_can_read(
    browser: Make, danger_case: int, session: Session
) -> None:
    anna = browser("anna")
    refused = write_comment(anna, danger_case, "Till säkerhet bara.", "security")
    assert refused.status_code == 400  # type: ignore[attr-defined]
    page = refused.get_data(as_text=True)  # type: ignore[attr-defined]
    assert "Välj vilka som får läsa." in page
    assert "Till säkerhet bara." in page, "what she wrote is kept"
    party = browser("kansli.fp")
    assert write_comment(party, danger_case, "Bara säkerhet?", "security").status_code == 400  # type: ignore[attr-defined]
    assert write_comment(party, danger_case, "Okänd nivå", "everyone").status_code == 400  # type: ignore[attr-defined]
    assert comments_in_db(session, danger_case) == []

    # The official's form offers one level and says so; the party office chooses between two.
    assert 'name="visibility" value="case"' in anna.text(f"/cases/{danger_case}")
    assert "Får läsas av: Alla i ärendet" in anna.text(f"/cases/{danger_case}")
    party_page = party.text(f"/cases/{danger_case}")
    assert 'value="security_party"' in party_page and 'value="security"' not in party_page
    assert write_comment(party, danger_case, "Vi har ringt.", "security_party").status_code == 302  # type: ignore[attr-defined]
    assert write_comment(anna, danger_case, "Tack för hjälpen.", "case").status_code == 302  # type: ignore[attr-defined]
    assert [c.visibility for c in comments_in_db(session, danger_case)] == [
        "security_party",
        "case",
    ]


def test_empty_and_too_long_comments_are_refused_and_the_text_kept(
    browser: Make, danger_case: int, session: Session
) -> None:
    security = browser("sakerhet")
    empty = write_comment(security, danger_case, "   \n  ", "security")
    assert empty.status_code == 400  # type: ignore[attr-defined]
    assert "Skriv något innan du sparar kommentaren." in empty.get_data(as_text=True)  # type: ignore[attr-defined]

    long_text = "Å" * (MAX_COMMENT_LENGTH + 1)
    too_long = write_comment(security, danger_case, long_text, "security_party")
    assert too_long.status_code == 400  # type: ignore[attr-defined]
    page = too_long.get_data(as_text=True)  # type: ignore[attr-defined]
    assert f"Kommentaren är {MAX_COMMENT_LENGTH + 1} tecken lång" in page
    assert f"högst {MAX_COMMENT_LENGTH} tecken" in page
    assert long_text in page, "the text is kept in the box to shorten"
    assert 'value="security_party" checked' in page, "and the chosen level"
    assert comments_in_db(session, danger_case) == []

    exactly = write_comment(security, danger_case, "a" * MAX_COMMENT_LENGTH, "security")
    assert exactly.status_code == 302  # type: ignore[attr-defined]


def test_comments_are_audited_without_their_text_and_never_logged(
    browser: Make, danger_case: int, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "Hemligt: hon bor på Storgatan 5."
    with caplog.at_level(logging.DEBUG):
        response = write_comment(browser("sakerhet"), danger_case, secret, "security")
    assert response.status_code == 302  # type: ignore[attr-defined]
    (comment,) = comments_in_db(session, danger_case)
    assert response.location == f"/cases/{danger_case}#comment-{comment.id}"  # type: ignore[attr-defined]
    events = session.scalars(
        select(AuditEvent).where(
            AuditEvent.instance_id == danger_case, AuditEvent.action == "comment.added"
        )
    ).all()
    assert len(events) == 1
    assert events[0].details == {"comment": comment.id, "visibility": "security"}
    assert "Storgatan" not in caplog.text
    # Encrypted at rest like the answers in tasks: the database holds no readable text.
    raw = session.execute(sql("SELECT body FROM case_comment")).scalar_one()
    assert raw.startswith("f1:") and "Storgatan" not in raw


def test_people_outside_the_case_cannot_comment(
    browser: Make, danger_case: int, session: Session
) -> None:
    assert write_comment(browser("david"), danger_case, "Hej", "case").status_code == 403  # type: ignore[attr-defined]
    assert write_comment(browser("kansli.gp"), danger_case, "Hej", "case").status_code == 403  # type: ignore[attr-defined]
    for username in ("designer", "admin"):
        client = browser(username)
        token = client.csrf_token("/notifications")
        response = client.client.post(
            f"/cases/{danger_case}/comments",
            data={"body": "Hej", "visibility": "case", "csrf_token": token},
        )
        assert response.status_code in (403, 404), username
    no_token = browser("sakerhet").client.post(
        f"/cases/{danger_case}/comments", data={"body": "Hej", "visibility": "case"}
    )
    assert no_token.status_code == 400
    assert comments_in_db(session, danger_case) == []


def test_policy_levels_per_role(user_by_name: Callable[[str], User]) -> None:
    levels = {
        name: {level.value for level in policy.visible_note_levels(user_by_name(name))}
        for name in ("anna", "kansli.fp", "sakerhet", "sakerhetschef", "tib", "namnd", "admin")
    }
    assert levels == {
        "anna": {"case"},
        "kansli.fp": {"case", "security_party"},
        "sakerhet": {level.value for level in NoteVisibility},
        "sakerhetschef": {level.value for level in NoteVisibility},
        "tib": {"case"},
        "namnd": {"case"},
        "admin": set(),
    }


def _text(html: str) -> str:
    main = html[html.index("<main") : html.index("</main>")]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main))


def test_timeline_tells_the_case_in_order_with_who_and_when(
    browser: Make, session: Session, clock: OffsetClock
) -> None:
    anna = browser("anna")
    case_id = report_incident(anna, danger_ongoing="yes")
    clock.advance(timedelta(minutes=2))
    complete(browser("kansli.fp"), "Stöd till den drabbade", answers.PARTY_SUPPORT, case_id)
    clock.advance(timedelta(minutes=2))
    security = browser("sakerhet")
    write_comment(security, case_id, "Pratade med polisen i telefon.", "case")
    clock.advance(timedelta(minutes=2))
    complete(security, "Bedöm händelsen", answers.ASSESSMENT, case_id)
    clock.advance(timedelta(minutes=2))
    write_comment(security, case_id, "Endast för oss: känd avsändare.", "security")

    page = _text(anna.text(f"/cases/{case_id}"))
    timeline = page[page.index("Tidslinje") : page.index("Skriv en kommentar")]
    expected_order = [
        "Ärendet startades",
        "Rapporterad av Anna Andersson",
        "Vi vet var du bor.",  # the report's answers stay visible
        "Vägval i processen",
        "Pågående fara? Ja",  # the decision the report led to
        "Stöd till den drabbade",
        "utfört av Partikansliet (FP)",
        "Pratade med polisen i telefon.",
        "Bedöm händelsen",
        "utfört av Sara Säker",
        "Valt: stöd vid polisanmälan? Ja",
        "Valt: krisstöd? Ja",
        "Ett länkat ärende startades",
        "Stöd vid polisanmälan – ärende",
    ]
    positions = [timeline.find(text) for text in expected_order]
    assert -1 not in positions, dict(zip(expected_order, positions, strict=True))
    assert positions == sorted(positions), dict(zip(expected_order, positions, strict=True))
    assert "Endast för oss" not in page
    assert "Får läsas av: Alla i ärendet" in timeline

    # The summary: kind, whom, status in words, what waits and for whom, started by whom.
    summary = page[: page.index("Länkade ärenden")]
    assert "Typ av ärende Rapportera händelse" in summary
    assert "Gäller Anna Andersson (FP)" in summary
    assert "Status Pågår" in summary
    assert "Ordna krisstöd: väntar på Säkerhetsavdelningen" in summary
    assert "Pågående fara – agera nu: väntar på Tjänsteperson i beredskap (TiB)" in summary
    assert "Rapporterad av Anna Andersson" in summary

    # The linked case tells where it came from.
    child = session.scalar(
        select(ProcessInstance).where(ProcessInstance.process_id == "police_report")
    )
    assert child is not None
    child_page = _text(anna.text(f"/cases/{child.id}"))
    assert f"Startat från ärende {case_id}" in child_page


def test_decisions_on_answers_a_role_may_not_read_are_hidden(
    services: Services, session: Session, user_by_name: Callable[[str], User], danger_case: int
) -> None:
    instance = session.get(ProcessInstance, danger_case)
    assert instance is not None
    points = decision_points(instance.definition)
    assert points["danger_check"].reads == {"danger_ongoing"}
    assert points["danger_check"].describe(("tib_danger_alert",), {}) == "Ja"
    forms = {
        form_id: services.definitions.form(instance.definition, form_id)
        for form_id in instance.definition.forms
    }
    # The assessment's notes are the security department's: a decision reading them
    # would be left out of the party office's and the official's timeline.
    assert "assessment_notes" in hidden_fields(forms, user_by_name("kansli.fp"))
    assert "assessment_notes" in hidden_fields(forms, user_by_name("anna"))
    assert "assessment_notes" not in hidden_fields(forms, user_by_name("sakerhet"))


def test_risk_level_decided_by_the_table_is_shown_in_words(
    browser: Make, session: Session, person_id: Callable[[str], int]
) -> None:
    party = browser("kansli.fp")
    start = party.submit(f"/start/event_risk_analysis/{person_id('Anna Andersson')}", {})
    assert start.status_code == 302, start.get_data(as_text=True)[:2000]
    case_id = int(re.findall(r"/cases/(\d+)", start.location)[0])

    def do(bpmn_id: str, data: dict[str, object]) -> None:
        session.expire_all()
        task_id = session.scalar(
            select(HumanTask.id).where(
                HumanTask.instance_id == case_id,
                HumanTask.bpmn_id == bpmn_id,
                HumanTask.status == "open",
            )
        )
        assert task_id is not None, bpmn_id
        response = party.submit(f"/tasks/{task_id}", data)
        assert response.status_code == 302, response.get_data(as_text=True)[:3000]

    do(
        "describe_engagement",
        {
            "engagement_kind": "public_appearance",
            "engagement_summary": "Debatt om trafikfrågor på stadsbiblioteket.",
            "event_date": "2026-12-03",
            "place": "Stadsbiblioteket, Sveavägen",
            "publicly_announced": "yes",
            "expected_audience": "Omkring 80 personer",
        },
    )
    do(
        "assess_risk",
        {
            "identified_risks": "Störande inlägg från publiken.",
            "probability": "2",
            "consequence": "1",
            "planned_measures": "En person från kansliet följer med.",
            "can_assess_ourselves": "yes",
        },
    )
    page = _text(party.text(f"/cases/{case_id}"))
    assert "Räkna fram risknivå Risknivå: 1–3: låg – inga särskilda åtgärder" in page
    assert "Till säkerhetsavdelningen? Nej" in page


def test_on_behalf_is_shown_in_summary_timeline_and_case_list(
    browser: Make, person_id: Callable[[str], int]
) -> None:
    party = browser("kansli.fp")
    response = party.submit(f"/start/incident/{person_id('Anna Andersson')}", answers.report())
    case_id = int(re.findall(r"/cases/(\d+)", response.location)[0])
    line = "Rapporterad av Partikansliet (FP) för Anna Andersson"
    page = _text(browser("anna").text(f"/cases/{case_id}"))
    summary, timeline = page[: page.index("Tidslinje")], page[page.index("Tidslinje") :]
    assert line in summary
    assert line in timeline
    assert line in _text(browser("sakerhet").text("/cases"))
    own = report_incident(browser("anna"))
    listing = browser("sakerhet").text("/cases")
    assert listing.count("Rapporterad av") == 1, "only the case reported on someone's behalf"
    assert f"/cases/{own}" in listing
