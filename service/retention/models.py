"""The disposal record (gallringsprotokoll) and the legal hold that stops disposal of a case."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.crypto.types import EncryptedText
from service.db import Base, utcnow
from service.people.models import User


class DisposalRecord(Base):
    """One disposed case, or one batch of other records, as the archive needs to see it.

    No personal data: the case's number, process and dates, the rule applied
    and what ran it. The case itself is gone, so ``case_id`` has no foreign key.
    """

    __tablename__ = "disposal_record"
    __table_args__ = (Index("ix_disposal_record_case", "case_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(String(36), index=True)
    # "case", or the kind of the other records: notification, job, login_attempt, orphan_file
    record_type: Mapped[str] = mapped_column(String(30))
    case_id: Mapped[int | None]
    process_id: Mapped[str | None] = mapped_column(String(100))
    process_version: Mapped[int | None]
    case_started_at: Mapped[datetime | None]
    case_closed_at: Mapped[datetime | None]
    rule: Mapped[str] = mapped_column(String(100))  # the rule's key in the rules file
    rule_text: Mapped[str] = mapped_column(String(500))  # the period and its basis, as configured
    due_at: Mapped[datetime | None]
    disposed_at: Mapped[datetime] = mapped_column(default=utcnow)
    disposed_by: Mapped[str] = mapped_column(String(50))  # "worker" or "cli": never a person
    # How many rows (and files) of each kind went: {"human_task": 4, "attachment_file": 1, ...}
    counts: Mapped[dict[str, Any]]


class LegalHold(Base):
    """Disposal of the case (and the cases linked to it) is stopped until the hold is lifted."""

    __tablename__ = "legal_hold"
    __table_args__ = (Index("ix_legal_hold_instance", "instance_id", "lifted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    # Free text (e.g. a court's case number): encrypted at rest like other case text.
    reason: Mapped[str] = mapped_column(EncryptedText)
    set_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    set_at: Mapped[datetime] = mapped_column(default=utcnow)
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    lifted_at: Mapped[datetime | None]
    lift_reason: Mapped[str | None] = mapped_column(EncryptedText)

    set_by: Mapped[User] = relationship(foreign_keys=[set_by_id], lazy="joined")
    lifted_by: Mapped[User | None] = relationship(foreign_keys=[lifted_by_id], lazy="joined")
