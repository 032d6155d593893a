"""Validation findings reach designers in their language; the English message stays for logs."""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask_babel import force_locale
from sqlalchemy.orm import Session

from service.config import PROJECT_ROOT
from service.context import Services
from service.definitions import drafts
from service.definitions.catalog import read_forms, validate_definition
from service.definitions.scenarios import PathRunner, ScenarioFailure
from service.definitions.validation_rules import DefinitionFindings, Finding
from service.engine import DefinitionError
from service.engine.xmlsafety import parse_xml_safely
from service.errors import N_
from service.people.models import User
from service.web.finding_text import localize_finding
from tests.probe import PROBE_FORM, PROBE_META, probe_xml
from tests.web_client import Browser

INTRODUCTION = (PROJECT_ROOT / "processes" / "introduction.bpmn").read_text(encoding="utf-8")
# give_introduction moved from the party office's lane into one that is no role.
BAD_LANE = INTRODUCTION.replace('name="party_office"', 'name="nobody_at_all"')
BAD_FORM = {
    "id": "probe_form",
    "title": "Prov",
    "schema": {"type": "object", "properties": {"count": {"type": "integer"}}},
    "ui": {"fields": {"count": {"label": "Antal", "widget": "yesno"}}},
}


@pytest.fixture
def in_request(app: Flask) -> Iterator[Callable[[str], Any]]:
    """A request context; call the result with "sv" or "en" to choose the locale."""
    with app.test_request_context():
        yield force_locale


def _both(in_request: Callable[[str], Any], finding: Any) -> tuple[str, str]:
    with in_request("sv"):
        swedish = localize_finding(finding)
    with in_request("en"):
        english = localize_finding(finding)
    return swedish, english


def _lane_finding() -> Finding:
    with pytest.raises(DefinitionFindings) as refused:
        validate_definition(
            "introduction", BAD_LANE, _meta("introduction"), read_forms(PROJECT_ROOT / "forms")
        )
    (lane,) = [f for f in refused.value.findings if "lane" in f.message]
    return lane


def _meta(process_id: str) -> dict[str, Any]:
    path = PROJECT_ROOT / "processes" / f"{process_id}.json"
    meta: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return meta


def test_a_lane_finding_in_swedish_and_english(in_request: Callable[[str], Any]) -> None:
    lane = _lane_finding()
    assert lane.element_id == "give_introduction"
    assert lane.template is not None and lane.params["lane"] == "nobody_at_all"
    swedish, english = _both(in_request, lane)
    assert swedish.startswith("Användaruppgiften ligger i simbanan 'nobody_at_all'"), swedish
    assert english == lane.message
    assert english.startswith("The user task lies in lane 'nobody_at_all'")


def test_a_form_finding_in_swedish_and_english(in_request: Callable[[str], Any]) -> None:
    (finding,) = drafts.check_form_text("probe_form", json.dumps(BAD_FORM))
    assert finding.element_id == "probe_form"
    swedish, english = _both(in_request, finding)
    assert swedish == (
        "Formuläret 'probe_form', fältet 'count': kontrollen (widget) 'yesno' passar inte "
        "typen 'integer'"
    )
    assert (
        english
        == finding.message
        == ("Form 'probe_form', field 'count': widget 'yesno' does not fit type 'integer'")
    )


def test_a_form_finding_inside_validate_definition_keeps_its_template(
    in_request: Callable[[str], Any],
) -> None:
    with pytest.raises(DefinitionFindings) as refused:
        validate_definition("engine_probe", probe_xml(), PROBE_META, {"probe_form": BAD_FORM})
    (finding,) = [f for f in refused.value.findings if "probe_form" in f.message]
    swedish, _english = _both(in_request, finding)
    assert swedish.startswith("Formuläret 'probe_form', fältet 'count'"), swedish


def test_a_condition_finding_in_swedish_and_english(in_request: Callable[[str], Any]) -> None:
    with pytest.raises(DefinitionFindings) as refused:
        validate_definition(
            "engine_probe",
            probe_xml(condition="chioce == 'timer'"),
            PROBE_META,
            {"probe_form": PROBE_FORM},
        )
    (finding,) = refused.value.findings
    swedish, english = _both(in_request, finding)
    assert swedish.startswith(
        "Villkoret 'chioce == 'timer'' läser 'chioce', men inget av processens formulär"
    ), swedish
    assert english == finding.message and "no form of the process" in english


def test_a_scenario_failure_in_swedish_and_english(
    in_request: Callable[[str], Any], services: Services, session: Session
) -> None:
    shipped = json.loads(
        (PROJECT_ROOT / "processes" / "incident.scenarios.json").read_text(encoding="utf-8")
    )["paths"][0]
    path = {**shipped, "steps": [{"task": "no_such_task", "as": "anna"}]}
    result = PathRunner(services, session).result("incident", 0, path)
    assert not result.passed and result.failure_finding is not None
    swedish, english = _both(in_request, result.failure_finding)
    assert english == result.failure
    assert english.startswith("Step 1 (no_such_task as anna): the task 'no_such_task' is not")
    assert swedish.startswith(
        "Steg 1 (no_such_task som anna): uppgiften 'no_such_task' är inte öppen. Öppna uppgifter:"
    ), swedish
    assert "Kontrollera villkoren i gatewayerna" in swedish


def test_nested_scenario_findings_and_errors_are_translated_part_by_part(
    in_request: Callable[[str], Any],
    services: Services,
    session: Session,
    user_by_name: Callable[[str], User],
) -> None:
    draft = drafts.open_draft(session, user_by_name("designer"), "incident")
    draft.scenarios = [{"name": "Utan start", "steps": [{"task": "nope", "as": "anna"}]}]
    results = drafts.run_draft_scenarios(services, session, user_by_name("designer"), draft)
    swedish, english = _both(in_request, results[0].failure_finding)
    assert english == results[0].failure and "fix them first" in english
    assert swedish.startswith("Scenarierna har problem; rätta dem först: "), swedish
    assert "Väg 1 (Utan start) behöver en 'starter'" in swedish
    assert "Väg 1 (Utan start), steg 1: 'nope' är ingen användaruppgift" in swedish
    # An error from the engine's own XML check keeps the template it was made with.
    with pytest.raises(DefinitionError) as refused:
        parse_xml_safely('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "x">]><x/>')
    swedish, english = _both(in_request, refused.value)
    assert swedish.startswith("BPMN-filen innehåller en DOCTYPE- eller entitetsdeklaration")
    assert english == refused.value.message
    failure = ScenarioFailure(N_("There is no demo user '%(user)s'."), user="nobody")
    assert _both(in_request, failure.finding) == (
        "Det finns ingen demoanvändare 'nobody'.",
        "There is no demo user 'nobody'.",
    )


def test_findings_without_a_template_are_shown_as_they_are(
    in_request: Callable[[str], Any],
) -> None:
    assert _both(in_request, Finding("x", "Redan översatt.")) == (
        "Redan översatt.",
        "Redan översatt.",
    )
    assert _both(in_request, None) == ("", "")
    assert _both(in_request, "Text") == ("Text", "Text")


def test_the_draft_page_and_the_modeler_json_show_swedish_findings(
    browser: Callable[[str | None], Browser],
    session: Session,
    user_by_name: Callable[[str], User],
) -> None:
    designer_user = user_by_name("designer")
    draft = drafts.open_draft(session, designer_user, "introduction")
    findings = drafts.save_bpmn(session, designer_user, draft, BAD_LANE, None)
    session.commit()
    assert any("not a role id" in f.message for f in findings)
    designer = browser("designer")
    page = html.unescape(designer.text("/processes/introduction/draft"))
    assert "Användaruppgiften ligger i simbanan 'nobody_at_all'" in page
    assert "The user task lies in lane" not in page
    # The modeler's JSON save answers in the same language.
    form_page = designer.get("/processes/introduction/draft").get_data(as_text=True)
    token = designer.csrf_token("/processes/introduction/draft")
    lock = int(form_page.split('data-lock-version="', 1)[1].split('"', 1)[0])
    response = designer.client.post(
        "/processes/introduction/draft/bpmn",
        json={"xml": BAD_LANE, "lock_version": lock},
        headers={"X-CSRFToken": token, "Accept": "application/json"},
    )
    body = response.get_json()
    assert isinstance(body, dict), response.get_data(as_text=True)[:300]
    messages = [f["message"] for f in body["findings"]]
    assert any(m.startswith("Användaruppgiften ligger i simbanan") for m in messages), messages
    # English on request, from the same findings.
    draft_url = "/processes/introduction/draft"
    designer.client.post(
        "/language",
        data={"lang": "en", "next": draft_url, "csrf_token": designer.csrf_token(draft_url)},
    )
    page = html.unescape(designer.text("/processes/introduction/draft"))
    assert "The user task lies in lane 'nobody_at_all'" in page
