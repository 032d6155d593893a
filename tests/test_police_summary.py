"""Underlag för polisanmälan: the page and the PDF hold what the police need, for the right people."""

from __future__ import annotations

import html
import io
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.models import AuditEvent
from service.casenotes.attachments import add_attachment
from service.casenotes.storage import AttachmentStore
from service.cases.models import CaseLink, ProcessInstance
from service.context import Services
from service.people.models import User
from service.web import pdf_base
from tests import incident_data as answers
from tests.browser_fixtures import (  # noqa: F401 - fixtures
    ARTIFACTS,
    chromium,
    live_server,
    needs_chromium,
    phone,
    sign_in,
)
from tests.test_incident_routine import complete, report_incident
from tests.web_client import Browser

Make = Callable[[str | None], Browser]

DETAILS = {
    "description": "En man kom fram efter sammanträdet och sa att han skulle hitta mig.",
    "occurred_on": "2026-11-25",
    "occurred_time": "18:30",
    "location": "Utanför Stadshuset, Hantverkargatan",
    "exact_words": "Jag vet var du bor – vi ses snart.",
    "perpetrator_description": "Man i 40-årsåldern, mörk jacka, grått skägg.",
    "witnesses": "Gruppledaren Karin Öberg stod bredvid, 070-000 00 00.",
    "evidence": "Inga meddelanden; vittnet hörde allt.",
}


def _police_case(session: Session, incident_id: int) -> int:
    session.expire_all()
    found = session.scalar(
        select(CaseLink.to_instance_id).where(CaseLink.from_instance_id == incident_id)
    )
    assert found is not None, "the assessment started a police-report case"
    child = session.get(ProcessInstance, found)
    assert child is not None and child.process_id == "police_report"
    return found


def _incident_with_police_case(
    browser: Make, session: Session, **report: object
) -> tuple[int, int]:
    anna = browser("anna")
    incident_id = report_incident(anna, **report)
    complete(
        browser("sakerhet"),
        "Bedöm händelsen",
        {"severity": "high", "measures": ["police_report"]},
        incident_id,
    )
    return incident_id, _police_case(session, incident_id)


def _gather(browser: Make, police_id: int) -> None:
    anna = browser("anna")
    complete(anna, "Välj hur anmälan görs", {"filing_mode": "self"}, police_id)
    complete(anna, "Samla underlag till polisanmälan", DETAILS, police_id)


def _sections(page: str) -> dict[str, str]:
    """Section heading → the section's text, tags stripped."""
    found: dict[str, str] = {}
    for heading, body in re.findall(
        r'<h2 id="(?:summary-\d+|protection-heading)">([^<]+)</h2>(.*?)</section>', page, re.S
    ):
        text = re.sub(r"<[^>]+>", " ", body)
        found[html.unescape(heading)] = " ".join(html.unescape(text).split())
    return found


def test_summary_page_has_each_section_with_the_submitted_answers(
    browser: Make, session: Session
) -> None:
    incident_id, police_id = _incident_with_police_case(browser, session)
    anna = browser("anna")
    # Before anything is gathered, the incident report the case was started from answers.
    before = _sections(anna.text(f"/cases/{police_id}/police-summary"))
    assert "Ett hotfullt meddelande om beslutet i nämnden." in before["Vad hände"]
    _gather(browser, police_id)
    case_page = anna.text(f"/cases/{police_id}")
    assert f'href="/cases/{police_id}/police-summary"' in case_page

    response = anna.get(f"/cases/{police_id}/police-summary")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert "<h1>Underlag för polisanmälan</h1>" in page
    sections = _sections(page)
    assert list(sections) == [
        "Begäran om åtkomstskydd och sekretess",
        "Målsägande",
        "Vad hände",
        "När",
        "Var",
        "Exakta ord",
        "Gärningsperson",
        "Vittnen",
        "Bevis",
    ]
    request = sections["Begäran om åtkomstskydd och sekretess"]
    assert "Målsäganden är förtroendevald." in request
    assert "Brottet har samband med det politiska uppdraget." in request, "tied: yes"
    assert "29 kap. 2 § brottsbalken" in request
    assert "anmälan åtkomstskyddas" in request and "sekretess" in request
    person = sections["Målsägande"]
    assert "Anna Andersson" in person and "Borgarråd" in person
    assert "Särskilt arvoderad" in person or "arvoderad" in person.lower()
    assert "Framstegspartiet" in person
    assert f"{incident_id}, {police_id}" in person, "both cases the answers came from"
    # The gathered details win over the incident report; the kind comes from the report.
    assert DETAILS["description"] in sections["Vad hände"]
    assert "Ett hotfullt meddelande" not in sections["Vad hände"]
    assert "Hot" in sections["Vad hände"]
    assert "25 november 2026" in sections["När"] and "18:30" in sections["När"]
    assert DETAILS["location"] in sections["Var"]
    assert "Sociala medier" in sections["Var"], "the channel from the incident report"
    assert DETAILS["exact_words"] in sections["Exakta ord"]
    assert DETAILS["perpetrator_description"] in sections["Gärningsperson"]
    assert DETAILS["witnesses"] in sections["Vittnen"]
    assert DETAILS["evidence"] in sections["Bevis"]
    assert "Inga filer har lagts till i ärendet." in sections["Bevis"]
    assert f'href="/cases/{police_id}/police-summary.pdf"' in page
    assert "print.js" in page and "<script>" not in page


def test_the_incidents_own_summary_and_the_filing_once_registered(
    browser: Make, session: Session
) -> None:
    anna = browser("anna")
    incident_id = report_incident(anna, tied_to_assignment="unsure")
    sections = _sections(anna.text(f"/cases/{incident_id}/police-summary"))
    assert "Vi vet var du bor." in sections["Exakta ord"]
    assert "Inga kända" in sections["Vittnen"]
    assert "Nej, jag vet inte vem det är" in sections["Gärningsperson"]
    assert (
        "kan ha samband med det politiska uppdraget"
        in (sections["Begäran om åtkomstskydd och sekretess"])
    )
    assert "Polisanmälan" not in sections

    complete(
        browser("sakerhet"),
        "Bedöm händelsen",
        {"severity": "high", "measures": ["police_report"]},
        incident_id,
    )
    police_id = _police_case(session, incident_id)
    _gather(browser, police_id)
    complete(
        anna,
        "Registrera polisanmälan",
        {
            "filed_on": "2026-11-27",
            "police_case_number": "5000-K123456-26",
            "police_unit": "Polisen region Stockholm, City",
            "legal_proceedings": "no",
        },
        police_id,
    )
    # From the incident, the linked police-report case's answers come in too.
    sections = _sections(anna.text(f"/cases/{incident_id}/police-summary"))
    assert DETAILS["witnesses"] in sections["Vittnen"]
    assert "5000-K123456-26" in sections["Polisanmälan"]
    assert "27 november 2026" in sections["Polisanmälan"]


def test_the_pdf_holds_the_same_text_with_swedish_letters(browser: Make, session: Session) -> None:
    _incident, police_id = _incident_with_police_case(browser, session)
    _gather(browser, police_id)
    response = browser("kansli.fp").get(f"/cases/{police_id}/police-summary.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert "no-store" in response.headers["Cache-Control"]
    assert f"underlag-polisanmalan-{police_id}.pdf" in response.headers["Content-Disposition"]
    body = response.get_data()
    assert body.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(body))
    text = "\n".join(page.extract_text() for page in reader.pages)
    flat = " ".join(text.split())
    for expected in (
        "Underlag för polisanmälan",
        "Begäran om åtkomstskydd och sekretess",
        "Målsäganden begär att anmälan åtkomstskyddas",
        "Anna Andersson",
        "Borgarråd",
        "Framstegspartiet",
        "Utanför Stadshuset, Hantverkargatan",
        "Jag vet var du bor",
        "grått skägg",
        "Karin Öberg",
        "Inga meddelanden",
        "25 november 2026",
        "Gärningsperson",
        "Vittnen",
        "Bevis",
    ):
        assert expected in flat, expected
    assert re.search(r"Sida 1 av \d", flat)


def test_pdf_without_an_embeddable_font_still_prints_swedish(
    browser: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pdf_base, "FONT_FILES", ())
    anna = browser("anna")
    case_id = report_incident(anna, exact_words="Åk hem – vi ser dig 🙂")
    body = anna.get(f"/cases/{case_id}/police-summary.pdf").get_data()
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)
    assert "Underlag för polisanmälan" in text
    assert "Åk hem – vi ser dig ?" in " ".join(text.split()), "outside Windows-1252: '?'"


@pytest.mark.parametrize(
    ("username", "status"),
    [
        ("david", 403),  # an official the case is not about
        ("kansli.gp", 403),  # another party's office
        ("tib", 403),  # sees the case through its task, but is not one of those it is for
        ("namnd", 403),
        ("designer", 403),
        ("admin", 403),
    ],
)
def test_summary_is_refused_to_others(
    browser: Make, session: Session, username: str, status: int
) -> None:
    case_id = report_incident(browser("anna"), danger_ongoing="yes")
    someone = browser(username)
    for suffix in ("", ".pdf"):
        assert someone.get(f"/cases/{case_id}/police-summary{suffix}").status_code == status
    assert session.scalar(select(AuditEvent.id).where(AuditEvent.action == "case.exported")) is None
    if username == "tib":
        page = someone.text(f"/cases/{case_id}")
        assert "police-summary" not in page, "no link for those who may not take it out"


def test_anonymous_is_sent_to_sign_in_and_a_case_without_answers_has_no_summary(
    browser: Make, person_id: Callable[[str], int]
) -> None:
    case_id = report_incident(browser("anna"))
    response = browser(None).get(f"/cases/{case_id}/police-summary.pdf")
    assert response.status_code == 302 and "/login" in response.location
    # A police-report case started on its own, before anything is gathered.
    security = browser("sakerhet")
    started = security.submit(f"/start/police_report/{person_id('Anna Andersson')}", {})
    assert started.status_code == 302, started.get_data(as_text=True)[:500]
    police_id = int(re.search(r"/cases/(\d+)", started.location).group(1))  # type: ignore[union-attr]
    assert security.get(f"/cases/{police_id}/police-summary").status_code == 404
    assert "police-summary" not in security.text(f"/cases/{police_id}")
    # A process with no police summary at all.
    assert security.get("/cases/999999/police-summary").status_code == 404


def test_every_export_is_audited_with_its_format_and_no_values(
    browser: Make, session: Session, user_by_name: Callable[[str], User]
) -> None:
    anna = browser("anna")
    case_id = report_incident(anna)
    assert anna.get(f"/cases/{case_id}/police-summary").status_code == 200
    assert browser("sakerhet").get(f"/cases/{case_id}/police-summary.pdf").status_code == 200
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.instance_id == case_id, AuditEvent.action == "case.exported")
        .order_by(AuditEvent.id)
    ).all()
    assert [(e.actor_id, e.details["format"]) for e in events] == [
        (user_by_name("anna").id, "html"),
        (user_by_name("sakerhet").id, "pdf"),
    ]
    assert events[0].details["document"] == "police_summary"
    assert events[0].details["cases"] == [case_id]
    assert "exact_words" in events[0].details["fields"]
    dumped = json.dumps([e.details for e in events], ensure_ascii=False)
    for value in answers.report().values():
        if len(str(value)) > 3:
            assert str(value) not in dumped, "never a value in the audit trail"
    history = anna.text(f"/cases/{case_id}")
    assert "Uppgifter ur ärendet exporterade" in history


def test_evidence_files_are_listed_for_those_who_may_see_them(
    browser: Make, session: Session, services: Services, user_by_name: Callable[[str], User]
) -> None:
    case_id = report_incident(browser("anna"))
    instance = session.get(ProcessInstance, case_id)
    assert instance is not None
    store = AttachmentStore(services.settings.attachments_dir)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
    add_attachment(
        session,
        store,
        user_by_name("anna"),
        instance,
        file_name="skärmdump-hot.png",
        content=png,
        visibility="case",
        description="Skärmdump av meddelandet",
    )
    add_attachment(
        session,
        store,
        user_by_name("sakerhet"),
        instance,
        file_name="säkerhetens-anteckning.txt",
        content="Endast för säkerhetsavdelningen.\n".encode(),
        visibility="security",
        description=None,
    )
    anna_evidence = _sections(browser("anna").text(f"/cases/{case_id}/police-summary"))["Bevis"]
    assert "skärmdump-hot.png" in anna_evidence
    assert "Skärmdump av meddelandet" in anna_evidence and "SHA-256" in anna_evidence
    assert "säkerhetens-anteckning" not in anna_evidence, "a file she may not see"
    security = _sections(browser("sakerhet").text(f"/cases/{case_id}/police-summary"))["Bevis"]
    assert "skärmdump-hot.png" in security and "säkerhetens-anteckning.txt" in security


@needs_chromium
def test_summary_prints_without_the_site_around_it(
    browser: Make,
    app: Flask,
    live_server: str,  # noqa: F811
    phone: Any,  # noqa: F811
) -> None:
    case_id = report_incident(browser("anna"))
    page = phone
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, live_server, "anna", app)
    page.goto(f"{live_server}/cases/{case_id}")
    page.get_by_role("link", name="Underlag för polisanmälan").click()
    assert page.url.endswith(f"/cases/{case_id}/police-summary")
    print_button = page.get_by_role("button", name="Skriv ut")
    assert print_button.is_visible(), "the print button shows when script runs"
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "police-summary-phone.png"), full_page=True)
    page.emulate_media(media="print")
    assert not page.locator(".site-header").is_visible()
    assert not page.locator(".police-summary-actions").is_visible()
    assert page.locator(".protection-request").is_visible()
    page.screenshot(path=str(ARTIFACTS / "police-summary-print.png"), full_page=True)
    assert errors == []
