"""A release decision (beslut om utlämnande): what of a case went out, and what was masked why."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.crypto.types import EncryptedText
from service.db import Base, JSONType, utcnow
from service.people.models import User


class ReleaseDecision(Base):
    __tablename__ = "release_decision"
    __table_args__ = (Index("ix_release_decision_instance", "instance_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    decided_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Who asked, as the officer wrote it; may be empty: anyone may ask anonymously
    # (tryckfrihetsförordningen 2 kap. 18 §). Encrypted: it names a person.
    requester: Mapped[str | None] = mapped_column(EncryptedText)
    # [{"task": human task id, "form": form id, "field": name}, ...] released as written
    released: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    # [{"task", "form", "field", "ground": "OSL 18 kap. 8 §", "marked": bool}, ...] masked
    masked: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)

    decided_by: Mapped[User] = relationship(lazy="joined")
