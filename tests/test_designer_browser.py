"""A real browser: a process designer changes a procedure in the modeler and deploys it.

Debian's Chromium driven by Playwright (never a downloaded browser), on a
desktop screen. The designer opens a draft of the introduction, renames a user
task by double-clicking it, drags another user task into the other lane with
the mouse, gives a lane a name that is no role and sees the finding that names
the task, fixes it and sees no problems, writes a note and deploys. A case that
was started before the deploy finishes on its old version; a new case runs on
the new one, with the new name and the new lane's role. Screenshots go to
test-artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from service import clock
from service.audit.models import AuditEvent
from service.cases.models import ProcessInstance
from service.cases.service import complete_task, start_case
from service.context import Services
from service.definitions.models import ProcessDefinition, ProcessDraft
from service.people.models import Person, User
from service.tasks.models import HumanTask
from tests.browser_fixtures import (  # noqa: F401 - fixtures
    ARTIFACTS,
    DESKTOP,
    PHONE,
    chromium,
    live_server,
    needs_chromium,
    sign_in,
)
from tests.scenario_runner import form_input

pytestmark = needs_chromium

PROCESS = "introduction"
SUBJECT = "Anna Andersson"
NEW_NAME = "Läs och bekräfta riktlinjen"
OLD_NAME = "Bekräfta att du tagit del av riktlinjen"
NOTE = "Kortare uppgiftsnamn; utbildningen registreras av partikansliet (beslut KS 2026-11-27)."
FINDING_STATUS = "Diagrammet är sparat men har fel som måste rättas före driftsättning:"
VALID_STATUS = "Diagrammet är sparat. Inga fel hittades."
UNSAVED_STATUS = "Du har ändringar som inte är sparade."


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def watch(page: Any) -> list[str]:
    """Script errors and refused loads (the CSP among them) collect in the returned list."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))

    # Chromium asks for /favicon.ico on its own; the service has none.
    def console(message: Any) -> None:
        url = message.location.get("url", "")
        if message.type == "error" and not url.endswith("/favicon.ico"):
            problems.append(f"{message.text} ({url})")

    def response(answer: Any) -> None:
        if answer.status >= 400 and not answer.url.endswith("/favicon.ico"):
            problems.append(f"{answer.status} {answer.url}")

    page.on("console", console)
    page.on("response", response)
    return problems


# ---------------------------------------------------------------- the modeler, by mouse


def show_canvas(page: Any) -> None:
    """Scroll the modeler's canvas to the top of the window: the mouse works on what is seen."""
    page.locator(".modeler-canvas").evaluate("e => e.scrollIntoView({block: 'start'})")


def shape(page: Any, element_id: str) -> dict[str, float]:
    """The element's drawn outline on the screen (its visual, not its larger hit area)."""
    visual = page.locator(f'.modeler-canvas [data-element-id="{element_id}"] > .djs-visual > *')
    box = visual.first.bounding_box()
    assert box is not None, f"{element_id} is not drawn"
    return dict(box)


def centre(box: dict[str, float]) -> tuple[float, float]:
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def scale(page: Any) -> float:
    """Screen pixels per diagram unit: a user task is 100 units wide."""
    return shape(page, "give_introduction")["width"] / 100


def type_label(page: Any, x: float, y: float, text: str) -> None:
    """Double-click at (x, y) to edit the label there, replace it with ``text``, Enter to finish."""
    from playwright.sync_api import expect

    page.mouse.dblclick(x, y)
    editor = page.locator(".djs-direct-editing-parent")
    expect(editor).to_be_visible()
    page.keyboard.press("Control+A")
    page.keyboard.type(text)
    page.keyboard.press("Enter")
    expect(editor).to_be_hidden()


def rename_task(page: Any, element_id: str, text: str) -> None:
    show_canvas(page)
    type_label(page, *centre(shape(page, element_id)), text)


def rename_lane(page: Any, lane_id: str, text: str) -> None:
    """A lane's name is edited from its title band, the 30 units at its left edge."""
    show_canvas(page)
    box = shape(page, lane_id)
    type_label(page, box["x"] + 15 * scale(page), box["y"] + box["height"] / 2, text)


def drag(page: Any, element_id: str, dx: float, dy: float) -> None:
    """Press on the element, move the mouse by (dx, dy) screen pixels in steps, release."""
    show_canvas(page)
    x, y = centre(shape(page, element_id))
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx / 4, y + dy / 4, steps=5)
    page.mouse.move(x + dx, y + dy, steps=15)
    page.mouse.up()


def inside(inner: dict[str, float], outer: dict[str, float]) -> bool:
    x, y = centre(inner)
    return (
        outer["x"] <= x <= outer["x"] + outer["width"]
        and outer["y"] <= y <= outer["y"] + outer["height"]
    )


def save(page: Any, status: str) -> None:
    from playwright.sync_api import expect

    page.locator("#modeler-save").click()
    expect(page.locator("#modeler-status")).to_have_text(status)
    expect(page.locator("#modeler-save")).to_be_enabled()


# ---------------------------------------------------------------- cases, through the service


class Cases:
    """Starts and works introduction cases through the service layer, as the web does."""

    def __init__(self, services: Services, session: Session) -> None:
        self.services, self.session = services, session

    def user(self, username: str) -> User:
        found = self.session.scalar(select(User).where(User.username == username))
        assert found is not None, username
        return found

    def start(self, username: str) -> ProcessInstance:
        person = self.session.scalar(select(Person).where(Person.full_name == SUBJECT))
        assert person is not None
        result = start_case(
            self.services, self.session, self.user(username), PROCESS, person, form_input({})
        )
        self.session.commit()
        return result.instance

    def open_task(self, case_id: int, bpmn_id: str) -> HumanTask:
        self.session.expire_all()
        task = self.session.scalar(
            select(HumanTask).where(
                HumanTask.instance_id == case_id,
                HumanTask.bpmn_id == bpmn_id,
                HumanTask.status == "open",
            )
        )
        assert task is not None, f"{bpmn_id} is not open in case {case_id}"
        return task

    def complete(self, case_id: int, bpmn_id: str, username: str, data: dict[str, Any]) -> None:
        task = self.open_task(case_id, bpmn_id)
        complete_task(self.services, self.session, self.user(username), task.id, form_input(data))
        self.session.commit()

    def case(self, case_id: int) -> ProcessInstance:
        self.session.expire_all()
        found = self.session.get(ProcessInstance, case_id)
        assert found is not None
        return found


@pytest.fixture
def cases(services: Services, session: Session) -> Iterator[Cases]:
    yield Cases(services, session)


def introduction_given() -> dict[str, str]:
    day = (clock.now() - timedelta(days=2)).date().isoformat()
    return {
        "introduced_on": day,
        "guideline_handed_over": "yes",
        "routine_reporting": "yes",
        "routine_police_report": "yes",
        "routine_emergency": "yes",
    }


def training_done() -> dict[str, str]:
    return {
        "training_outcome": "completed",
        "training_completed_on": (clock.now() - timedelta(days=1)).date().isoformat(),
    }


# ---------------------------------------------------------------- the tests


def open_draft(page: Any, base: str) -> None:
    """From the process page, open a draft (the button says so), and wait for the modeler."""
    from playwright.sync_api import expect

    page.goto(f"{base}/processes/{PROCESS}")
    page.get_by_role("button", name="Öppna utkast").click()
    page.wait_for_url(re.compile(rf"/processes/{PROCESS}/draft$"))
    expect(page.locator("#modeler.modeler-ready")).to_be_visible()


def test_designer_changes_a_label_and_a_lane_and_deploys_while_an_old_case_finishes(
    app: Flask,
    live_server: str,  # noqa: F811
    chromium: Any,  # noqa: F811
    cases: Cases,
    session: Session,
) -> None:
    from playwright.sync_api import expect

    # A case started before the change, waiting at the task the designer renames.
    old_case = cases.start("sakerhet")
    old_version = old_case.definition.version
    cases.complete(old_case.id, "give_introduction", "kansli.fp", introduction_given())
    assert cases.open_task(old_case.id, "acknowledge_guideline").name == OLD_NAME

    context = chromium.new_context(**DESKTOP, locale="sv-SE")
    page = context.new_page()
    problems = watch(page)
    try:
        sign_in(page, live_server, "designer", app)
        open_draft(page, live_server)
        shot(page, "designer-01-draft")

        # A new name for a task: double-click it and type.
        rename_task(page, "acknowledge_guideline", NEW_NAME)
        expect(page.locator('[data-element-id="acknowledge_guideline"] text')).to_contain_text(
            "Läs och"
        )
        # Leaving with a change not saved asks first; staying keeps the change.
        asked: list[str] = []

        def stay(dialog: Any) -> None:
            asked.append(dialog.type)
            dialog.dismiss()

        page.once("dialog", stay)
        page.get_by_role("link", name="Processer").first.click()
        assert asked == ["beforeunload"]
        expect(page.locator("#modeler-status")).to_have_text(UNSAVED_STATUS)
        assert page.url.endswith("/draft")

        # The training moves from the official's lane into the party office's lane.
        office, official = shape(page, "Lane_party_office"), shape(page, "Lane_official")
        assert inside(shape(page, "security_training"), official)
        drag(page, "security_training", 0, office["y"] - official["y"])
        assert inside(shape(page, "security_training"), shape(page, "Lane_party_office"))

        # A lane named after no role: saved, but both its user tasks are findings.
        rename_lane(page, "Lane_party_office", "kansliet")
        save(page, FINDING_STATUS)
        # The page's own check before deployment says the same.
        expect(page.locator("#draft-check #findings")).to_contain_text("security_training")
        findings = page.locator("#modeler-findings li")
        expect(findings.filter(has_text="give_introduction")).to_contain_text("kansliet")
        expect(findings.filter(has_text="security_training")).to_contain_text("kansliet")
        expect(page.locator('.modeler-canvas [data-element-id="security_training"]')).to_have_class(
            re.compile(r"\bhas-finding\b")
        )
        # A finding's element id selects the element in the modeler.
        page.locator('#modeler-findings button[data-element-id="give_introduction"]').click()
        expect(page.locator('.modeler-canvas [data-element-id="give_introduction"]')).to_have_class(
            re.compile(r"\bselected\b")
        )
        shot(page, "designer-02-finding")

        # Fixed: the lane is the party office again, nothing is left to fix.
        rename_lane(page, "Lane_party_office", "party_office")
        save(page, VALID_STATUS)
        expect(findings).to_have_count(0)
        expect(page.locator(".modeler-canvas .has-finding")).to_have_count(0)
        expect(page.locator("#draft-check #no-findings")).to_be_visible()
        shot(page, "designer-03-valid")

        # Deploy with a note; the page reloads first, with nothing unsaved.
        page.reload()
        expect(page.locator("#no-findings")).to_be_visible()
        expect(page.locator("#modeler.modeler-ready")).to_be_visible()
        expect(page.locator('[data-element-id="acknowledge_guideline"] text')).to_contain_text(
            "Läs och"
        )
        page.locator("#deploy-note").fill(NOTE)
        page.locator("#deploy").click()
        page.wait_for_url(re.compile(rf"/processes/{PROCESS}$"))
        row = page.locator(f'tr[data-version="{old_version + 1}"]')
        expect(row).to_be_visible()
        expect(row).to_contain_text(NOTE)
        shot(page, "designer-04-deployed")
        assert not problems, problems
    finally:
        context.close()

    session.expire_all()
    new = session.scalar(
        select(ProcessDefinition).where(
            ProcessDefinition.process_id == PROCESS, ProcessDefinition.version == old_version + 1
        )
    )
    assert new is not None and new.note == NOTE and new.author == "designer"
    deployed = session.scalars(select(AuditEvent).where(AuditEvent.action == "process.deployed"))
    assert any(e.details.get("note") == NOTE for e in deployed)

    # The old case finishes on its own version, with the old name and lanes.
    task = cases.open_task(old_case.id, "acknowledge_guideline")
    assert task.name == OLD_NAME
    cases.complete(old_case.id, "acknowledge_guideline", "anna", {"guideline_acknowledged": "yes"})
    assert cases.open_task(old_case.id, "security_training").role == "official"
    cases.complete(old_case.id, "security_training", "anna", training_done())
    finished = cases.case(old_case.id)
    assert finished.status == "completed"
    assert finished.definition.version == old_version

    # A new case starts on the new version: the new name, the training in the new lane.
    new_case = cases.start("sakerhet")
    assert new_case.definition.version == old_version + 1
    cases.complete(new_case.id, "give_introduction", "kansli.fp", introduction_given())
    assert cases.open_task(new_case.id, "acknowledge_guideline").name == NEW_NAME
    cases.complete(new_case.id, "acknowledge_guideline", "anna", {"guideline_acknowledged": "yes"})
    assert cases.open_task(new_case.id, "security_training").role == "party_office"
    cases.complete(new_case.id, "security_training", "kansli.fp", training_done())
    done = cases.case(new_case.id)
    assert done.status == "completed" and done.definition.version == old_version + 1


def test_the_form_editor_shows_a_finding_while_the_designer_types(
    app: Flask,
    live_server: str,  # noqa: F811
    chromium: Any,  # noqa: F811
) -> None:
    from playwright.sync_api import expect

    context = chromium.new_context(**DESKTOP, locale="sv-SE")
    page = context.new_page()
    try:
        sign_in(page, live_server, "designer", app)
        open_draft(page, live_server)
        source = page.locator("details#form-introduction_given")
        source.locator("summary").click()
        text = source.locator("textarea.form-json-text")
        findings = source.locator("ul.json-findings li")
        original = text.input_value()

        # A comma missing: the finding shows without saving, the box is marked invalid.
        text.fill(original.replace(",", "", 1))
        expect(findings.first).to_be_visible()
        expect(findings.first).not_to_have_text("Inga fel hittades.")
        expect(text).to_have_attribute("aria-invalid", "true")
        shot(page, "designer-05-form-json")

        # Put back: no problems.
        text.fill(original)
        expect(findings).to_have_text(["Inga fel hittades."])
        expect(text).to_have_attribute("aria-invalid", "false")
    finally:
        context.close()


@pytest.mark.parametrize("screen", ["phone", "desktop"])
def test_the_modeler_page_meets_wcag_and_fits_the_screen(
    app: Flask,
    live_server: str,  # noqa: F811
    chromium: Any,  # noqa: F811
    screen: str,
) -> None:
    """The accessibility sweep may look before the modeler is drawn: here it is drawn."""
    from playwright.sync_api import expect

    from tests.test_accessibility import AXE, Findings, audit

    context = chromium.new_context(
        **(PHONE if screen == "phone" else DESKTOP), locale="sv-SE", bypass_csp=True
    )
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    try:
        sign_in(page, live_server, "designer", app)
        open_draft(page, live_server)
        found = Findings()
        audit(page, f"{screen} draft with the modeler", found)
        shot(page, f"designer-06-draft-{screen}")
        page.locator("#modeler").screenshot(
            path=str(ARTIFACTS / f"designer-07-modeler-{screen}.png")
        )
        assert not found.problems, found.problems
        # The save's answer is drawn accessibly too.
        page.locator("#modeler-save").click()
        expect(page.locator("#modeler-status")).to_have_text(VALID_STATUS)
        audit(page, f"{screen} draft after saving", found)
        assert not found.problems, found.problems
    finally:
        context.close()


def test_a_stale_modeler_page_is_refused_and_nothing_is_overwritten(
    app: Flask,
    live_server: str,  # noqa: F811
    chromium: Any,  # noqa: F811
    session: Session,
) -> None:
    """Two tabs on the same draft: the second save, on the older lock version, is refused."""
    from playwright.sync_api import expect

    context = chromium.new_context(**DESKTOP, locale="sv-SE")
    first = context.new_page()
    try:
        sign_in(first, live_server, "designer", app)
        open_draft(first, live_server)
        second = context.new_page()
        second.goto(f"{live_server}/processes/{PROCESS}/draft")
        expect(second.locator("#modeler.modeler-ready")).to_be_visible()

        rename_task(first, "give_introduction", "Introduktion i riktlinjen")
        save(first, VALID_STATUS)
        rename_task(second, "give_introduction", "Introduktion från den andra fliken")
        second.locator("#modeler-save").click()
        expect(second.locator("#modeler-status")).to_have_text(re.compile(r"^Kunde inte spara: \S"))
        expect(second.locator("#modeler-status")).to_have_class(re.compile(r"\bnotice-error\b"))
    finally:
        context.close()
    session.expire_all()
    draft = session.scalar(select(ProcessDraft).where(ProcessDraft.process_id == PROCESS))
    assert draft is not None
    assert "Introduktion i riktlinjen" in draft.bpmn_xml
    assert "den andra fliken" not in draft.bpmn_xml
