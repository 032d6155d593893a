"""Seal the audit trail into an HMAC chain, and verify it.

The worker seals new events in id order (one sealer at a time: a PostgreSQL
advisory lock; SQLite has one writer anyway). Verification recomputes every
seal from the events as stored: an edited event no longer matches its seal,
a deleted one leaves a seal without its event, and an event inserted behind
the sealer's back stays unsealed while younger events are sealed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from service.audit.models import AuditEvent, AuditSeal
from service.context import Services

GENESIS = "0" * 64
ADVISORY_LOCK = 734_201  # any constant the application owns


def audit_key(secret_key: str) -> bytes:
    explicit = os.environ.get("TRYGG_AUDIT_KEY")
    if explicit:
        return explicit.encode("utf-8")
    # Derived, so the embedded default needs no extra setting.
    return hmac.new(secret_key.encode("utf-8"), b"trygg audit chain", hashlib.sha256).digest()


def canonical(event: AuditEvent) -> bytes:
    return json.dumps(
        [
            event.id,
            event.at.isoformat(),
            event.actor_id,
            event.action,
            event.instance_id,
            event.human_task_id,
            event.details,
        ],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    ).encode("utf-8")


def compute_seal(key: bytes, previous: str, event: AuditEvent) -> str:
    return hmac.new(key, previous.encode("ascii") + canonical(event), hashlib.sha256).hexdigest()


def seal_new_events(services: Services, limit: int = 2000) -> int:
    key = audit_key(services.settings.secret_key)
    with services.db.sessions() as session:
        if services.db.is_postgres:
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK})
        last = session.scalars(select(AuditSeal).order_by(AuditSeal.seq.desc()).limit(1)).first()
        seq, previous = (last.seq, last.seal) if last else (0, GENESIS)
        sealed_ids = select(AuditSeal.event_id)
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.id.not_in(sealed_ids))
            .order_by(AuditEvent.id)
            .limit(limit)
        ).all()
        for event in events:
            seq += 1
            previous = compute_seal(key, previous, event)
            session.add(AuditSeal(seq=seq, event_id=event.id, seal=previous))
        session.commit()
        return len(events)


@dataclass
class Verification:
    checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(session: Session, secret_key: str) -> Verification:
    key = audit_key(secret_key)
    result = Verification()
    previous = GENESIS
    expected_seq = 1
    for seal in session.scalars(select(AuditSeal).order_by(AuditSeal.seq)):
        if seal.seq != expected_seq:
            result.problems.append(f"seal {expected_seq} is missing (next is {seal.seq})")
        expected_seq = seal.seq + 1
        event = session.get(AuditEvent, seal.event_id)
        if event is None:
            result.problems.append(f"event {seal.event_id} (seal {seal.seq}) was deleted")
        elif not hmac.compare_digest(compute_seal(key, previous, event), seal.seal):
            result.problems.append(f"event {seal.event_id} (seal {seal.seq}) was changed")
        previous = seal.seal
        result.checked += 1
    newest_sealed = session.scalar(select(func.max(AuditSeal.event_id))) or 0
    stray = session.scalars(
        select(AuditEvent.id).where(
            AuditEvent.id < newest_sealed, AuditEvent.id.not_in(select(AuditSeal.event_id))
        )
    ).all()
    for event_id in stray:
        result.problems.append(f"event {event_id} was inserted outside the chain")
    return result
