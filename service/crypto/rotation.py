"""Re-encrypt every encrypted column under the current key, while the service runs.

Each batch is its own short transaction, found by keyset (``id > last``) so
that no batch holds locks for long. A row is rewritten only if it is still
exactly what was read (the raw stored value, and ``lock_version`` where the
table has one): a row the service changed meanwhile is skipped and looked at
again at the end; the service itself already wrote it under the current key,
provided every process was given the new key list before the rotation began.
Rotating does not change what a row means, so it does not raise
``lock_version``: a case page open during the rotation saves as usual.

Plaintext rows (written before encryption existed) are encrypted on the way.
The same code decrypts everything again for migration 0010's downgrade.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Text,
    and_,
    cast,
    column,
    func,
    inspect,
    select,
    table,
    update,
)
from sqlalchemy.sql.elements import ColumnElement

from service.crypto.keys import PREFIX, FieldCipher, cipher, is_encrypted
from service.db import JSONType


@dataclass(frozen=True)
class Target:
    """One encrypted column."""

    table: str
    column: str
    is_json: bool
    version_column: str | None = None

    @property
    def label(self) -> str:
        return f"{self.table}.{self.column}"


# Every column that service/crypto/types.py encrypts. A new encrypted column
# is added here too, or rotation would leave it under the old key.
TARGETS: tuple[Target, ...] = (
    Target("process_instance", "state", is_json=False, version_column="lock_version"),
    Target("human_task", "submitted_data", is_json=True),
    Target("user_second_factor", "secret", is_json=False),
    Target("case_comment", "body", is_json=False),
    Target("case_attachment", "original_name", is_json=False),
    Target("case_attachment", "description", is_json=False),
    Target("legal_hold", "reason", is_json=False),
    Target("legal_hold", "lift_reason", is_json=False),
    Target("release_decision", "requester", is_json=False),
    Target("instance_migration", "state_before", is_json=False),
)


@dataclass
class TargetReport:
    label: str
    rewritten: int = 0  # re-encrypted (or encrypted for the first time, or decrypted)
    changed_meanwhile: int = 0  # the service wrote the row during the pass: looked at again
    left: int = 0  # still not under the current key after the retries


@dataclass
class RotationReport:
    targets: list[TargetReport] = field(default_factory=list)

    @property
    def rewritten(self) -> int:
        return sum(t.rewritten for t in self.targets)

    @property
    def left(self) -> int:
        return sum(t.left for t in self.targets)


def _raw_table(target: Target) -> Any:
    value_type = JSONType if target.is_json else Text()
    columns = [column("id"), column(target.column, value_type)]
    if target.version_column:
        columns.append(column(target.version_column))
    return table(target.table, *columns)


def _as_text(target: Target, raw: Any) -> ColumnElement[Any]:
    """The stored value as text: a JSON column holds its encrypted form as a JSON string."""
    value = raw.c[target.column]
    return cast(value, Text) if target.is_json else value


def _prefix_pattern(target: Target, prefix: str) -> str:
    return ('"' if target.is_json else "") + prefix + "%"


def _needs_work(target: Target, raw: Any, into: FieldCipher | None) -> ColumnElement[bool]:
    """Rows not yet in the wanted form: under another key, or plaintext; or (decrypting) encrypted."""
    text_value = _as_text(target, raw)
    present = raw.c[target.column].is_not(None)
    if into is None:
        return and_(present, text_value.like(_prefix_pattern(target, PREFIX)))
    return and_(present, text_value.not_like(_prefix_pattern(target, into.current_prefix)))


def _plaintext(target: Target, stored: Any, source: FieldCipher) -> str | None:
    """The value as the application writes it (text; for JSON its serialized document)."""
    if target.is_json:
        if isinstance(stored, str) and is_encrypted(stored):
            return source.decrypt_text(stored)
        if stored is None:
            return None
        return json.dumps(stored, ensure_ascii=False, separators=(",", ":"))
    return source.decrypt_text(stored) if isinstance(stored, str) else None


def _rewritten(target: Target, plaintext: str, into: FieldCipher | None) -> Any:
    if into is not None:
        return into.encrypt_text(plaintext)
    return json.loads(plaintext) if target.is_json else plaintext


def rewrite_batch(
    conn: Connection,
    target: Target,
    after_id: int,
    limit: int,
    into: FieldCipher | None,
    source: FieldCipher,
    only_ids: list[int] | None = None,
) -> tuple[int, int, list[int]]:
    """Rewrite up to ``limit`` rows after ``after_id``: (last id seen, rows rewritten, ids skipped).

    ``into`` None decrypts to plaintext (the downgrade). ``source`` opens the
    old values (it holds every key, old and new).
    """
    raw = _raw_table(target)
    text_value = _as_text(target, raw).label("text_value")
    wanted = [raw.c.id, raw.c[target.column], text_value]
    if target.version_column:
        wanted.append(raw.c[target.version_column])
    query = select(*wanted).where(raw.c.id > after_id, _needs_work(target, raw, into))
    if only_ids is not None:
        query = query.where(raw.c.id.in_(only_ids))
    rows = conn.execute(query.order_by(raw.c.id).limit(limit)).all()
    rewritten, skipped = 0, []
    for row in rows:
        plaintext = _plaintext(target, row[1], source)
        if plaintext is None or plaintext == "null":
            continue  # nothing to protect
        unchanged = [raw.c.id == row.id, _as_text(target, raw) == row.text_value]
        if target.version_column:
            unchanged.append(raw.c[target.version_column] == row[3])
        result = conn.execute(
            update(raw)
            .where(*unchanged)
            .values({target.column: _rewritten(target, plaintext, into)})
        )
        if result.rowcount == 1:
            rewritten += 1
        else:
            skipped.append(int(row.id))
    last = int(rows[-1].id) if rows else after_id
    return (last if rows else -1), rewritten, skipped


def _pass(
    engine: Engine,
    target: Target,
    into: FieldCipher | None,
    source: FieldCipher,
    batch_size: int,
    only_ids: list[int] | None,
    progress: Callable[[str], None] | None,
) -> tuple[int, list[int]]:
    after, rewritten = 0, 0
    skipped: list[int] = []
    while True:
        with engine.begin() as conn:  # one short transaction per batch
            last, done, missed = rewrite_batch(
                conn, target, after, batch_size, into, source, only_ids
            )
        if last < 0:
            return rewritten, skipped
        rewritten += done
        skipped += missed
        after = last
        if progress is not None and done:
            progress(f"{target.label}: {rewritten} omkrypterade hittills")


def rotate(
    engine: Engine,
    batch_size: int = 200,
    retries: int = 3,
    into: FieldCipher | None = None,
    decrypt: bool = False,
    progress: Callable[[str], None] | None = None,
) -> RotationReport:
    """Bring every encrypted column under the current first key (or, ``decrypt``, to plaintext)."""
    source = cipher()
    target_cipher = None if decrypt else (into or source)
    report = RotationReport()
    for target in TARGETS:
        found = TargetReport(target.label)
        rewritten, skipped = _pass(
            engine, target, target_cipher, source, batch_size, None, progress
        )
        found.rewritten += rewritten
        found.changed_meanwhile += len(skipped)
        for _ in range(retries):
            if not skipped:
                break
            rewritten, skipped = _pass(
                engine, target, target_cipher, source, batch_size, skipped, progress
            )
            found.rewritten += rewritten
        found.left = remaining(engine, target, target_cipher)
        report.targets.append(found)
    return report


def remaining(engine: Engine, target: Target, into: FieldCipher | None) -> int:
    """Rows of ``target`` still not in the wanted form (JSON nulls aside)."""
    raw = _raw_table(target)
    with engine.connect() as conn:
        query = select(func.count()).where(
            _needs_work(target, raw, into), _as_text(target, raw) != "null"
        )
        return int(conn.execute(query).scalar_one())


def key_usage(engine: Engine) -> dict[str, dict[str, int]]:
    """Per column: how many rows are under each key id, and how many are plaintext."""
    usage: dict[str, dict[str, int]] = {}
    for target in TARGETS:
        raw = _raw_table(target)
        text_value = _as_text(target, raw)
        offset = 2 if target.is_json else 1
        kid = func.substr(text_value, offset + len(PREFIX), 8)
        encrypted = text_value.like(_prefix_pattern(target, PREFIX))
        counts: dict[str, int] = {}
        with engine.connect() as conn:
            for key, count in conn.execute(
                select(kid, func.count()).where(encrypted).group_by(kid)
            ).all():
                counts[str(key)] = int(count)
            plain = conn.execute(
                select(func.count()).where(
                    raw.c[target.column].is_not(None), ~encrypted, text_value != "null"
                )
            ).scalar_one()
        counts["plaintext"] = int(plain)
        usage[target.label] = counts
    return usage


def rotate_in_transaction(conn: Connection, decrypt: bool = False, batch_size: int = 500) -> int:
    """Migration 0010: the same rewrite inside the migration's own transaction."""
    source = cipher()
    into = None if decrypt else source
    total = 0
    inspector = inspect(conn)
    for target in TARGETS:
        # At this revision a later target's table or column may not exist yet.
        if not inspector.has_table(target.table) or target.column not in {
            c["name"] for c in inspector.get_columns(target.table)
        }:
            continue
        after = 0
        while True:
            last, done, _skipped = rewrite_batch(conn, target, after, batch_size, into, source)
            if last < 0:
                break
            total += done
            after = last
    return total
