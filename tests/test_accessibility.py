"""WCAG 2.1 AA on every page, for every role, on a phone and on a desktop.

The pages come from the app's URL map through the access matrix's rules
(tests/test_access_matrix.py): every GET route that gives HTML, visited by
every role the matrix allows, with ids from a world where an official has
reported an incident in danger. A new page therefore gets checked as soon as
it gets its access rule. On each page axe-core (from npm, pinned in
package-lock.json) runs with the WCAG 2.0/2.1 A and AA rules, the page must
not scroll sideways, and the language switch must be in its footer. Forms are
also checked in their error state, and the sign-in code step on the way in.

The list of pages checked and anything found are written to
test-artifacts/accessibility.json (kept by CI).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from service.config import PROJECT_ROOT
from service.context import Services
from tests.browser_fixtures import (  # noqa: F401 - fixtures
    ARTIFACTS,
    DESKTOP,
    PHONE,
    VIEWPORT_WIDTHS,
    chromium,
    live_server,
    needs_chromium,
    sign_in,
)
from tests.test_access_matrix import ANON, RULES, World, _world
from tests.web_client import Browser

pytestmark = needs_chromium

AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# One user of each role (plus nobody signed in).
VISITORS = (
    ANON,
    "anna",
    "kansli.fp",
    "sakerhet",
    "sakerhetschef",
    "tib",
    "namnd",
    "designer",
    "admin",
)
# Not pages of the interface: machine endpoints and third-party API docs.
NOT_PAGES = (
    "static",
    "home.healthz",
    "health.",
    "metrics.",
    "api_docs.",
    "people.",
    "alarm-centre.",
)


@dataclass
class Findings:
    checked: list[dict[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    downloads: list[str] = field(default_factory=list)


def pages_for(visitor: str, world: World) -> list[str]:
    """Every GET route of the URL map the access matrix lets this visitor open."""
    urls = []
    for endpoint, rules in sorted(RULES.items()):
        if endpoint.startswith(NOT_PAGES):
            continue
        for rule in rules:
            if rule.method == "GET" and visitor in rule.allowed and not rule.json:
                url = rule.url(world)
                if not url.startswith("/api/") and url not in urls:
                    urls.append(url)
    return urls


def extra_states(visitor: str, world: World) -> list[tuple[str, str | None]]:
    """Pages in states the URL alone does not reach: (url, button text to press first)."""
    if visitor == ANON:
        return [("/finns-inte", None)]  # the error page
    if visitor == "anna":
        return [
            ("/finns-inte", None),
            (f"/cases/{world.case_id}?reported=1&danger=1", None),
            (f"/start/incident/{world.anna_person}", "Skicka rapporten"),  # the error summary
        ]
    if visitor == "sakerhet":
        return [(f"/tasks/{world.security_task}", "Klar – skicka")]
    return []


def audit(page: Any, label: str, findings: Findings) -> None:
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """tags => axe.run(document, {runOnly: {type: 'tag', values: tags},
                                      resultTypes: ['violations']})""",
        WCAG_TAGS,
    )
    for violation in result["violations"]:
        for node in violation["nodes"]:
            findings.problems.append(
                f"{label}: {violation['id']} ({violation['impact']}) at {node['target']} – "
                f"{violation['help']}"
            )
    if page.locator('footer form[action$="/language"] button[name="lang"]').count() != 1:
        findings.problems.append(f"{label}: no language switch in the footer")
    width, inner = page.evaluate(VIEWPORT_WIDTHS)
    if width > inner:
        wide = page.evaluate(
            """() => [...document.querySelectorAll('body *')]
                 .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
                 .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
                                   + (e.className && e.className.baseVal === undefined
                                      ? '.' + String(e.className).split(' ').join('.') : ''))"""
        )
        findings.problems.append(f"{label}: scrolls sideways ({width}px > {inner}px): {wide}")


def visit(
    engine: Any,
    app: Flask,
    base: str,
    screen: dict[str, Any],
    name: str,
    world: World,
    found: Findings,
) -> None:
    from playwright.sync_api import Error as PlaywrightError

    for visitor in VISITORS:
        context = engine.new_context(**screen, locale="sv-SE", bypass_csp=True)
        context.add_init_script(path=str(AXE))  # in every page before its own scripts
        page = context.new_page()
        try:
            if visitor != ANON:

                def code_step(step: Any, visitor: str = visitor) -> None:
                    found.checked.append({"screen": name, "visitor": visitor, "url": "/login/totp"})
                    audit(step, f"{name} {visitor} /login/totp", found)

                sign_in(page, base, visitor, app, on_step=code_step)
            targets = [(url, None) for url in pages_for(visitor, world)]
            for url, press in targets + extra_states(visitor, world):
                try:
                    response = page.goto(base + url)
                except PlaywrightError as error:
                    if "Download is starting" in str(error):
                        found.downloads.append(url)
                        continue  # an attachment or a PDF: not a page
                    raise
                assert response is not None, url
                if "text/html" not in (response.headers.get("content-type") or ""):
                    found.downloads.append(url)
                    continue
                if press:
                    with page.expect_navigation():
                        page.get_by_role("button", name=press).click()
                if page.locator(".diagram").count():
                    page.wait_for_load_state("networkidle")  # the diagram is drawn after load
                label = f"{name} {visitor} {url}{' after ' + repr(press) if press else ''}"
                found.checked.append(
                    {
                        "screen": name,
                        "visitor": visitor,
                        "url": url,
                        "shown": page.url.removeprefix(base),
                        "status": str(response.status),
                    }
                )
                audit(page, label, found)
        finally:
            context.close()


@pytest.mark.parametrize("name", ["phone", "desktop"])
def test_every_page_meets_wcag_21_aa_and_fits_the_screen(
    name: str,
    app: Flask,
    chromium: Any,  # noqa: F811
    live_server: str,  # noqa: F811
    services: Services,
    session: Session,
    browser: Callable[[str | None], Browser],
) -> None:
    assert AXE.exists(), "axe-core is missing: run make install (npm ci)"
    world = _world(services, session, browser)
    found = Findings()
    visit(chromium, app, live_server, PHONE if name == "phone" else DESKTOP, name, world, found)

    ARTIFACTS.mkdir(exist_ok=True)
    report = {"checked": found.checked, "downloads": found.downloads, "problems": found.problems}
    (ARTIFACTS / f"accessibility-{name}.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=1)
    )
    visitors = {c["visitor"] for c in found.checked}
    assert visitors == set(VISITORS), "every role's pages were visited"
    assert len(found.checked) >= 30, len(found.checked)
    assert found.problems == [], "\n".join(found.problems)


def test_the_checker_finds_violations_and_sideways_scrolling(
    chromium: Any,  # noqa: F811
) -> None:
    """The check itself: a page with a known fault must not pass (else the test above proves nothing)."""
    context = chromium.new_context(**PHONE)
    page = context.new_page()
    try:
        page.set_content(
            '<html lang="sv"><head><title>Prov</title>'
            '<meta name="viewport" content="width=device-width"></head><body><main>'
            '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><input id="x">'
            '<div style="width: 600px">bred</div></main></body></html>'
        )
        found = Findings()
        audit(page, "prov", found)
    finally:
        context.close()
    rules = {problem.split(": ", 1)[1].split(" ")[0] for problem in found.problems}
    assert {"image-alt", "label"} <= rules, found.problems
    assert any("scrolls sideways" in problem for problem in found.problems)
