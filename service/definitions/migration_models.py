"""One running case moved from one definition version to another, kept so it can be moved back.

The case's saved state from before the move is kept (encrypted, like the
case's own state) until the case is disposed of: reverting restores it
exactly when the case has not moved since, and otherwise migrates back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from service.crypto.types import EncryptedText
from service.db import Base, utcnow


class InstanceMigration(Base):
    __tablename__ = "instance_migration"
    __table_args__ = (
        Index("ix_instance_migration_instance", "instance_id"),
        Index("ix_instance_migration_batch", "batch_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The cases moved by one designer's click share a batch (a uuid4).
    batch_id: Mapped[str] = mapped_column(String(36))
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    process_id: Mapped[str] = mapped_column(String(100))
    from_definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"))
    to_definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"))
    # The engine state before the move, exactly as it was saved.
    state_before: Mapped[str] = mapped_column(EncryptedText)
    # The case's lock_version right after the move: equal later means untouched since.
    lock_version_after: Mapped[int]
    # What the move changed, by BPMN id only (no case data): changed, removed, added tasks.
    changes: Mapped[dict[str, Any]]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    reverted_at: Mapped[datetime | None]
    reverted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    revert_note: Mapped[str | None] = mapped_column(String(500))
