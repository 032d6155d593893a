"""A user's second factor (a TOTP secret) and their one-time recovery codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from service.crypto.types import EncryptedText
from service.db import Base, utcnow


class SecondFactor(Base):
    """An enabled authenticator app. One per user; removed when an administrator resets it."""

    __tablename__ = "user_second_factor"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), unique=True
    )
    # The RFC 6238 shared secret (base32), encrypted with the field keys:
    # whoever reads it can make codes.
    secret: Mapped[str] = mapped_column(EncryptedText)
    # The time step of the last accepted code: a code is accepted only for a
    # later step, so an overheard code cannot be used again.
    last_counter: Mapped[int | None] = mapped_column(BigInteger)
    enabled_at: Mapped[datetime] = mapped_column(default=utcnow)


class RecoveryCode(Base):
    """A one-time code for when the phone is lost. Only an argon2 hash is kept."""

    __tablename__ = "user_recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]
