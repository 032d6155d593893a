"""A process definition version: the BPMN text and the forms it uses, frozen together."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, utcnow


class ProcessDefinition(Base):
    __tablename__ = "process_definition"
    __table_args__ = (
        UniqueConstraint("process_id", "version"),
        UniqueConstraint("process_id", "sha256"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int]
    name: Mapped[str] = mapped_column(String(200))
    # The large columns load only when asked for (DefinitionCache keeps what it parsed).
    bpmn_xml: Mapped[str] = mapped_column(Text, deferred=True)
    # Snapshot of every form the version uses, so a case always renders and
    # validates with the forms it was designed with.
    forms: Mapped[dict[str, Any]] = mapped_column(deferred=True)
    # The DMN decision tables the process calls, frozen with it (file name → XML).
    decisions: Mapped[dict[str, Any]] = mapped_column(deferred=True)
    # Beside the BPMN (processes/<id>.json): title, description, who may start it.
    meta: Mapped[dict[str, Any]]
    sha256: Mapped[str] = mapped_column(String(64))
    # The engine's serialized spec of this version, written by the first case
    # that saves; cases store only their task tree and borrow this on load.
    spec_json: Mapped[str | None] = mapped_column(Text, deferred=True)
    # The scenario tests stored beside the process (processes/<id>.scenarios.json):
    # kept with the version so that a draft made from it starts with them, but
    # not part of sha256: tests describe a version, they do not change it.
    scenarios: Mapped[list[Any] | None] = mapped_column(deferred=True)
    author: Mapped[str] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When this version last became the one new cases start on: at deploy, or
    # when a designer made an older version active again. The active version
    # is the one activated last (see catalog.latest_definition).
    activated_at: Mapped[datetime | None] = mapped_column(default=utcnow)


class ProcessDraft(Base):
    """A designer's unfinished next version of one process: edited, validated, tested, deployed.

    One draft per process, shared by the designers; lock_version stops one
    designer's save from silently overwriting another's.
    """

    __tablename__ = "process_draft"

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(100), unique=True)
    # The version the draft was made from: its diff and its "what changed" start there.
    base_definition_id: Mapped[int | None] = mapped_column(ForeignKey("process_definition.id"))
    bpmn_xml: Mapped[str] = mapped_column(Text)
    forms: Mapped[dict[str, Any]]
    decisions: Mapped[dict[str, Any]]
    meta: Mapped[dict[str, Any]]
    scenarios: Mapped[list[Any]]
    created_by: Mapped[str] = mapped_column(String(100))
    updated_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    lock_version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": lock_version}  # noqa: RUF012
