"""Make an older version the one new cases start on again: the way back from a deploy that went wrong.

A version's content is stored once (sha256 is unique per process), so going
back is not a new deploy of old content but a new activation of the old
row. Running cases are not touched; moving them is instance_migration's job.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from service.audit.service import record
from service.db import utcnow
from service.definitions.catalog import latest_definition
from service.definitions.models import ProcessDefinition
from service.definitions.notes import required_note
from service.errors import N_, Conflict
from service.people.models import User


class AlreadyActive(Conflict):
    def __init__(self, version: int) -> None:
        super().__init__(N_("Version %(version)s is already the active version."), version=version)


def activate_version(
    session: Session, actor: User, definition: ProcessDefinition, note: str | None
) -> ProcessDefinition:
    """Make ``definition`` active; returns the version that was active before."""
    active = latest_definition(session, definition.process_id)
    if active is None or active.id == definition.id:
        raise AlreadyActive(definition.version)
    clean = required_note(
        note,
        N_(
            "Write a note saying why this version is made active again: it is kept in the audit trail."
        ),
    )
    definition.activated_at = utcnow()
    session.flush()
    record(
        session,
        actor,
        "process.activated",
        process_id=definition.process_id,
        version=definition.version,
        previous_version=active.version,
        note=clean,
    )
    return active
