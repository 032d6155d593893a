"""Sign-in with throttling that holds across every app process (it lives in the database)."""

from __future__ import annotations

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
    session.add(LoginAttempt(username=username, remote_addr=remote_addr[:64], success=ok))
    record(
        session,
        user if ok else None,
        "login.succeeded" if ok else "login.failed",
        username=username,
    )
    return LoginOutcome(user=user if ok else None, throttled=False)
