"""Second factor for security, security_lead and tib on password sign-in (ASVS V2.7/V2.8, V3.2).

Codes are computed with pyotp from the secret, as an authenticator app
would; the service clock is frozen in the middle of a 30-second step where
a test depends on which step it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from service import clock as service_clock
from service.audit.models import AuditEvent
from service.auth.second_factor import counter_at
from service.auth.second_factor_models import RecoveryCode, SecondFactor
from service.context import Services
from service.people.demo import DEMO_PASSWORD
from service.people.models import User
from service.web.signin import complete_sign_in
from tests.totp import SECRET_ON_PAGE, TEST_SECRET, code
from tests.web_client import Browser

Make = Callable[[str | None], Browser]
RECOVERY = re.compile(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>")


class FrozenClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at += delta


@pytest.fixture
def frozen() -> Iterator[FrozenClock]:
    """Now, moved to 15 seconds into its 30-second step, standing still until moved."""
    start = datetime.now(UTC).replace(microsecond=0)
    start -= timedelta(seconds=start.timestamp() % 30 - 15)
    fixed = FrozenClock(start)
    previous = service_clock.install(fixed)
    yield fixed
    service_clock.install(previous)


def password_step(client: Browser, username: str, next_url: str = "") -> str:
    token = client.csrf_token("/login")
    response = client.client.post(
        "/login" + (f"?next={next_url}" if next_url else ""),
        data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302
    return str(response.location)


def send_code(client: Browser, value: str) -> int:
    return client.submit("/login/totp", {"code": value}).status_code


def test_a_password_alone_does_not_sign_in_the_security_roles(browser: Make) -> None:
    for username in ("sakerhet", "sakerhetschef", "tib"):
        client = browser(None)
        assert password_step(client, username) == "/login/totp"
        inbox = client.get("/inbox")
        assert inbox.status_code == 302 and inbox.location.startswith("/login")
        page = client.text("/login/totp")
        assert "Ange din kod" in page and 'autocomplete="one-time-code"' in page
    # Officials, party offices and the others: the password is the sign-in.
    anna = browser(None)
    assert password_step(anna, "anna") == "/"


def test_a_valid_code_completes_the_sign_in_on_a_fresh_session(
    browser: Make, frozen: FrozenClock, app: Flask
) -> None:
    client = browser(None)
    password_step(client, "sakerhet", next_url="/cases")
    with client.client.session_transaction() as pending:
        assert "_user_id" not in pending and "second_factor_pending" in pending
    response = client.submit("/login/totp", {"code": code()})
    assert response.status_code == 302 and response.location == "/cases"
    with client.client.session_transaction() as signed_in:
        assert signed_in["auth_method"] == "password+totp"
        assert "second_factor_pending" not in signed_in
    assert client.get("/inbox").status_code == 200
    # Already signed in: the code page has nothing to ask.
    assert client.get("/login/totp").location == "/"


def test_codes_one_step_either_side_are_accepted_and_none_twice(
    browser: Make, frozen: FrozenClock
) -> None:
    now = counter_at(frozen.now())
    attempts = [
        (now + 2, 401),  # too far ahead
        (now - 2, 401),  # too old
        (now - 1, 302),  # one step late: a phone's clock drifts
        (now - 1, 401),  # the same code again: refused
        (now + 1, 302),  # one step early
        (now, 401),  # an earlier step than the last accepted one
    ]
    for counter, expected in attempts:
        client = browser(None)
        password_step(client, "tib")
        assert send_code(client, code(counter=counter)) == expected, counter


def test_wrong_codes_are_throttled_like_passwords(browser: Make, session: Session) -> None:
    client = browser(None)
    password_step(client, "sakerhetschef")
    for _ in range(5):
        page = client.submit("/login/totp", {"code": "000000"})
        assert page.status_code == 401
        assert "Koden är fel eller redan använd" in page.get_data(as_text=True)
    assert send_code(client, code()) == 429
    again = browser(None).submit("/login", {"username": "sakerhetschef", "password": DEMO_PASSWORD})
    assert again.status_code == 429, "the password step is locked as well"
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.action == "login.second_factor_failed")
    ).all()
    assert len(actions) == 5


def test_the_half_way_sign_in_expires_after_five_minutes(
    browser: Make, frozen: FrozenClock
) -> None:
    client = browser(None)
    password_step(client, "sakerhet")
    token = client.csrf_token("/login/totp")  # the page was open; the person went for coffee
    frozen.advance(timedelta(minutes=5, seconds=1))
    response = client.client.post("/login/totp", data={"code": code(), "csrf_token": token})
    assert response.status_code == 302 and response.location == "/login"
    assert "Logga in igen" in client.text("/login")
    assert client.get("/inbox").status_code == 302


def test_without_a_password_step_there_is_no_code_page(browser: Make) -> None:
    anonymous = browser(None)
    for url in ("/login/totp", "/login/totp/enrol"):
        response = anonymous.get(url)
        assert response.status_code == 302 and response.location == "/login"
    assert anonymous.get("/inbox").status_code == 302


def test_single_sign_on_leaves_the_second_factor_to_the_identity_provider(
    app: Flask, user_by_name: Callable[[str], User]
) -> None:
    tib = user_by_name("tib")
    with app.test_request_context("/"):
        assert complete_sign_in(tib, "oidc", "/inbox").location == "/inbox"
    with app.test_request_context("/"):
        assert complete_sign_in(tib, "password", "/inbox").location == "/login/totp"


def _reset_by_admin(browser: Make, session: Session, username: str) -> int:
    account = session.scalar(select(User).where(User.username == username))
    assert account is not None
    admin = browser("admin")
    page = admin.text("/administration")
    assert f"/administration/users/{account.id}/second-factor/reset" in page
    response = admin.submit(
        f"/administration/users/{account.id}/second-factor/reset", {}, form_page="/administration"
    )
    assert response.status_code == 302
    assert "är borttagen" in admin.text("/administration")
    return account.id


def test_enrolment_on_first_sign_in_shows_the_key_and_recovery_codes_once(
    browser: Make, session: Session, services: Services
) -> None:
    user_id = _reset_by_admin(browser, session, "sakerhet")
    client = browser(None)
    assert password_step(client, "sakerhet") == "/login/totp"
    assert client.get("/login/totp").location == "/login/totp/enrol"
    page = client.text("/login/totp/enrol")
    found = SECRET_ON_PAGE.search(page)
    assert found
    secret = found.group(1).replace(" ", "")
    assert len(secret) == 32 and secret != TEST_SECRET
    assert f"otpauth://totp/Trygg%20i%20uppdraget:sakerhet?secret={secret}" in page
    assert "<svg" in page and 'class="qr"' in page
    assert "<script" not in page and " style=" not in page, "strict CSP: no inline script or style"
    assert client.text("/login/totp/enrol").count(secret[:4]) >= 1, "the same key on reload"
    assert secret.replace(" ", "")[:8] in client.text("/login/totp/enrol").replace(" ", "")

    wrong = client.submit("/login/totp/enrol", {"code": "123456"})
    assert wrong.status_code == 400 and "Koden stämmer inte" in wrong.get_data(as_text=True)
    assert session.scalar(select(SecondFactor).where(SecondFactor.user_id == user_id)) is None

    done = client.submit("/login/totp/enrol", {"code": code(secret)})
    assert done.status_code == 200
    codes = RECOVERY.findall(done.get_data(as_text=True))
    assert len(codes) == 10 and len(set(codes)) == 10
    assert client.get("/inbox").status_code == 200, "signed in once the code matched"

    # At rest: the secret encrypted, the recovery codes as argon2 hashes only.
    with services.db.engine.connect() as conn:
        raw_secret = conn.execute(
            text("SELECT secret FROM user_second_factor WHERE user_id = :u"), {"u": user_id}
        ).scalar_one()
        hashes = conn.execute(
            text("SELECT code_hash FROM user_recovery_code WHERE user_id = :u"), {"u": user_id}
        ).scalars()
        hashes = list(hashes)
    assert raw_secret.startswith("f1:") and secret not in raw_secret
    assert len(hashes) == 10 and all(h.startswith("$argon2id$") for h in hashes)
    assert not any(c.replace("-", "") in h for c in codes for h in hashes)

    # A recovery code signs in once.
    phone_lost = browser(None)
    password_step(phone_lost, "sakerhet")
    response = phone_lost.submit("/login/totp", {"code": codes[3].upper()})
    assert response.status_code == 302
    assert "9 oanvända koder" in phone_lost.text("/notifications")
    again = browser(None)
    password_step(again, "sakerhet")
    assert send_code(again, codes[3]) == 401
    session.expire_all()
    used = session.scalars(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_not(None)
        )
    ).all()
    assert len(used) == 1


def test_each_sign_in_gets_its_own_enrolment_key(browser: Make, session: Session) -> None:
    _reset_by_admin(browser, session, "tib")
    keys = set()
    for _ in range(2):
        client = browser(None)
        password_step(client, "tib")
        found = SECRET_ON_PAGE.search(client.text("/login/totp/enrol"))
        assert found
        keys.add(found.group(1))
    assert len(keys) == 2, "a key someone else saw while enrolling is never the one enabled"


def test_an_administrator_reset_signs_the_user_out_and_is_audited(
    browser: Make, session: Session
) -> None:
    security = browser("sakerhet")
    assert security.get("/inbox").status_code == 200
    user_id = _reset_by_admin(browser, session, "sakerhet")
    out = security.get("/inbox")
    assert out.status_code == 302 and out.location.startswith("/login")
    event = session.scalar(
        select(AuditEvent)
        .where(AuditEvent.action == "second_factor.reset")
        .order_by(AuditEvent.id.desc())
    )
    assert event is not None and event.details["user"] == user_id
    assert event.actor is not None and event.actor.username == "admin"
    # Only administrators may reset.
    other = browser("sakerhetschef")
    refused = other.submit(
        f"/administration/users/{user_id}/second-factor/reset", {}, form_page="/notifications"
    )
    assert refused.status_code == 403


def test_the_account_command_resets_a_second_factor(
    services: Services, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from service.cli import main

    monkeypatch.setenv("DATABASE_URL", services.settings.database_url)
    result = CliRunner().invoke(main, ["account", "reset-second-factor", "tib"])
    assert result.exit_code == 0, result.output
    assert "borttagen" in result.output
    tib = session.scalar(select(User).where(User.username == "tib"))
    assert tib is not None
    assert session.scalar(select(SecondFactor).where(SecondFactor.user_id == tib.id)) is None
    missing = CliRunner().invoke(main, ["account", "reset-second-factor", "nobody"])
    assert missing.exit_code == 1
