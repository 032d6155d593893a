"""A real browser on a phone-sized screen: an official reports a threat at night, and is helped.

Debian's Chromium driven by Playwright (never a downloaded browser). The
official reports on a 390×844 phone; the party office and the security
department, each signed in on a phone of their own, open their tasks from the
inbox and complete them on the task pages; the case page then shows where the
case is now. A screenshot of each step goes to test-artifacts/ (kept by CI).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from service.config import PROJECT_ROOT
from tests import incident_data as answers
from tests.browser_fixtures import (  # noqa: F401 - fixtures
    ARTIFACTS,
    PHONE,
    VIEWPORT_WIDTHS,
    chromium,
    live_server,
    needs_chromium,
    phone,
    sign_in,
)

pytestmark = needs_chromium

STATIC = PROJECT_ROOT / "service" / "static"


def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def no_sideways_scrolling(page: Any) -> None:
    width, inner = page.evaluate(VIEWPORT_WIDTHS)
    assert width <= inner, f"no sideways scrolling on a phone ({page.url} is {width}px wide)"


def fill(page: Any, data: dict[str, Any]) -> None:
    """Answer a form as a person would: click the choices, type the text (in the form's order)."""
    for name, value in data.items():
        field = page.locator(f'[name="{name}"]').first
        kind = field.get_attribute("type") or field.evaluate("e => e.tagName.toLowerCase()")
        if kind in ("radio", "checkbox"):
            for choice in value if isinstance(value, list) else [value]:
                page.locator(f'input[name="{name}"][value="{choice}"]').check()
        elif kind == "select":
            field.select_option(str(value))
        else:
            field.fill(str(value))


def complete_from_inbox(
    chromium: Any,  # noqa: F811
    app: Flask,
    base: str,
    username: str,
    task_name: str,
    data: dict[str, Any],
    screenshot: str,
) -> None:
    """Sign in on a fresh phone, open the task from the inbox, answer it and send."""
    from playwright.sync_api import expect

    context = chromium.new_context(**PHONE, locale="sv-SE")
    page = context.new_page()
    try:
        sign_in(page, base, username, app)
        page.goto(f"{base}/inbox")
        page.get_by_role("link", name=task_name).first.click()
        expect(page.get_by_role("heading", level=1, name=task_name)).to_be_visible()
        fill(page, data)
        no_sideways_scrolling(page)
        shot(page, screenshot)
        page.get_by_role("button", name="Klar – skicka").click()
        expect(page.locator(".notice")).to_contain_text("Uppgiften är klar")
    finally:
        context.close()


def test_official_reports_a_threat_on_a_phone_and_is_helped(
    app: Flask,
    live_server: str,  # noqa: F811
    phone: Any,  # noqa: F811
    chromium: Any,  # noqa: F811
) -> None:
    from playwright.sync_api import expect

    page = phone
    page.goto(f"{live_server}/")
    page.get_by_label("Användarnamn").fill("anna")
    page.get_by_label("Lösenord").fill("trygg-demo-2026")
    page.get_by_role("button", name="Logga in").click()

    report = page.get_by_role("link", name="Rapportera händelse").first
    expect(report).to_be_visible()
    box = report.bounding_box()
    assert box is not None and box["y"] < 300, "the report button is the first thing on the phone"
    expect(page.get_by_role("heading", name="Dina pågående ärenden")).to_be_visible()
    no_sideways_scrolling(page)
    shot(page, "01-official-home")
    report.click()

    # Sending nothing first: the error summary takes focus and links to the fields.
    page.get_by_role("button", name="Skicka rapporten").click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    shot(page, "02-report-errors")

    page.locator("#field-danger_ongoing").check()  # yes, in danger
    page.locator("#field-kind").check()  # hot
    page.locator("#harm_occurred-no").check()
    page.locator("#field-event_type").check()
    page.locator("#field-occurred_on").fill("2026-11-26")
    page.locator("#field-location").fill("Hemma")
    page.locator("#field-channel").check()
    page.locator("#field-description").fill("Någon ringde och hotade mig.")
    page.locator("#field-perpetrator_known").check()
    expect(page.locator("#field-perpetrator_description")).to_be_visible()  # shown when known
    page.locator("#perpetrator_known-unknown").check()
    expect(page.locator("#field-perpetrator_description")).to_be_hidden()
    page.locator("#field-tied_to_assignment").check()
    page.locator("#police_contacted-no").check()
    page.locator("#in_committee_activity-no").check()
    expect(page.locator("#field-organisation_id")).to_be_hidden()
    no_sideways_scrolling(page)
    page.get_by_role("button", name="Skicka rapporten").click()

    expect(page.get_by_role("heading", name="Vi har tagit emot din rapport")).to_be_visible()
    expect(page.get_by_role("link", name="Ring 112")).to_be_visible()
    no_sideways_scrolling(page)
    shot(page, "03-report-received")
    case_url = page.url.split("?")[0]

    # The party office and the security department, each on a phone of their own.
    complete_from_inbox(
        chromium,
        app,
        live_server,
        "kansli.fp",
        "Stöd till den drabbade",
        answers.PARTY_SUPPORT,
        "04-party-office-support",
    )
    complete_from_inbox(
        chromium,
        app,
        live_server,
        "sakerhet",
        "Bedöm händelsen",
        {"severity": "low", "immediate_actions": "Ringde upp och pratade."},
        "05-security-assessment",
    )

    # Back with the official: the case says where it is now, in words and on the map.
    page.goto(case_url)
    expect(page.get_by_role("heading", name="Processkarta")).to_be_visible()
    steps = page.locator(".step-list")
    expect(steps).to_contain_text("Pågår nu")
    # She said she was in danger: the follow-up waits for the official on standby (TiB).
    expect(steps.locator("dd").first).to_have_text("Pågående fara – agera nu")
    expect(steps).to_contain_text("Bedöm händelsen")  # among the steps done
    viewer = STATIC / "vendor" / "bpmn-js" / "bpmn-viewer.production.min.js"
    if (STATIC / "diagram.js").exists() and viewer.exists():
        current = page.locator('.djs-element.step-current[data-element-id="tib_danger_alert"]')
        expect(current).to_have_count(1)
        expect(page.locator(".diagram")).to_be_visible()
        done = page.locator('.djs-element.step-done[data-element-id="security_assessment"]')
        expect(done).to_have_count(1)
    no_sideways_scrolling(page)
    shot(page, "06-case-where-it-is-now")
