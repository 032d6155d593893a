"""Sign-in with throttling that holds across every app process (it lives in the database)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.audit.service import record
from service.auth.models import LoginAttempt
from service.auth.passwords import verify_password
from service.db import utcnow
from service.people.models import User


@dataclass(frozen=True)
class LoginOutcome:
    user: User | None
    throttled: bool


def attempt_login(
    session: Session,
    username: str,
    password: str,
    remote_addr: str,
    max_failures: int,
    window_seconds: int,
    password_allowed: Callable[[User], bool] | None = None,
) -> LoginOutcome:
    username = username.strip().lower()[:100]
    since = utcnow() - timedelta(seconds=window_seconds)
    failures = session.scalar(
        select(func.count(LoginAttempt.id)).where(
            LoginAttempt.at >= since,
            LoginAttempt.success.is_(False),
            (LoginAttempt.username == username) | (LoginAttempt.remote_addr == remote_addr),
        )
    )
    if (failures or 0) >= max_failures:
        record(session, None, "login.throttled", username=username)
        return LoginOutcome(user=None, throttled=True)
    user = session.scalar(select(User).where(User.username == username))
    ok = verify_password(user.password_hash if user else None, password)
    ok = ok and user is not None and user.active
    # Beside single sign-on only break-glass accounts keep a password way in;
    # refused like a wrong password, so a guess learns nothing more.
    ok = ok and (password_allowed is None or (user is not None and password_allowed(user)))
    session.add(LoginAttempt(username=username, remote_addr=remote_addr[:64], success=ok))
    record(
        session,
        user if ok else None,
        "login.succeeded" if ok else "login.failed",
        username=username,
    )
    return LoginOutcome(user=user if ok else None, throttled=False)


# -- the same throttle for the steps after the password ---------------------------
# (the second factor, and the current password on "change password"): a
# failure there counts against the same user name and address as a wrong
# password, so each step cannot be guessed at more than the sign-in itself.


def too_many_failures(
    session: Session, username: str, remote_addr: str, max_failures: int, window_seconds: int
) -> bool:
    since = utcnow() - timedelta(seconds=window_seconds)
    failures = session.scalar(
        select(func.count(LoginAttempt.id)).where(
            LoginAttempt.at >= since,
            LoginAttempt.success.is_(False),
            (LoginAttempt.username == username) | (LoginAttempt.remote_addr == remote_addr),
        )
    )
    return (failures or 0) >= max_failures


def note_attempt(session: Session, username: str, remote_addr: str, success: bool) -> None:
    session.add(LoginAttempt(username=username, remote_addr=remote_addr[:64], success=success))
