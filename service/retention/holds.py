"""Legal hold (rättslig spärr): the security lead stops disposal of a case, with a reason.

A hold on a case also protects the cases linked to it (an incident and the
police report it started are evidence together). Setting and lifting are
audited; the reason stays in the hold row, never in the audit trail.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from service.audit.service import record
from service.auth import policy
from service.cases.models import CaseLink, ProcessInstance
from service.db import utcnow
from service.errors import N_, Conflict, Forbidden, InvalidInput
from service.people.models import User
from service.retention.models import LegalHold

MIN_REASON = 5
MAX_REASON = 1000


def active_hold(session: Session, instance_id: int) -> LegalHold | None:
    return session.scalar(
        select(LegalHold).where(LegalHold.instance_id == instance_id, LegalHold.lifted_at.is_(None))
    )


def holds_of(session: Session, instance_id: int) -> list[LegalHold]:
    """Every hold the case has had, newest first."""
    return list(
        session.scalars(
            select(LegalHold)
            .where(LegalHold.instance_id == instance_id)
            .order_by(LegalHold.id.desc())
        )
    )


def held_case_ids(session: Session) -> set[int]:
    return set(session.scalars(select(LegalHold.instance_id).where(LegalHold.lifted_at.is_(None))))


def linked_case_ids(session: Session, instance_id: int) -> set[int]:
    rows = session.execute(
        select(CaseLink.from_instance_id, CaseLink.to_instance_id).where(
            or_(CaseLink.from_instance_id == instance_id, CaseLink.to_instance_id == instance_id)
        )
    ).all()
    return {i for row in rows for i in row} - {instance_id}


def holding_case(session: Session, instance_id: int, held: set[int] | None = None) -> int | None:
    """The case whose hold stops disposal of this one (itself or a linked case), if any."""
    held = held_case_ids(session) if held is None else held
    if instance_id in held:
        return instance_id
    return next(iter(sorted(linked_case_ids(session, instance_id) & held)), None)


def _reason(text: str | None) -> str:
    cleaned = (text or "").strip()
    if len(cleaned) < MIN_REASON:
        raise InvalidInput(
            N_("Write why, for example the court and its case number (at least 5 characters).")
        )
    if len(cleaned) > MAX_REASON:
        raise InvalidInput(N_("The reason is too long: at most 1000 characters."))
    return cleaned


def set_hold(session: Session, lead: User, instance: ProcessInstance, reason: str) -> LegalHold:
    if not policy.can_set_legal_hold(lead, instance, session):
        raise Forbidden(N_("Only the security lead may set or lift a legal hold."))
    text = _reason(reason)
    if active_hold(session, instance.id) is not None:
        raise Conflict(N_("The case already has a legal hold."))
    hold = LegalHold(instance_id=instance.id, reason=text, set_by_id=lead.id, set_at=utcnow())
    session.add(hold)
    session.flush()
    record(session, lead, "case.legal_hold_set", instance_id=instance.id, hold=hold.id)
    return hold


def lift_hold(session: Session, lead: User, instance: ProcessInstance, reason: str) -> LegalHold:
    if not policy.can_set_legal_hold(lead, instance, session):
        raise Forbidden(N_("Only the security lead may set or lift a legal hold."))
    text = _reason(reason)
    hold = active_hold(session, instance.id)
    if hold is None:
        raise Conflict(N_("The case has no legal hold to lift."))
    hold.lifted_at = utcnow()
    hold.lifted_by_id = lead.id
    hold.lift_reason = text
    record(session, lead, "case.legal_hold_lifted", instance_id=instance.id, hold=hold.id)
    return hold
