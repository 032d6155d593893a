"""System clients, the alarms the city has issued, and alarm events already received."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, utcnow


class ApiClient(Base):
    """A system that calls the API. Only a hash of its token is stored."""

    __tablename__ = "api_client"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(200), default="alarm_events")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class RegisteredAlarm(Base):
    """An alarm (burglar or personal) issued to an official by a protective measure."""

    __tablename__ = "registered_alarm"

    id: Mapped[int] = mapped_column(primary_key=True)
    alarm_id: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    kind: Mapped[str] = mapped_column(String(20))
    measure_case_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlarmReceipt(Base):
    """One row per alarm-centre event id: a repeated post returns the same case."""

    __tablename__ = "alarm_receipt"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(100), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("api_client.id"))
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
