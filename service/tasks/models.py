"""A human task row mirrors one READY user task of a case (and stays as its record)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.cases.models import ProcessInstance
from service.crypto.types import EncryptedJSON
from service.db import Base, utcnow
from service.people.models import User


class TaskStatus(enum.StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Priority(enum.IntEnum):
    """Lower is more urgent, so that sorting ascending puts the urgent first."""

    URGENT = 1
    HIGH = 2
    NORMAL = 3


class HumanTask(Base):
    __tablename__ = "human_task"
    __table_args__ = (
        UniqueConstraint("instance_id", "task_uuid"),
        Index("ix_human_task_inbox", "status", "role", "due_at"),
        Index("ix_human_task_assignee", "assignee_id", "status"),
        # The inbox sorted by priority or by creation reads each role's open tasks
        # in index order (see tasks.queries._read).
        Index("ix_human_task_priority", "status", "role", "priority", "due_at"),
        Index("ix_human_task_created", "status", "role", "created_at"),
        # "Done by me": a person's completed tasks without reading everyone's.
        Index("ix_human_task_completed_by", "completed_by_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    task_uuid: Mapped[str] = mapped_column(String(36))
    bpmn_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(20))
    party_id: Mapped[int | None] = mapped_column(ForeignKey("party.id"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # When the current assignee took the task or was given it (None: never claimed,
    # e.g. an official's own task, assigned when it was created).
    claimed_at: Mapped[datetime | None]
    form_id: Mapped[str | None] = mapped_column(String(100))
    instructions: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=TaskStatus.OPEN.value)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime | None]
    priority: Mapped[int] = mapped_column(default=Priority.NORMAL.value, server_default="3")
    completed_at: Mapped[datetime | None]
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # What was submitted, validated and restricted to the form's fields: the
    # case page's record of who said what. Encrypted at rest (see service/crypto).
    submitted_data: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON)

    instance: Mapped[ProcessInstance] = relationship(lazy="joined")
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id], lazy="joined")
    completed_by: Mapped[User | None] = relationship(foreign_keys=[completed_by_id], lazy="joined")
