"""The process map: BPMN served by policy, the case's steps from its engine state, drawn in a browser."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.models import AuditEvent
from service.cases.models import ProcessInstance
from service.context import Services
from service.definitions.catalog import latest_definition
from service.people.models import User
from service.web import diagram_views
from tests import incident_data as answers
from tests.browser_fixtures import (  # noqa: F401 - fixtures
    ARTIFACTS,
    DESKTOP,
    chromium,
    live_server,
    needs_chromium,
    phone,
    sign_in,
)
from tests.test_incident_routine import complete, report_incident
from tests.web_client import Browser

Make = Callable[[str | None], Browser]
VIEWER_ASSET = diagram_views.VIEWER_SCRIPT


def _attribute(page: str, name: str) -> list[str]:
    match = re.search(rf'{name}="([^"]*)"', page)
    assert match, f"no {name} on the page"
    return match.group(1).split()


def _step_list(page: str) -> dict[str, str]:
    """The text list of steps: "Pågår nu:" and "Klart:" with what follows each."""
    found = dict(re.findall(r"<dt>([^<]+):</dt><dd>([^<]*)</dd>", page))
    return {k: v for k, v in found.items() if k in ("Pågår nu", "Klart")}


def test_case_diagram_is_the_cases_own_version_served_as_xml_and_audited(
    browser: Make, session: Session, user_by_name: Callable[[str], User]
) -> None:
    anna = browser("anna")
    case_id = report_incident(anna)
    response = anna.get(f"/cases/{case_id}/diagram.bpmn")
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]
    instance = session.get(ProcessInstance, case_id)
    assert instance is not None
    assert response.get_data(as_text=True) == instance.definition.bpmn_xml
    assert '<bpmn:process id="incident"' in response.get_data(as_text=True)
    reads = session.scalars(
        select(AuditEvent).where(
            AuditEvent.instance_id == case_id, AuditEvent.action == "case.diagram_viewed"
        )
    ).all()
    assert [event.actor_id for event in reads] == [user_by_name("anna").id]


@pytest.mark.parametrize(
    ("username", "status"),
    [("david", 403), ("kansli.gp", 403), ("designer", 403), ("admin", 403), ("namnd", 403)],
)
def test_case_diagram_is_refused_to_those_who_may_not_see_the_case(
    browser: Make, username: str, status: int
) -> None:
    case_id = report_incident(browser("anna"))
    assert browser(username).get(f"/cases/{case_id}/diagram.bpmn").status_code == status
    anonymous = browser(None).get(f"/cases/{case_id}/diagram.bpmn")
    assert anonymous.status_code == 302 and "/login" in anonymous.location
    assert browser("anna").get("/cases/999999/diagram.bpmn").status_code == 404


def test_designer_gets_each_process_diagram_and_nobody_else_does(
    browser: Make, session: Session
) -> None:
    designer = browser("designer")
    response = designer.get("/processes/police_report/versions/1/diagram.bpmn")
    assert response.status_code == 200 and response.mimetype == "application/xml"
    definition = latest_definition(session, "police_report")
    assert definition is not None
    assert response.get_data(as_text=True) == definition.bpmn_xml
    assert designer.get("/processes/no_such_process/versions/1/diagram.bpmn").status_code == 404
    for username in ("anna", "sakerhet", "admin"):
        client = browser(username)
        assert client.get("/processes/incident/versions/1/diagram.bpmn").status_code == 403
    page = designer.text("/processes/incident/versions/1")
    assert 'data-bpmn-url="/processes/incident/versions/1/diagram.bpmn"' in page
    assert "diagram.js" in page


def test_steps_follow_the_case_as_a_task_is_completed(
    browser: Make, session: Session, services: Services
) -> None:
    anna = browser("anna")
    case_id = report_incident(anna)
    page = anna.text(f"/cases/{case_id}")
    assert _attribute(page, "data-current") == ["party_support", "security_assessment"]
    finished = _attribute(page, "data-finished")
    assert finished[0] == "report_received", "in the order they were done"
    assert {"classify_report", "route_by_category", "split_security", "danger_check"} <= set(
        finished
    )
    # Boundary timers wait with their task, and a gateway waiting for branches is no step.
    assert "security_assessment_deadline" not in page.split('data-current="')[1].split('"')[0]
    steps = _step_list(page)
    assert steps["Pågår nu"] == "Stöd till den drabbade, Bedöm händelsen"
    assert steps["Klart"].startswith("Händelse rapporterad, Klassificera rapporten")
    assert "Vem ansvarar?" not in steps["Klart"], "gateways are not listed as steps"

    complete(browser("kansli.fp"), "Stöd till den drabbade", answers.PARTY_SUPPORT, case_id)
    page = anna.text(f"/cases/{case_id}")
    assert _attribute(page, "data-current") == ["security_assessment"]
    assert _attribute(page, "data-finished")[-1] == "party_support", "the newest done last"
    assert _step_list(page)["Pågår nu"] == "Bedöm händelsen"

    security = browser("sakerhet")
    complete(security, "Bedöm händelsen", {"severity": "low"}, case_id)
    complete(security, "Följ upp och avsluta", answers.CLOSE, case_id)
    session.expire_all()
    instance = session.get(ProcessInstance, case_id)
    assert instance is not None and instance.status == "completed"
    states = services.load_case(instance).step_states()
    assert states.current == ()
    done = [step.bpmn_id for step in states.finished]
    assert {"security_assessment", "follow_up_close", "incident_closed"} <= set(done)
    assert len(done) == len(set(done)), "each element once"
    page = anna.text(f"/cases/{case_id}")
    assert _step_list(page)["Pågår nu"] == "Inget – ärendet är avslutat."
    assert "Ärendet avslutat" in _step_list(page)["Klart"]


def test_the_page_keeps_its_list_of_steps_without_the_viewer(
    browser: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    anna = browser("anna")
    case_id = report_incident(anna)
    with_viewer = anna.text(f"/cases/{case_id}")
    assert "vendor/bpmn-js/bpmn-viewer.production.min.js" in with_viewer
    assert 'class="diagram" hidden' in with_viewer, "drawn only when the script succeeds"
    monkeypatch.setattr(diagram_views, "VIEWER_SCRIPT", "vendor/bpmn-js/missing.js")
    page = anna.text(f"/cases/{case_id}")
    assert "bpmn-viewer" not in page and "diagram.js" not in page
    assert _step_list(page)["Pågår nu"] == "Stöd till den drabbade, Bedöm händelsen"


def _needs_viewer() -> None:
    if not (Path(diagram_views.__file__).parent.parent / "static" / VIEWER_ASSET).is_file():
        pytest.fail("the bpmn-js viewer is missing: run `make assets`")


def _console_problems(page: Any) -> list[str]:
    problems: list[str] = []

    def console(message: Any) -> None:
        # Chromium asks for /favicon.ico on its own (the site has none); that is not the page.
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            problems.append(f"{message.text} ({message.location.get('url')})")

    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "response",
        lambda response: (
            problems.append(f"{response.status} {response.url}") if response.status >= 400 else None
        ),
    )
    return problems


def _csp_violations(page: Any) -> list[str]:
    found: list[str] = page.evaluate("window.__cspViolations || []")
    return found


CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


@needs_chromium
def test_viewer_draws_the_case_with_its_markers_on_a_phone(
    browser: Make,
    app: Flask,
    live_server: str,  # noqa: F811
    phone: Any,  # noqa: F811
) -> None:
    from playwright.sync_api import expect

    _needs_viewer()
    case_id = report_incident(browser("anna"), danger_ongoing="yes")
    page = phone
    page.add_init_script(CSP_LISTENER)
    problems = _console_problems(page)
    sign_in(page, live_server, "anna", app)
    page.goto(f"{live_server}/cases/{case_id}")
    box = page.locator(".diagram.diagram-ready")
    expect(box).to_be_visible()
    assert page.locator(".diagram svg").count() >= 1
    current = page.locator(".diagram .djs-element.step-current")
    assert current.count() == 3, "party support, assessment and the TiB's alert"
    assert page.locator(".diagram .djs-element.step-done").count() >= 4
    badges = page.locator(".diagram .step-badge-current")
    assert badges.count() == 3
    expect(badges.first).to_have_text("Pågår nu")
    # The outline is thick, not just another colour.
    width = current.first.locator(".djs-visual > :first-child").evaluate(
        "e => getComputedStyle(e).strokeWidth"
    )
    assert width == "6px", width

    scroller = page.locator(".diagram-scroll")
    fitted = scroller.evaluate("e => [e.scrollWidth, e.clientWidth]")
    assert fitted[0] <= fitted[1] + 1, "the whole diagram fits the phone at first"
    page.locator(".case-diagram").screenshot(path=str(_artifact("diagram-phone-fit")))
    page.get_by_role("button", name="Zooma in").click()
    page.get_by_role("button", name="Zooma in").click()
    zoomed = scroller.evaluate("e => [e.scrollWidth, e.clientWidth, e.scrollLeft]")
    assert zoomed[0] > zoomed[1] * 2, "zoomed in, the diagram scrolls inside its box"
    badge_box = badges.first.bounding_box()
    scroll_box = scroller.bounding_box()
    assert badge_box is not None and scroll_box is not None
    assert scroll_box["x"] <= badge_box["x"] <= scroll_box["x"] + scroll_box["width"], (
        "zooming in keeps a step in progress in view"
    )
    page.locator(".case-diagram").screenshot(path=str(_artifact("diagram-phone-zoomed")))
    document_width = page.evaluate("document.scrollingElement.scrollWidth")
    assert document_width <= 390, f"the page itself never scrolls sideways ({document_width}px)"
    page.get_by_role("button", name="Visa hela").click()
    assert scroller.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
    assert _csp_violations(page) == []
    assert problems == []


@needs_chromium
def test_designer_opens_a_process_diagram(
    app: Flask,
    live_server: str,  # noqa: F811
    chromium: Any,  # noqa: F811
) -> None:
    from playwright.sync_api import expect

    _needs_viewer()
    context = chromium.new_context(**DESKTOP, locale="sv-SE")
    page = context.new_page()
    page.add_init_script(CSP_LISTENER)
    problems = _console_problems(page)
    sign_in(page, live_server, "designer", app)
    page.goto(f"{live_server}/processes")
    page.locator("a", has_text="Stöd vid polisanmälan").click()
    page.locator("a", has_text="Version 1").first.click()
    drawn = page.locator(".diagram.diagram-ready")
    expect(drawn).to_have_count(1)
    assert drawn.locator(".djs-element[data-element-id='record_filing']").count() == 1
    assert drawn.locator(".step-current, .step-done").count() == 0, "no case, no markers"
    page.screenshot(path=str(_artifact("diagram-designer")), full_page=False)
    assert _csp_violations(page) == []
    assert problems == []
    context.close()


def _artifact(name: str) -> Any:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / f"{name}.png"


def test_the_image_carries_the_viewer_the_pages_load() -> None:
    """The Dockerfile's node stage copies what `make assets` copies, and the app image takes it."""
    root = Path(__file__).resolve().parent.parent
    dockerfile = (root / "Dockerfile").read_text()
    makefile = (root / "Makefile").read_text()
    assert re.search(r"^FROM node:\S+ AS assets$", dockerfile, re.MULTILINE)
    assert "npm ci" in dockerfile and "COPY package.json package-lock.json" in dockerfile
    copied = set(re.findall(r"node_modules/bpmn-js/dist/[\w./-]+", makefile))
    assert "node_modules/bpmn-js/dist/bpmn-viewer.production.min.js" in copied
    for source in copied:
        assert source in dockerfile, f"the image lacks {source}"
    assert "COPY --from=assets /build/vendor ./service/static/vendor" in dockerfile
    assert dockerfile.index("COPY --from=assets") < dockerfile.index("RUN pip install ."), (
        "the vendor files are in place before the package (and its static files) is installed"
    )
    assert VIEWER_ASSET in {f"vendor/bpmn-js/{Path(s).name}" for s in copied}
