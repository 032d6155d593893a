"""A real browser signs in with the city's account: Chromium, the app and the test provider over HTTP.

Debian's Chromium driven by Playwright (never a downloaded browser), as in tests/test_browser.py.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from service.app import create_app
from service.config import PROJECT_ROOT, Settings
from service.context import Services
from service.people.models import Role, User
from service.sso.settings import OidcSettings
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, OidcProvider, ProviderUser

CHROMIUM = Path(os.environ.get("TRYGG_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = PROJECT_ROOT / "test-artifacts"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() and os.environ.get("CI") != "true",
    reason="Chromium is not installed (make test installs it; CI always has it)",
)


@pytest.fixture
def live_sso(settings: Settings) -> Iterator[tuple[str, OidcProvider]]:
    provider = OidcProvider(redirect_uris=[])
    with provider.serve():
        sso_settings = replace(
            settings,
            oidc=OidcSettings(
                issuer=provider.issuer,
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                group_map_path=PROJECT_ROOT / "deploy" / "oidc-group-map.json",
            ),
        )
        services = Services.create(sso_settings)
        app = create_app(sso_settings, services)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        base = f"http://127.0.0.1:{server.server_port}"
        provider.client.redirect_uris.append(f"{base}/login/sso/callback")
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield base, provider
        finally:
            server.shutdown()
            services.db.engine.dispose()


def test_a_security_officer_signs_in_with_the_city_account(
    live_sso: tuple[str, OidcProvider], session: Session
) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, provider = live_sso
    provider.add_user(ProviderUser("sara.s", ["trygg-sakerhet"], full_name="Sara Säker"))
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"],
        )
        try:
            page = browser.new_page(locale="sv-SE")
            page.goto(f"{base}/inbox")
            page.screenshot(path=str(ARTIFACTS / "sso-login.png"), full_page=True)
            page.get_by_role("link", name="Logga in med Stockholms stads konto").click()
            expect(page.get_by_role("heading", name="Testleverantörens inloggning")).to_be_visible()
            page.get_by_label("Användare").fill("sara.s")
            page.get_by_role("button", name="Logga in hos leverantören").click()
            page.wait_for_url(f"{base}/inbox")
            expect(page.get_by_text("Sara Säker")).to_be_visible()
        finally:
            browser.close()
    user = session.scalar(select(User).where(User.oidc_subject == provider.users["sara.s"].sub))
    assert user is not None and user.roles == {Role.SECURITY}
