"""One notification to one user. It holds a kind and ids, never what the case is about."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, utcnow


class Notification(Base):
    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_user", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    kind: Mapped[str] = mapped_column(String(20))  # new_task | escalation | reminder
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    human_task_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"))
    # A key into a fixed set of Swedish messages (notify.messages), not free text.
    topic: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]
    emailed_at: Mapped[datetime | None]
