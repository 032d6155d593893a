"""Comments and attachments on a case, each written for one visibility level."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.crypto.types import EncryptedText
from service.db import Base, utcnow
from service.people.models import User


class NoteVisibility(enum.StrEnum):
    """Who may read a comment or an attachment (besides being allowed to see the case).

    Ordered from widest to narrowest; service/auth/policy.py decides which
    levels each user may read and write.
    """

    CASE = "case"  # everyone who may see the case
    SECURITY_AND_PARTY = "security_party"  # the security department and the party office
    SECURITY = "security"  # the security department (security and security_lead) only


class CaseComment(Base):
    __tablename__ = "case_comment"
    __table_args__ = (Index("ix_case_comment_instance", "instance_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    visibility: Mapped[str] = mapped_column(String(20))
    # Case data like the answers in tasks: shown to those allowed, never logged or
    # e-mailed, and encrypted at rest (service/crypto) like them.
    body: Mapped[str] = mapped_column(EncryptedText)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    author: Mapped[User] = relationship(lazy="joined")


class Attachment(Base):
    """An evidence file. The bytes live in Settings.attachments_dir under ``stored_name``."""

    __tablename__ = "case_attachment"
    __table_args__ = (Index("ix_case_attachment_instance", "instance_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    visibility: Mapped[str] = mapped_column(String(20))
    # Random, chosen by the service: the person's file name never reaches the disk.
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    # The name the person's file had, cleaned for display and for the download's name.
    # Encrypted at rest: a file name can itself say who threatened whom.
    original_name: Mapped[str] = mapped_column(EncryptedText)
    # What the content is (sniffed from the bytes), e.g. "image/png": the type it is served as.
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(EncryptedText)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    uploaded_by: Mapped[User] = relationship(lazy="joined")
