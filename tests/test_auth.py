"""Sign-in: argon2 hashes, throttling, safe redirects, session and header hardening."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.auth.passwords import hash_password, verify_password
from service.people.models import User
from tests.web_client import Browser

Make = Callable[[str | None], Browser]


def test_passwords_are_argon2_hashes(session: Session) -> None:
    stored = session.scalar(select(User.password_hash).where(User.username == "anna"))
    assert stored is not None and stored.startswith("$argon2id$")
    assert verify_password(hash_password("rätt häst batteri"), "rätt häst batteri")
    assert not verify_password(hash_password("a"), "b")
    assert not verify_password(None, "anything")


def test_wrong_password_gets_a_clear_message_and_no_session(browser: Make) -> None:
    anonymous = browser(None)
    response = anonymous.submit("/login", {"username": "anna", "password": "fel"})
    assert response.status_code == 401
    assert "Användarnamnet eller lösenordet" in response.get_data(as_text=True)
    assert anonymous.get("/").status_code == 302


def test_login_is_throttled_after_repeated_failures(browser: Make) -> None:
    anonymous = browser(None)
    for _ in range(5):
        assert (
            anonymous.submit("/login", {"username": "anna", "password": "fel"}).status_code == 401
        )
    blocked = anonymous.submit("/login", {"username": "anna", "password": "trygg-demo-2026"})
    assert blocked.status_code == 429
    assert "112" in blocked.get_data(as_text=True)


def test_next_parameter_cannot_redirect_off_site(browser: Make) -> None:
    anonymous = browser(None)
    token = anonymous.csrf_token("/login")
    response = anonymous.client.post(
        "/login?next=https://evil.example/phish",
        data={"username": "anna", "password": "trygg-demo-2026", "csrf_token": token},
    )
    assert response.status_code == 302 and response.location == "/"


def test_inactive_user_cannot_sign_in(browser: Make, session: Session) -> None:
    user = session.scalar(select(User).where(User.username == "bertil"))
    assert user is not None
    user.active = False
    session.commit()
    response = browser(None).submit("/login", {"username": "bertil", "password": "trygg-demo-2026"})
    assert response.status_code == 401


def test_pages_are_hardened_against_caching_framing_and_scripts(browser: Make) -> None:
    page = browser("anna").get("/")
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    login = browser(None).get("/login")
    cookie = login.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_logout_requires_post_with_csrf(browser: Make) -> None:
    anna = browser("anna")
    assert anna.get("/logout").status_code == 405
    assert anna.client.post("/logout").status_code == 400
    anna.logout()
    assert anna.get("/").status_code == 302


def test_errors_never_show_a_stack_trace(browser: Make, app: object) -> None:
    from flask import Flask

    assert isinstance(app, Flask)

    @app.route("/boom")
    def boom() -> str:
        raise RuntimeError("secret internal detail")

    response = browser(None).get("/boom")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Traceback" not in body and "secret internal detail" not in body
    assert "112" in body


def test_idle_session_is_signed_out(browser: Make, clock: object) -> None:
    from datetime import timedelta

    from service.clock import OffsetClock

    assert isinstance(clock, OffsetClock)
    anna = browser("anna")
    clock.advance(timedelta(minutes=29))
    assert anna.get("/").status_code == 200, "activity within the idle limit keeps the session"
    clock.advance(timedelta(minutes=29))
    assert anna.get("/").status_code == 200
    clock.advance(timedelta(minutes=31))
    response = anna.get("/inbox")
    assert response.status_code == 302 and response.location.startswith("/login")
    assert anna.get("/").status_code == 302, "the session is gone, not just this request"


def test_session_ends_after_the_absolute_limit_however_active(browser: Make, clock: object) -> None:
    from datetime import timedelta

    from service.clock import OffsetClock

    assert isinstance(clock, OffsetClock)
    security = browser("sakerhet")
    for _ in range(24):  # active every 25 minutes for 10 hours
        clock.advance(timedelta(minutes=25))
        assert security.get("/inbox").status_code == 200
    clock.advance(timedelta(hours=2, minutes=5))  # 12 h 5 min after signing in
    assert security.get("/inbox").status_code == 302
