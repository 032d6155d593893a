"""A case: one process instance and the columns the service queries without the engine."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.crypto.types import EncryptedText
from service.db import Base, utcnow
from service.definitions.models import ProcessDefinition
from service.people.models import Person, User


class CaseStatus(enum.StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    ERROR = "error"


class CaseLink(Base):
    """One case started another (the model's case/start): followed both ways."""

    __tablename__ = "case_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    from_instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    to_instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    element_id: Mapped[str] = mapped_column(String(200))  # the BPMN task that asked for it
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProcessInstance(Base):
    __tablename__ = "process_instance"
    __table_args__ = (
        Index("ix_process_instance_status", "status"),
        Index("ix_process_instance_next_wakeup", "next_wakeup"),
        Index("ix_process_instance_subject", "subject_person_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"))
    process_id: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default=CaseStatus.RUNNING.value)
    subject_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    # The subject's party and the organisation involved, copied at start so
    # that scoping questions are answered by the database, not the engine.
    party_id: Mapped[int | None] = mapped_column(ForeignKey("party.id"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    on_behalf: Mapped[bool] = mapped_column(default=False)
    # The engine's own JSON (SpiffWorkflow serializer format 1.5). Kept as
    # text: it is opaque to the service and never queried into. Encrypted at
    # rest: every answer of the case (addresses, threats, crisis notes) is in it.
    state: Mapped[str] = mapped_column(EncryptedText)
    lock_version: Mapped[int] = mapped_column(default=1)
    next_wakeup: Mapped[datetime | None]
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]

    definition: Mapped[ProcessDefinition] = relationship(lazy="joined")
    subject: Mapped[Person | None] = relationship(lazy="joined")
    started_by: Mapped[User | None] = relationship(lazy="select")

    __mapper_args__ = {"version_id_col": lock_version}  # noqa: RUF012
