"""Markers that make scheduled starts happen exactly once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, utcnow


class ScheduledStart(Base):
    """The yearly security conversation of one person for one due period, started once."""

    __tablename__ = "scheduled_start"
    __table_args__ = (UniqueConstraint("process_id", "person_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(100))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    period: Mapped[str] = mapped_column(String(20))  # e.g. the due date's ISO day
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
