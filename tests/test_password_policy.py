"""The password policy (NIST 800-63B, ASVS V2.1) and the "Byt lösenord" page."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.models import AuditEvent
from service.auth.password_policy import common_passwords, password_problems
from service.auth.passwords import hash_password, verify_password
from service.context import Services
from service.people.demo import DEMO_PASSWORD
from service.people.models import User
from tests.web_client import Browser

Make = Callable[[str | None], Browser]
GOOD = "blåbär på tisdagar vid sjön"


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("kort lösen", "för kort"),
        ("elva tecken", "för kort"),  # 11 characters
        ("x" * 129, "för långt"),
        ("a" * 12, "vanligaste"),
        ("123456789012", "vanligaste"),
        ("abcdefghijklmn", "vanligaste"),
        ("password1234", "vanligaste"),
        ("Qwertyuiop123!", "vanligaste"),
        ("Sommar2026!!!", "vanligaste"),
        ("Stockholm 2026", "vanligaste"),
        ("2026-11-28 !!!", "vanligaste"),
        ("iloveyou12345", "vanligaste"),
        (DEMO_PASSWORD, "demokontonas"),
        ("annas hemliga ord", "användarnamn"),
        ("andersson i stan", "användarnamn"),
        ("tab\there is bad!", "styrtecken"),
    ],
)
def test_weak_passwords_are_refused_with_what_to_change(password: str, reason: str) -> None:
    from babel.support import Translations

    from service.i18n import TRANSLATIONS_DIR

    problems = password_problems(password, "anna", "Anna Andersson")
    assert problems, password
    swedish = Translations.load(str(TRANSLATIONS_DIR), ["sv"])
    assert any(reason in swedish.gettext(p) for p in problems), problems


@pytest.mark.parametrize(
    "password",
    [
        GOOD,
        "Tolv tecken!",  # exactly 12
        "x7#Lq9!vR2@m",
        "🦊 räven springer över isen",
        "ü" * 6 + "jämtländsk",
        ("en lång mening om sjön " * 6)[:128],  # 128: the maximum
    ],
)
def test_long_passwords_of_any_characters_are_accepted(password: str) -> None:
    assert password_problems(password, "anna", "Anna Andersson") == []


def test_no_composition_rules_and_a_large_common_list() -> None:
    assert password_problems("alla små bokstäver här", "anna") == []
    assert len(common_passwords()) >= 10_000
    assert {"123456", "password", "qwerty"} <= common_passwords()


def test_the_demo_password_is_accepted_only_for_the_demo_data() -> None:
    assert password_problems(DEMO_PASSWORD, "anna", allow_demo=True) == []
    assert password_problems(DEMO_PASSWORD, "anna") != []


def test_unicode_passwords_are_normalised() -> None:
    composed = unicodedata.normalize("NFC", "café au lait på kvällen")
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    assert verify_password(hash_password(composed), decomposed)
    assert verify_password(hash_password(decomposed), composed)


def _change(client: Browser, current: str, new: str, again: str | None = None) -> tuple[int, str]:
    response = client.submit(
        "/account/password",
        {
            "current_password": current,
            "new_password": new,
            "new_password_again": new if again is None else again,
        },
    )
    return response.status_code, response.get_data(as_text=True)


def test_changing_the_password_needs_the_current_one_and_explains_problems(
    browser: Make,
) -> None:
    anna = browser("anna")
    page = anna.text("/")
    assert 'href="/account/password"' in page and "Byt lösenord" in page
    form = anna.text("/account/password")
    assert 'autocomplete="current-password"' in form and 'autocomplete="new-password"' in form
    assert "Minst 12 och högst 128 tecken" in form

    status, body = _change(anna, "fel lösenord", GOOD)
    assert status == 400 and "Det nuvarande lösenordet är fel" in body
    status, body = _change(anna, DEMO_PASSWORD, GOOD, again=GOOD + "!")
    assert status == 400 and "De två nya lösenorden är olika" in body
    status, body = _change(anna, DEMO_PASSWORD, "sommar2026")
    assert status == 400 and "för kort" in body
    status, body = _change(anna, DEMO_PASSWORD, "qwertyuiop1234567")
    assert status == 400 and "vanligaste" in body
    status, body = _change(anna, DEMO_PASSWORD, DEMO_PASSWORD)
    assert status == 400 and "samma som det nuvarande" in body
    assert 'class="error-summary"' in body


def test_a_changed_password_signs_out_every_other_session(browser: Make, session: Session) -> None:
    on_the_phone = browser("anna")
    at_the_office = browser("anna")
    assert on_the_phone.get("/").status_code == 200
    response = at_the_office.submit(
        "/account/password",
        {"current_password": DEMO_PASSWORD, "new_password": GOOD, "new_password_again": GOOD},
    )
    assert response.status_code == 302 and response.location == "/"
    assert "Ditt lösenord är bytt" in at_the_office.text("/")
    assert at_the_office.get("/").status_code == 200, "this device stays signed in"
    signed_out = on_the_phone.get("/")
    assert signed_out.status_code == 302 and signed_out.location.startswith("/login")

    old = browser(None).submit("/login", {"username": "anna", "password": DEMO_PASSWORD})
    assert old.status_code == 401
    browser(None).login("anna", GOOD)

    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "password.changed"))
    assert event is not None and event.actor is not None and event.actor.username == "anna"
    assert GOOD not in str(event.details)


def test_the_password_page_needs_csrf_and_is_throttled(browser: Make) -> None:
    anna = browser("anna")
    no_token = anna.client.post(
        "/account/password",
        data={"current_password": DEMO_PASSWORD, "new_password": GOOD, "new_password_again": GOOD},
    )
    assert no_token.status_code == 400
    for _ in range(5):
        assert _change(anna, "gissning", GOOD)[0] == 400
    status, body = _change(anna, DEMO_PASSWORD, GOOD)
    assert status == 429 and "Vänta 15 minuter" in body


def test_the_second_factor_roles_change_their_password_too(browser: Make) -> None:
    security = browser("sakerhet")
    status, _body = _change(security, DEMO_PASSWORD, GOOD)
    assert status == 302
    assert security.get("/inbox").status_code == 200


def test_the_command_line_applies_the_same_policy(
    services: Services, session: Session, monkeypatch: pytest.MonkeyPatch, browser: Make
) -> None:
    from service.cli import main

    monkeypatch.setenv("DATABASE_URL", services.settings.database_url)
    weak = CliRunner().invoke(
        main, ["account", "set-password", "bertil"], input="password123456\npassword123456\n"
    )
    assert weak.exit_code == 1 and "vanligaste" in weak.output
    ok = CliRunner().invoke(main, ["account", "set-password", "bertil"], input=f"{GOOD}\n{GOOD}\n")
    assert ok.exit_code == 0, ok.output
    browser(None).login("bertil", GOOD)
    bertil = session.scalar(select(User).where(User.username == "bertil"))
    assert bertil is not None and bertil.session_epoch == 1
