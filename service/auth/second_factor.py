"""The second factor: time-based one-time codes (RFC 6238) and one-time recovery codes.

Required of the roles that see every case or act on alarms at night
(security, security_lead, tib) when they sign in with a local password; with
single sign-on the city's identity provider asks for its own second factor.

- Codes: six digits, 30-second steps, accepted one step early or late (a
  phone's clock drifts). A code is accepted only for a later step than the
  last accepted one (RFC 6238 §5.2), checked and recorded in one UPDATE so
  that two requests racing with the same code cannot both pass.
- The shared secret is stored encrypted with the field keys.
- Ten recovery codes, shown once at enrolment, stored as argon2 hashes, each
  usable once.
- Wrong codes count as failed sign-ins (service/auth/login.py throttling).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
import segno
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from service import clock
from service.audit.service import record
from service.auth.passwords import hash_password, verify_password
from service.auth.second_factor_models import RecoveryCode, SecondFactor
from service.people.models import Role, User

SECOND_FACTOR_ROLES = frozenset({Role.SECURITY, Role.SECURITY_LEAD, Role.TIB})
ISSUER = "Trygg i uppdraget"
STEP_SECONDS = 30
WINDOW = 1  # steps accepted before and after the current one
RECOVERY_CODE_COUNT = 10
# No 0/o, 1/l/i: the codes are read off paper.
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_RECOVERY_LENGTH = 10


def required_for(user: User) -> bool:
    return bool(user.roles & SECOND_FACTOR_ROLES)


def new_secret() -> str:
    return pyotp.random_base32()  # 160 bits, as RFC 4226 recommends


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(
        name=username, issuer_name=ISSUER
    )


def qr_svg(uri: str) -> str:
    """The otpauth URI as an SVG QR code (markup only: no script, no style attribute)."""
    code = segno.make(uri, error="m")
    return str(
        code.svg_inline(scale=5, border=4, dark="#000", light="#fff", omitsize=False, svgclass="qr")
    )


def counter_at(when: datetime) -> int:
    return int(when.timestamp()) // STEP_SECONDS


def clean_code(code: str) -> str:
    return "".join(ch for ch in code if not ch.isspace() and ch != "-").lower()


def looks_like_totp(code: str) -> bool:
    cleaned = clean_code(code)
    return len(cleaned) == 6 and cleaned.isdigit()


def matching_counter(secret: str, code: str, when: datetime) -> int | None:
    """The time step whose code ``code`` is, within the window; None if none."""
    cleaned = clean_code(code)
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    now = counter_at(when)
    found = None
    for counter in range(now - WINDOW, now + WINDOW + 1):
        # Compare every candidate, in constant time, before answering.
        if hmac.compare_digest(totp.generate_otp(counter), cleaned) and found is None:
            found = counter
    return found


def enabled_factor(session: Session, user_id: int) -> SecondFactor | None:
    return session.scalar(select(SecondFactor).where(SecondFactor.user_id == user_id))


def accept_code(session: Session, factor: SecondFactor, code: str) -> bool:
    """Whether ``code`` is valid now and not used before; records it as used."""
    counter = matching_counter(factor.secret, code, clock.now())
    if counter is None:
        return False
    claimed = session.execute(
        update(SecondFactor)
        .where(
            SecondFactor.id == factor.id,
            or_(SecondFactor.last_counter.is_(None), SecondFactor.last_counter < counter),
        )
        .values(last_counter=counter)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(claimed, "rowcount", 0) == 1)


def _recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def new_recovery_codes(session: Session, user: User) -> list[str]:
    """Ten fresh codes (replacing any earlier ones), returned once in plaintext."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    session.add_all(
        RecoveryCode(user_id=user.id, code_hash=hash_password(clean_code(c))) for c in codes
    )
    return codes


@dataclass(frozen=True)
class RecoveryUse:
    accepted: bool
    remaining: int


def use_recovery_code(session: Session, user: User, code: str) -> RecoveryUse:
    cleaned = clean_code(code)
    unused = list(
        session.scalars(
            select(RecoveryCode).where(
                RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
            )
        )
    )
    if len(cleaned) != _RECOVERY_LENGTH:
        return RecoveryUse(False, len(unused))
    for row in unused:
        if verify_password(row.code_hash, cleaned):
            claimed = session.execute(
                update(RecoveryCode)
                .where(RecoveryCode.id == row.id, RecoveryCode.used_at.is_(None))
                .values(used_at=clock.now())
                .execution_options(synchronize_session=False)
            )
            if getattr(claimed, "rowcount", 0) == 1:
                return RecoveryUse(True, len(unused) - 1)
    return RecoveryUse(False, len(unused))


def enable(session: Session, user: User, secret: str, counter: int) -> list[str]:
    """Turn the second factor on with a confirmed ``secret``; returns the recovery codes."""
    session.add(SecondFactor(user_id=user.id, secret=secret, last_counter=counter))
    codes = new_recovery_codes(session, user)
    record(session, user, "second_factor.enabled", user=user.id)
    return codes


def reset(session: Session, actor: User | None, user: User) -> bool:
    """Remove the user's second factor (they enrol again at next sign-in) and sign them out.

    Returns whether they had one.
    """
    had = enabled_factor(session, user.id) is not None
    session.execute(delete(SecondFactor).where(SecondFactor.user_id == user.id))
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    user.session_epoch = (user.session_epoch or 0) + 1
    record(session, actor, "second_factor.reset", user=user.id, had_second_factor=had)
    return had


def users_with_second_factor(session: Session) -> set[int]:
    return set(session.scalars(select(SecondFactor.user_id)))
