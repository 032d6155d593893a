"""Audit events. Rows are never updated or deleted; database triggers enforce it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.db import Base, utcnow
from service.people.models import User


class AuditEvent(Base):
    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_instance", "instance_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    action: Mapped[str] = mapped_column(String(50))
    # Plain ids, not foreign keys: the trail outlives what it is about. A case
    # disposed of under its retention rule (service/retention) keeps its events,
    # which hold ids, field names and outcomes, never what anyone wrote.
    instance_id: Mapped[int | None]
    human_task_id: Mapped[int | None]
    # Field names, ids and outcomes only: never the values a person typed.
    details: Mapped[dict[str, Any]]

    actor: Mapped[User | None] = relationship(lazy="joined")


class AuditSeal(Base):
    """The hash chain over the audit trail, written by the worker in sealing order.

    ``seal`` = HMAC-SHA256(key, previous seal ‖ the event's canonical form).
    Kept in its own append-only table so that the events themselves are never
    updated; an edited, inserted or deleted event breaks the chain.
    """

    __tablename__ = "audit_seal"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    event_id: Mapped[int] = mapped_column(unique=True)
    seal: Mapped[str] = mapped_column(String(64))
    sealed_at: Mapped[datetime] = mapped_column(default=utcnow)
