"""Subject access (GDPR art. 15): everything the system holds about one person, for review.

The person is found as a person record (an official or political staff
member), a user account, or both when they are linked. What is gathered:

- the person record and the user account (with its roles and whether a second
  factor is set up, never secrets or hashes);
- every case about the person, with every answer, comment and attachment;
  every case they reported for someone else, and every case they worked on
  (only what they themselves wrote there);
- their notifications, alarms registered to them and their yearly-offer markers;
- the audit trail: what the account did, and who did what in the cases about them.

Nothing is left out silently: data that may have to be withheld is included
and marked for review, with the ground, so that the security lead decides
before anything is handed over. Marked are answers under a secrecy provision
that does not protect the person themselves (e.g. OSL 18 kap. 8 § security
measures; secrecy protecting the person does not apply against them, OSL 12
kap. 1 §); free text, which may name others (perpetrators, witnesses: GDPR
art. 15.4); everything in a case about someone else; file contents (listed,
not included); and the names of staff in the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from service.api.models import RegisteredAlarm
from service.audit.models import AuditEvent
from service.auth.second_factor_models import SecondFactor
from service.casenotes.models import Attachment, CaseComment
from service.cases.models import ProcessInstance
from service.cases.schedule_models import ScheduledStart
from service.context import Services
from service.engine import DefinitionError
from service.errors import N_, NotFound
from service.formdefs.definition import FieldDef, FormDef
from service.notify.models import Notification
from service.people.models import Person, User
from service.retention.holds import held_case_ids
from service.secrecy.grounds import ground as secrecy_ground
from service.tasks.models import HumanTask

SUBJECT_KINDS = ("people", "accounts")

# Why an item is marked for review, and the legal ground the reviewer weighs.
REVIEW_SECRET = "secret"  # noqa: S105 - not a password: the field's secrecy mark (its reference is the ground)
REVIEW_OTHER_PERSON = "other_person"
REVIEW_FREE_TEXT = "free_text"
REVIEW_FILE = "file"
REVIEW_STAFF = "staff"
THIRD_PARTIES = "GDPR art. 15.4"
STAFF_GROUND = "EU-domstolen C-579/21"

RELATION_SUBJECT = "subject"
RELATION_REPORTER = "reporter"
RELATION_HANDLER = "handler"


@dataclass(frozen=True)
class Review:
    code: str
    ground: str


@dataclass(frozen=True)
class Subject:
    person: Person | None
    account: User | None

    @property
    def label(self) -> str:
        if self.person is not None:
            return self.person.full_name
        return self.account.display_name if self.account is not None else ""

    @property
    def audit_ids(self) -> dict[str, int]:
        """The ids the audit trail names the subject by (never their name)."""
        ids = {}
        if self.person is not None:
            ids["person"] = self.person.id
        if self.account is not None:
            ids["user"] = self.account.id
        return ids


@dataclass(frozen=True)
class AnswerField:
    name: str
    label: str
    value: Any
    form: FormDef | None  # None: the case's version no longer has the form
    review: Review | None


@dataclass(frozen=True)
class TaskAnswers:
    task_id: int
    bpmn_id: str
    name: str
    form_id: str
    completed_at: datetime | None
    completed_by: str | None
    fields: list[AnswerField]


@dataclass(frozen=True)
class CommentEntry:
    id: int
    at: datetime
    author: str
    visibility: str
    body: str
    review: Review


@dataclass(frozen=True)
class AttachmentEntry:
    id: int
    at: datetime
    uploaded_by: str
    name: str
    media_type: str
    size: int
    description: str | None
    visibility: str
    review: Review


@dataclass
class CaseEntry:
    id: int
    process_id: str
    process_name: str
    version: int
    relations: list[str]
    status: str
    created_at: datetime
    completed_at: datetime | None
    on_behalf: bool
    subject_name: str | None
    reported_by: str | None
    legal_hold: bool
    answers: list[TaskAnswers] = field(default_factory=list)
    comments: list[CommentEntry] = field(default_factory=list)
    attachments: list[AttachmentEntry] = field(default_factory=list)


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    action: str
    case_id: int | None
    actor: str | None
    details: dict[str, Any]
    review: Review | None = None


@dataclass
class SubjectExport:
    generated_at: datetime
    subject: Subject
    cases: list[CaseEntry]
    notifications: list[Notification]
    alarms: list[RegisteredAlarm]
    scheduled_offers: list[ScheduledStart]
    second_factor: bool
    audit_of_account: list[AuditEntry]
    audit_about_them: list[AuditEntry]

    @property
    def review_count(self) -> int:
        count = sum(
            1 for case in self.cases for task in case.answers for f in task.fields if f.review
        )
        count += sum(len(case.comments) + len(case.attachments) for case in self.cases)
        return count + sum(1 for entry in self.audit_about_them if entry.review)


def resolve_subject(session: Session, kind: str, subject_id: int) -> Subject:
    """The person and account behind ``/privacy/<kind>/<id>``; 404 when neither exists."""
    person: Person | None = None
    account: User | None = None
    if kind == "people":
        person = session.get(Person, subject_id)
        if person is not None:
            account = session.scalar(select(User).where(User.person_id == person.id))
    elif kind == "accounts":
        account = session.get(User, subject_id)
        if account is not None:
            person = account.person
    if person is None and account is None:
        raise NotFound(N_("There is no such person or account."))
    return Subject(person=person, account=account)


def _free_text(f: FieldDef) -> bool:
    return f.type == "string" and f.enum is None and f.widget in ("text", "textarea")


def _field_review(f: FieldDef, own_case: bool) -> Review | None:
    if not own_case:
        return Review(REVIEW_OTHER_PERSON, THIRD_PARTIES)
    mark = secrecy_ground(f.secret) if f.secret else None
    if mark is not None and not mark.protects_subject:
        return Review(REVIEW_SECRET, mark.reference)
    if _free_text(f):
        return Review(REVIEW_FREE_TEXT, THIRD_PARTIES)
    return None


def _answers(
    services: Services, instance: ProcessInstance, tasks: list[HumanTask], own_case: bool
) -> list[TaskAnswers]:
    found = []
    for task in tasks:
        if not task.form_id or not task.submitted_data:
            continue
        data = task.submitted_data
        try:
            form: FormDef | None = services.definitions.form(instance.definition, task.form_id)
        except DefinitionError:
            form = None  # the version lost its form: the answers are given under their names
        if form is not None:
            fields = [
                AnswerField(f.name, f.label, data[f.name], form, _field_review(f, own_case))
                for f in form.fields
                if data.get(f.name) not in (None, "", [])
            ]
        else:
            review = Review(REVIEW_FREE_TEXT if own_case else REVIEW_OTHER_PERSON, THIRD_PARTIES)
            fields = [
                AnswerField(name, name, value, None, review)
                for name, value in sorted(data.items())
                if value not in (None, "", [])
            ]
        found.append(
            TaskAnswers(
                task_id=task.id,
                bpmn_id=task.bpmn_id,
                name=task.name,
                form_id=task.form_id,
                completed_at=task.completed_at,
                completed_by=task.completed_by.display_name if task.completed_by else None,
                fields=fields,
            )
        )
    return found


def _case_ids(session: Session, subject: Subject) -> dict[int, list[str]]:
    relations: dict[int, list[str]] = {}

    def add(ids: Any, relation: str) -> None:
        for case_id in ids:
            relations.setdefault(case_id, [])
            if relation not in relations[case_id]:
                relations[case_id].append(relation)

    if subject.person is not None:
        add(
            session.scalars(
                select(ProcessInstance.id).where(
                    ProcessInstance.subject_person_id == subject.person.id
                )
            ),
            RELATION_SUBJECT,
        )
    if subject.account is not None:
        me = subject.account.id
        add(
            session.scalars(select(ProcessInstance.id).where(ProcessInstance.started_by_id == me)),
            RELATION_REPORTER,
        )
        for stmt in (
            select(HumanTask.instance_id).where(HumanTask.completed_by_id == me),
            select(CaseComment.instance_id).where(CaseComment.author_id == me),
            select(Attachment.instance_id).where(Attachment.uploaded_by_id == me),
        ):
            # Worked on it: said only of a case they are not already the subject or reporter of.
            add(
                [i for i in session.scalars(stmt.distinct()) if i not in relations],
                RELATION_HANDLER,
            )
    return relations


def _case_entry(
    services: Services,
    session: Session,
    instance: ProcessInstance,
    relations: list[str],
    subject: Subject,
    held: set[int],
) -> CaseEntry:
    own = RELATION_SUBJECT in relations
    me = subject.account.id if subject.account is not None else None
    tasks = list(
        session.scalars(
            select(HumanTask).where(HumanTask.instance_id == instance.id).order_by(HumanTask.id)
        )
    )
    comments = list(
        session.scalars(
            select(CaseComment)
            .where(CaseComment.instance_id == instance.id)
            .order_by(CaseComment.id)
        )
    )
    attachments = list(
        session.scalars(
            select(Attachment).where(Attachment.instance_id == instance.id).order_by(Attachment.id)
        )
    )
    if not own:
        # Someone else's case: only what this person wrote there themselves.
        tasks = [t for t in tasks if me is not None and t.completed_by_id == me]
        comments = [c for c in comments if c.author_id == me]
        attachments = [a for a in attachments if a.uploaded_by_id == me]
    text_review = Review(REVIEW_FREE_TEXT if own else REVIEW_OTHER_PERSON, THIRD_PARTIES)
    file_review = Review(REVIEW_FILE, THIRD_PARTIES)
    return CaseEntry(
        id=instance.id,
        process_id=instance.process_id,
        process_name=instance.definition.name,
        version=instance.definition.version,
        relations=relations,
        status=instance.status,
        created_at=instance.created_at,
        completed_at=instance.completed_at,
        on_behalf=instance.on_behalf,
        subject_name=instance.subject.full_name if instance.subject else None,
        reported_by=instance.started_by.display_name if instance.started_by else None,
        legal_hold=instance.id in held,
        answers=_answers(services, instance, tasks, own),
        comments=[
            CommentEntry(
                id=c.id,
                at=c.created_at,
                author=c.author.display_name,
                visibility=c.visibility,
                body=c.body,
                review=text_review,
            )
            for c in comments
        ],
        attachments=[
            AttachmentEntry(
                id=a.id,
                at=a.created_at,
                uploaded_by=a.uploaded_by.display_name,
                name=a.original_name,
                media_type=a.media_type,
                size=a.size,
                description=a.description,
                visibility=a.visibility,
                review=file_review,
            )
            for a in attachments
        ],
    )


def _audit_entry(event: AuditEvent, review: Review | None = None) -> AuditEntry:
    return AuditEntry(
        id=event.id,
        at=event.at,
        action=event.action,
        case_id=event.instance_id,
        actor=event.actor.display_name if event.actor else None,
        details=dict(event.details),
        review=review,
    )


def _names_id(session: Session, key: str, value: int) -> ColumnElement[bool]:
    """``details[key]`` is the id ``value``. Compared as text on PostgreSQL, where a cast
    would fail on an event whose ``key`` holds something else; SQLite compares numbers."""
    element = AuditEvent.details[key]
    if session.get_bind().dialect.name == "postgresql":
        condition: ColumnElement[bool] = element.as_string() == str(value)
    else:
        condition = element.as_integer() == value
    return condition


def _account_condition(session: Session, account: User) -> ColumnElement[bool]:
    """Events the account did, and events about the account (by id, or its sign-in name)."""
    return or_(
        AuditEvent.actor_id == account.id,
        _names_id(session, "user", account.id),
        _names_id(session, "user_id", account.id),
        AuditEvent.details["username"].as_string() == account.username,
    )


def build_export(
    services: Services, session: Session, subject: Subject, now: datetime
) -> SubjectExport:
    relations = _case_ids(session, subject)
    held = held_case_ids(session)
    cases = [
        _case_entry(services, session, instance, relations[instance.id], subject, held)
        for instance in session.scalars(
            select(ProcessInstance)
            .where(ProcessInstance.id.in_(list(relations)))
            .order_by(ProcessInstance.id)
        )
    ]
    account, person = subject.account, subject.person
    own_cases = [c.id for c in cases if RELATION_SUBJECT in c.relations]
    by_them: list[AuditEntry] = []
    if account is not None:
        by_them = [
            _audit_entry(e)
            for e in session.scalars(
                select(AuditEvent)
                .where(_account_condition(session, account))
                .order_by(AuditEvent.id)
            )
        ]
    about_them: list[AuditEntry] = []
    if own_cases:
        others = select(AuditEvent).where(AuditEvent.instance_id.in_(own_cases))
        if account is not None:
            others = others.where(
                or_(AuditEvent.actor_id.is_(None), AuditEvent.actor_id != account.id)
            )
        staff = Review(REVIEW_STAFF, STAFF_GROUND)
        about_them = [
            _audit_entry(e, staff if e.actor_id is not None else None)
            for e in session.scalars(others.order_by(AuditEvent.id))
        ]
    return SubjectExport(
        generated_at=now,
        subject=subject,
        cases=cases,
        notifications=list(
            session.scalars(
                select(Notification)
                .where(Notification.user_id == account.id)
                .order_by(Notification.id)
            )
        )
        if account is not None
        else [],
        alarms=list(
            session.scalars(select(RegisteredAlarm).where(RegisteredAlarm.person_id == person.id))
        )
        if person is not None
        else [],
        scheduled_offers=list(
            session.scalars(select(ScheduledStart).where(ScheduledStart.person_id == person.id))
        )
        if person is not None
        else [],
        second_factor=account is not None
        and session.scalar(select(SecondFactor.id).where(SecondFactor.user_id == account.id))
        is not None,
        audit_of_account=by_them,
        audit_about_them=about_them,
    )


def search_subjects(session: Session, query: str) -> tuple[list[Person], list[User]]:
    """People and accounts whose name (or user name) contains ``query``; at most 50 of each."""
    like = f"%{query}%"
    people = list(
        session.scalars(
            select(Person).where(Person.full_name.ilike(like)).order_by(Person.full_name).limit(50)
        )
    )
    accounts = list(
        session.scalars(
            select(User)
            .where(
                User.person_id.is_(None),
                or_(User.display_name.ilike(like), User.username.ilike(like)),
            )
            .order_by(User.display_name)
            .limit(50)
        )
    )
    return people, accounts
