"""The second factor in tests: enrolled demo users and codes computed with pyotp.

The test template database gives the demo users whose roles need a second
factor (sakerhet, sakerhetschef, tib) the known secret below, so that every
test can sign them in. ``make run``'s demo data has no secrets: there they
enrol on first sign-in, as people do.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from service import clock
from service.auth.second_factor import SECOND_FACTOR_ROLES, STEP_SECONDS, counter_at
from service.auth.second_factor_models import SecondFactor
from service.people.models import User, UserRole

if TYPE_CHECKING:
    from werkzeug.test import TestResponse

    from tests.web_client import Browser

TEST_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # tests only: base32, 160 bits
SECRET_ON_PAGE = re.compile(r'id="totp-secret">([A-Z2-7 ]+)</code>')


def enrol_demo_users(session: Session) -> None:
    """Give every user whose role needs it the test secret (the template database)."""
    roles = [role.value for role in SECOND_FACTOR_ROLES]
    users = session.scalars(select(User).join(UserRole).where(UserRole.role.in_(roles))).unique()
    for user in users:
        session.add(SecondFactor(user_id=user.id, secret=TEST_SECRET))


def code(secret: str = TEST_SECRET, counter: int | None = None) -> str:
    step = counter_at(clock.now()) if counter is None else counter
    return str(pyotp.TOTP(secret, interval=STEP_SECONDS).generate_otp(step))


def fresh_code(browser: Browser, username: str) -> str:
    """A code the service will accept now for ``username``.

    A person signs in a few times a day; tests sign the same user in many
    times within one 30-second step, while a code is accepted once. When the
    window holds no unused step, the test moves the user's last used step
    back: a shortcut for tests only, never something the service does.
    """
    services = browser.app.extensions["trygg"]
    with services.db.sessions() as session:
        factor = session.scalar(select(SecondFactor).join(User).where(User.username == username))
        assert factor is not None, f"{username} has no second factor"
        now = counter_at(clock.now())
        step = now if factor.last_counter is None else max(now, factor.last_counter + 1)
        if step > now + 1:
            factor.last_counter = now - 1
            session.commit()
            step = now
        return code(factor.secret, step)


def complete_second_factor(browser: Browser, username: str) -> TestResponse:
    """After the password: enter a code, or enrol (reading the key off the page as a person does)."""
    page = browser.get("/login/totp")
    if page.status_code == 302 and page.location.endswith("/login/totp/enrol"):
        text = browser.text("/login/totp/enrol")
        found = SECRET_ON_PAGE.search(text)
        assert found, "the enrolment page shows the key"
        secret = found.group(1).replace(" ", "")
        return browser.submit("/login/totp/enrol", {"code": code(secret)})
    return browser.submit("/login/totp", {"code": fresh_code(browser, username)})
