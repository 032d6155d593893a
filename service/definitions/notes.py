"""The designer's note on a deploy, a move of cases or a revert: required, short, kept in the audit trail."""

from __future__ import annotations

from service.errors import N_, InvalidInput

NOTE_MAX = 500  # the width of process_definition.note and instance_migration.note


def required_note(text: str | None, missing: str) -> str:
    """The trimmed note, or InvalidInput: ``missing`` (an N_ message) when empty, or too long."""
    note = (text or "").strip()
    if not note:
        raise InvalidInput(missing)
    if len(note) > NOTE_MAX:
        raise InvalidInput(N_("The note may be at most 500 characters. Shorten it."))
    return note
