"""A real browser on a phone-sized screen: an official reports a threat at night.

Debian's Chromium driven by Playwright (never a downloaded browser).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

CHROMIUM = Path(os.environ.get("TRYGG_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() and os.environ.get("CI") != "true",
    reason="Chromium is not installed (make test installs it; CI always has it)",
)


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@pytest.fixture
def phone() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="sv-SE"
        )
        page = context.new_page()
        try:
            yield page
        finally:
            browser.close()


def test_official_reports_a_threat_on_a_phone(live_server: str, phone: object) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(phone, Page)
    page = phone
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(f"{live_server}/")
    page.get_by_label("Användarnamn").fill("anna")
    page.get_by_label("Lösenord").fill("trygg-demo-2026")
    page.get_by_role("button", name="Logga in").click()

    report = page.get_by_role("link", name="Rapportera händelse").first
    expect(report).to_be_visible()
    box = report.bounding_box()
    assert box is not None and box["y"] < 300, "the report button is the first thing on the phone"
    page.screenshot(path=str(ARTIFACTS / "phone-home.png"), full_page=True)
    report.click()

    # Sending nothing first: the error summary takes focus and links to the fields.
    page.get_by_role("button", name="Skicka rapporten").click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()

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
    page.get_by_role("button", name="Skicka rapporten").click()

    expect(page.get_by_role("heading", name="Vi har tagit emot din rapport")).to_be_visible()
    expect(page.get_by_role("link", name="Ring 112")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "phone-confirmation.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"no sideways scrolling on a phone (page is {width}px wide)"
