"""Erasure (GDPR art. 17) where the law allows it, and a clear refusal, with its ground, where not.

The city is a public authority: what it receives and draws up in a case is an
official document (allmän handling) that must be kept until a disposal
decision lets it go (arkivlagen 1990:782, 3 § and 10 §; the retention rules
in service/retention apply those decisions). The right to erasure does not
apply where processing is needed for a legal obligation or a task in the
public interest, or for archiving in the public interest (GDPR art. 17.3 b
and d). So:

- **may be erased**: notifications (passing messages, of no importance to
  any case), sign-in attempts, an account that never took part in a case
  (anonymised in place: the audit trail refers to it by id), and a person
  record no case refers to;
- **refused**: the cases (kept, then disposed of under the retention rules),
  an account that took part in cases (who handled a case is part of its
  record), anything while the account is still active (the data is still
  needed for the assignment: art. 17.1 a does not apply), a person with an
  alarm registered, and the audit trail (a security log, GDPR art. 32,
  append-only; it holds ids and field names, not what anyone wrote).

Every erasure is audited with ids and counts only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.orm import Session

from service.api.models import RegisteredAlarm
from service.audit.models import AuditEvent
from service.audit.service import record
from service.auth.models import LoginAttempt
from service.auth.second_factor_models import RecoveryCode, SecondFactor
from service.casenotes.models import Attachment, CaseComment
from service.cases.models import ProcessInstance
from service.cases.schedule_models import ScheduledStart
from service.errors import N_
from service.notify.models import Notification
from service.people.models import User, UserRole
from service.privacy.subject import Subject
from service.retention.models import LegalHold
from service.secrecy.models import ReleaseDecision
from service.tasks.models import HumanTask

ERASED_DISPLAY_NAME = "Raderat konto"

# The legal ground of each refusal, as shown (English msgids; Swedish on the page).
GROUND_ARCHIVE = N_(
    "The cases are official documents that must be kept until the retention rules dispose of "
    "them (the Archives Act 1990:782, sections 3 and 10). The right to erasure does not apply "
    "to data needed for a legal obligation, a task in the public interest or archiving in the "
    "public interest (GDPR art. 17.3 b and d)."
)
GROUND_HANDLER = N_(
    "The account took part in cases: who reported, handled or wrote what is part of those "
    "cases' official documents and is kept with them (the Archives Act; GDPR art. 17.3 b "
    "and d). The account can be deactivated instead."
)
GROUND_ACTIVE = N_(
    "The account is active: the data is still needed while the person has their assignment "
    "(GDPR art. 17.1 a does not apply). Deactivate the account first."
)
GROUND_ALARM = N_(
    "An alarm is registered to the person: the protective measure is in force and the alarm "
    "centre's events must find them (GDPR art. 17.3 b)."
)
GROUND_AUDIT = N_(
    "The audit trail is a security log (GDPR art. 32) that cannot be changed: it holds ids, "
    "field names and outcomes, never what anyone wrote, and is kept as evidence of who did "
    "what (GDPR art. 17.3 b and e)."
)
GROUND_NOTIFICATIONS = N_(
    "Notifications are passing messages of no importance to any case: they may be erased."
)
GROUND_LOGIN_ATTEMPTS = N_("Sign-in attempts are kept only for throttling: they may be erased.")
GROUND_ACCOUNT = N_(
    "The account took part in no case: its name, e-mail, sign-in details and roles are "
    "erased. The row stays, anonymised, because the audit trail refers to it by number."
)
GROUND_PERSON = N_("No case refers to the person: the person record is erased.")

NOTIFICATIONS = "notifications"
LOGIN_ATTEMPTS = "login_attempts"
ACCOUNT = "account"
PERSON = "person"
CASES = "cases"
AUDIT = "audit_events"


@dataclass(frozen=True)
class ErasureItem:
    key: str
    count: int
    allowed: bool
    ground: str  # an English msgid: the reason it may or may not be erased


@dataclass(frozen=True)
class ErasureResult:
    erased: dict[str, int]
    refused: list[str]


def _count(session: Session, stmt: Select[Any]) -> int:
    return int(session.scalar(stmt) or 0)


def _case_work(session: Session, account: User) -> int:
    """Rows in cases that name the account: it reported, handled, wrote or decided there."""
    me = account.id
    checks = (
        select(func.count()).where(ProcessInstance.started_by_id == me),
        select(func.count()).where(
            or_(HumanTask.completed_by_id == me, HumanTask.assignee_id == me)
        ),
        select(func.count()).where(CaseComment.author_id == me),
        select(func.count()).where(Attachment.uploaded_by_id == me),
        select(func.count()).where(or_(LegalHold.set_by_id == me, LegalHold.lifted_by_id == me)),
        select(func.count()).where(ReleaseDecision.decided_by_id == me),
    )
    return sum([_count(session, stmt) for stmt in checks])


def erasure_plan(session: Session, subject: Subject) -> list[ErasureItem]:
    """What may be erased and what may not, each with its ground. Changes nothing."""
    items: list[ErasureItem] = []
    account, person = subject.account, subject.person
    active = account is not None and account.active
    if account is not None:
        notes = _count(session, select(func.count()).where(Notification.user_id == account.id))
        items.append(ErasureItem(NOTIFICATIONS, notes, True, GROUND_NOTIFICATIONS))
        attempts = _count(
            session,
            select(func.count()).where(LoginAttempt.username == account.username),
        )
        items.append(ErasureItem(LOGIN_ATTEMPTS, attempts, True, GROUND_LOGIN_ATTEMPTS))
        if active:
            items.append(ErasureItem(ACCOUNT, 1, False, GROUND_ACTIVE))
        elif _case_work(session, account):
            items.append(ErasureItem(ACCOUNT, 1, False, GROUND_HANDLER))
        else:
            items.append(ErasureItem(ACCOUNT, 1, True, GROUND_ACCOUNT))
    if person is not None:
        cases = _count(
            session,
            select(func.count()).where(ProcessInstance.subject_person_id == person.id),
        )
        alarms = _count(session, select(func.count()).where(RegisteredAlarm.person_id == person.id))
        if cases:
            items.append(ErasureItem(CASES, cases, False, GROUND_ARCHIVE))
            items.append(ErasureItem(PERSON, 1, False, GROUND_ARCHIVE))
        elif alarms:
            items.append(ErasureItem(PERSON, 1, False, GROUND_ALARM))
        elif active:
            items.append(ErasureItem(PERSON, 1, False, GROUND_ACTIVE))
        else:
            items.append(ErasureItem(PERSON, 1, True, GROUND_PERSON))
    if account is not None:
        audit = _count(session, select(func.count()).where(AuditEvent.actor_id == account.id))
        if audit:
            items.append(ErasureItem(AUDIT, audit, False, GROUND_AUDIT))
    return items


def _anonymise(session: Session, account: User) -> None:
    session.execute(delete(UserRole).where(UserRole.user_id == account.id))
    session.execute(delete(SecondFactor).where(SecondFactor.user_id == account.id))
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == account.id))
    account.username = f"raderad-{account.id}"
    account.display_name = ERASED_DISPLAY_NAME
    account.email = None
    account.password_hash = None
    account.oidc_issuer = None
    account.oidc_subject = None
    account.person = None
    account.party = None
    account.organisation = None
    account.break_glass = False
    account.active = False
    account.session_epoch += 1  # any session left is signed out


def erase(session: Session, lead: User, subject: Subject) -> ErasureResult:
    """Erase what the plan allows; the caller has checked the lead's right and the request."""
    plan = erasure_plan(session, subject)
    audit_ids = subject.audit_ids
    allowed = {item.key for item in plan if item.allowed}
    erased: dict[str, int] = {}
    account, person = subject.account, subject.person
    if account is not None:
        if NOTIFICATIONS in allowed:
            result = session.execute(delete(Notification).where(Notification.user_id == account.id))
            erased[NOTIFICATIONS] = int(getattr(result, "rowcount", 0) or 0)
        if LOGIN_ATTEMPTS in allowed:
            result = session.execute(
                delete(LoginAttempt).where(LoginAttempt.username == account.username)
            )
            erased[LOGIN_ATTEMPTS] = int(getattr(result, "rowcount", 0) or 0)
        if ACCOUNT in allowed:
            _anonymise(session, account)
            erased[ACCOUNT] = 1
    if person is not None and PERSON in allowed:
        session.execute(delete(ScheduledStart).where(ScheduledStart.person_id == person.id))
        if account is not None and account.person_id == person.id:
            account.person = None
        session.flush()
        session.delete(person)
        erased[PERSON] = 1
    refused = sorted(item.key for item in plan if not item.allowed)
    record(session, lead, "privacy.erased", **audit_ids, erased=erased, refused=refused)
    session.flush()
    return ErasureResult(erased=erased, refused=refused)
