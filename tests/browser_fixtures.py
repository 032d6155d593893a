"""Shared pieces of the real-browser tests: Debian's Chromium driven by Playwright.

Never a downloaded browser (no ``playwright install``): ``/usr/bin/chromium``,
installed by ``make browser``. Test modules import the fixtures they use from
here (``from tests.browser_fixtures import chromium, live_server``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from service.people.demo import DEMO_PASSWORD
from tests.totp import fresh_code
from tests.web_client import Browser

CHROMIUM = Path(os.environ.get("TRYGG_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}
# [page width, screen width]. On a phone window.innerWidth grows with content
# that is too wide (the browser zooms out), so the screen is the root
# element's clientWidth: the layout viewport, 390 px on the phone.
VIEWPORT_WIDTHS = "[document.scrollingElement.scrollWidth, document.documentElement.clientWidth]"

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists() and os.environ.get("CI") != "true",
    reason="Chromium is not installed (make test installs it; CI always has it)",
)


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The test's app served over HTTP on a free port, in a thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@pytest.fixture
def chromium() -> Iterator[Any]:
    """A Playwright Browser on Debian's Chromium; open contexts with ``chromium.new_context``."""
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
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def phone(chromium: Any) -> Iterator[Any]:
    """One page on a 390×844 phone screen, Swedish locale."""
    context = chromium.new_context(**PHONE, locale="sv-SE")
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in(
    page: Any,
    base_url: str,
    username: str,
    app: Flask,
    on_step: Callable[[Any], None] | None = None,
) -> None:
    """Sign in through the login form as a person does, with the code step where the role has one.

    ``on_step`` is called on the code page before the code is entered (the
    accessibility test checks that page too).
    """
    page.goto(f"{base_url}/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(DEMO_PASSWORD)
    with page.expect_navigation():
        page.locator("#password").press("Enter")
    if page.url.endswith("/login/totp"):
        if on_step is not None:
            on_step(page)
        page.locator("#code").fill(fresh_code(Browser(app), username))
        with page.expect_navigation():
            page.locator("#code").press("Enter")
    assert "/login" not in page.url, f"{username} could not sign in ({page.url})"
