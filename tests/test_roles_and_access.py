"""Every role's view, and a forbidden access for each role (deny by default)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests import incident_data as answers
from tests.test_incident_routine import complete, report_incident
from tests.web_client import Browser

Make = Callable[[str | None], Browser]


def test_anonymous_is_sent_to_login_everywhere(browser: Make) -> None:
    anonymous = browser(None)
    for url in ("/", "/inbox", "/cases", "/cases/1", "/tasks/1", "/report", "/processes"):
        response = anonymous.get(url)
        assert response.status_code == 302 and response.location.startswith("/login"), url


def test_official_home_leads_with_report_button_and_112(browser: Make) -> None:
    page = browser("anna").text("/")
    assert page.index('href="/report"') < page.index("112"), "the report button comes first"
    assert 'class="button button-report"' in page
    assert "danger-box" in page


@pytest.mark.parametrize(
    ("username", "landing"),
    [
        ("kansli.fp", "/inbox"),
        ("sakerhet", "/inbox"),
        ("sakerhetschef", "/inbox"),
        ("tib", "/inbox"),
        ("namnd", "/inbox"),
        ("designer", "/processes"),
        ("admin", "/administration"),
    ],
)
def test_each_role_lands_on_its_own_page(browser: Make, username: str, landing: str) -> None:
    client = browser(username)
    response = client.get("/")
    assert response.status_code == 302 and response.location == landing
    assert client.get(landing).status_code == 200


def test_designer_sees_process_versions_not_cases(browser: Make) -> None:
    designer = browser("designer")
    page = designer.text("/processes")
    assert "<code>incident</code>" in page
    for url in ("/inbox", "/cases", "/report", "/cases/1"):
        assert designer.get(url).status_code in (403, 404), url


def test_admin_sees_users_not_cases(browser: Make) -> None:
    admin = browser("admin")
    assert "kansli.fp" in admin.text("/administration")
    for url in ("/inbox", "/cases", "/report", "/processes"):
        assert admin.get(url).status_code == 403, url


@pytest.fixture
def full_time_case(browser: Make) -> int:
    """Anna's (FP, full-time) case, with open tasks for party office and security."""
    return report_incident(browser("anna"), danger_ongoing="yes")


def _task_id(client: Browser, name: str) -> int:
    return client.inbox_tasks()[name]


def test_official_cannot_see_another_officials_case_or_tasks(
    browser: Make, full_time_case: int
) -> None:
    david = browser("david")
    assert david.get(f"/cases/{full_time_case}").status_code == 403
    assert f"/cases/{full_time_case}" not in david.text("/cases")
    security_task = _task_id(browser("sakerhet"), "Bedöm händelsen")
    anna = browser("anna")
    assert anna.get(f"/tasks/{security_task}").status_code == 403, "own case, but not her task"
    assert (
        anna.submit(f"/tasks/{security_task}", answers.ASSESSMENT, form_page="/").status_code == 403
    )
    assert anna.get(f"/cases/{full_time_case}").status_code == 200


def test_official_cannot_report_for_someone_else(
    browser: Make, person_id: Callable[[str], int]
) -> None:
    anna = browser("anna")
    david = person_id("David Dahl")
    assert anna.get(f"/start/incident/{david}").status_code == 403
    response = anna.submit(f"/start/incident/{david}", answers.report(), form_page="/")
    assert response.status_code == 403


def test_party_office_sees_only_its_own_partys_people(
    browser: Make, full_time_case: int, person_id: Callable[[str], int]
) -> None:
    other_party = browser("kansli.gp")
    assert other_party.get(f"/cases/{full_time_case}").status_code == 403
    assert other_party.inbox_tasks() == {}
    own_party_task = _task_id(browser("kansli.fp"), "Stöd till den drabbade")
    assert other_party.get(f"/tasks/{own_party_task}").status_code == 403
    assert other_party.get(f"/start/incident/{person_id('Anna Andersson')}").status_code == 403
    assert browser("kansli.fp").get(f"/cases/{full_time_case}").status_code == 200


def test_committee_sees_only_cases_it_was_given(browser: Make, full_time_case: int) -> None:
    committee = browser("namnd")
    assert committee.get(f"/cases/{full_time_case}").status_code == 403
    assert committee.get("/report").status_code == 403, "committees do not start incidents"
    security_task = _task_id(browser("sakerhet"), "Bedöm händelsen")
    assert committee.get(f"/tasks/{security_task}").status_code == 403


def test_tib_sees_cases_with_a_tib_task_only(browser: Make, full_time_case: int) -> None:
    tib = browser("tib")
    assert tib.get(f"/cases/{full_time_case}").status_code == 200, "danger ongoing ⇒ TiB task"
    quiet_case = report_incident(browser("david"))
    assert tib.get(f"/cases/{quiet_case}").status_code == 403
    security_task = _task_id(browser("sakerhet"), "Bedöm händelsen")
    assert tib.get(f"/tasks/{security_task}").status_code == 403


def test_security_sees_every_case_but_not_designer_or_admin_pages(
    browser: Make, full_time_case: int
) -> None:
    security = browser("sakerhet")
    assert security.get(f"/cases/{full_time_case}").status_code == 200
    assert security.get("/processes").status_code == 403
    assert security.get("/administration").status_code == 403
    tib_task = _task_id(browser("tib"), "Pågående fara – agera nu")
    assert security.get(f"/tasks/{tib_task}").status_code == 403, "not the security role's lane"


def test_security_lead_can_work_security_tasks(browser: Make, full_time_case: int) -> None:
    lead = browser("sakerhetschef")
    complete(lead, "Bedöm händelsen", answers.ASSESSMENT, full_time_case)


def test_unknown_case_and_task_are_404(browser: Make) -> None:
    security = browser("sakerhet")
    assert security.get("/cases/99999").status_code == 404
    assert security.get("/tasks/99999").status_code == 404


def test_case_views_are_audited(browser: Make, full_time_case: int, session: object) -> None:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from service.audit.models import AuditEvent

    assert isinstance(session, Session)
    browser("sakerhet").get(f"/cases/{full_time_case}")
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.instance_id == full_time_case)
    ).all()
    assert "case.started" in actions and "case.viewed" in actions


def test_security_only_answers_stay_off_the_party_offices_case_page(
    browser: Make, full_time_case: int
) -> None:
    security = browser("sakerhet")
    assessment = {**answers.ASSESSMENT, "assessment_notes": "Känd person i hotbilden."}
    complete(security, "Bedöm händelsen", assessment, full_time_case)
    assert "Känd person i hotbilden." in security.text(f"/cases/{full_time_case}")
    party_page = browser("kansli.fp").text(f"/cases/{full_time_case}")
    assert "Bedöm händelsen" in party_page, "the step itself is shown"
    assert "Känd person i hotbilden." not in party_page
    assert "Känd person i hotbilden." not in browser("anna").text(f"/cases/{full_time_case}")


def test_start_page_lists_only_what_each_user_may_start(browser: Make) -> None:
    committee = browser("namnd").text("/start")
    assert "committee_risk_analysis" in committee and "/start/incident" not in committee
    anna = browser("anna").text("/start")
    assert "/start/incident" in anna and "/start/protective_measure" not in anna
    assert "/start/committee_risk_analysis" not in anna
    security = browser("sakerhet").text("/start")
    assert "/start/protective_measure" in security and "/start/introduction" in security
    assert browser("designer").get("/start").status_code == 403
