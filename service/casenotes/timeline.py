"""The case page's story: a plain summary, then every step, decision, comment and file in order.

Everything here is filtered for the viewer: comments and attachments by the
policy's visibility levels, answers and decisions by the forms' ``visible_to``
(a decision on an answer someone may not read is not shown to them either).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from service.audit.models import AuditEvent
from service.auth import policy
from service.casenotes.attachments import attachments_visible_to
from service.casenotes.comments import comments_visible_to
from service.casenotes.decisions import decision_points
from service.casenotes.models import Attachment, CaseComment
from service.cases.models import CaseLink, ProcessInstance
from service.context import Services
from service.engine.errors import DefinitionError, EngineError
from service.engine.outcomes import outcomes
from service.formdefs import FormDef
from service.people.models import Organisation, Party, User
from service.tasks.models import HumanTask, TaskStatus

log = logging.getLogger(__name__)

START_TASK = "start"  # the bpmn_id of the start form's record (cases/service.py)

# When two entries share a moment, the order a reader expects. Decisions take
# the rank of the step that led to them and come right after it.
_RANK = {"started": 0, "task": 1, "linked": 3, "comment": 4, "attachment": 5}
_LAST = 9


@dataclass
class Entry:
    at: datetime
    kind: str  # started | task | decisions | linked | comment | attachment | closed | error
    actor: User | None = None
    task: HumanTask | None = None
    form: FormDef | None = None
    decisions: list[tuple[str, str]] = field(default_factory=list)  # (question, outcome)
    comment: CaseComment | None = None
    attachment: Attachment | None = None
    linked: ProcessInstance | None = None
    linked_visible: bool = False
    sequence: int = 0
    rank: int | None = None

    @property
    def sort_key(self) -> tuple[datetime, int, int, int]:
        rank = self.rank if self.rank is not None else _RANK.get(self.kind, _LAST)
        return (self.at, rank, self.sequence, 1 if self.kind == "decisions" else 0)


@dataclass(frozen=True)
class Handler:
    """Who is handling an open step: a person, or a group described by role and scope."""

    task: HumanTask
    person: User | None
    role: str
    scope: str | None  # the party's short name or the organisation's name


@dataclass
class CaseStory:
    instance: ProcessInstance
    started_from: ProcessInstance | None
    started_from_visible: bool
    handlers: list[Handler]
    entries: list[Entry]
    comments: list[CaseComment]
    attachments: list[Attachment]


def build_story(
    services: Services,
    session: Session,
    user: User,
    instance: ProcessInstance,
    tasks: list[HumanTask] | None = None,
) -> CaseStory:
    """The summary's facts and the timeline, for a user already allowed to see the case.

    ``tasks``: every human task of the case, when the caller has them already.
    """
    if tasks is None:
        tasks = list(
            session.scalars(
                select(HumanTask).where(HumanTask.instance_id == instance.id).order_by(HumanTask.id)
            )
        )
    forms = _forms(services, instance, tasks)
    comments = comments_visible_to(session, user, instance.id)
    attachments = attachments_visible_to(session, user, instance.id)
    entries: list[Entry] = []
    start_task = next((t for t in tasks if t.bpmn_id == START_TASK), None)
    entries.append(
        Entry(
            at=instance.created_at,
            kind="started",
            actor=instance.started_by,
            task=start_task,
            form=forms.get(start_task.form_id) if start_task and start_task.form_id else None,
        )
    )
    for task in tasks:
        if task.status == TaskStatus.COMPLETED.value and task.bpmn_id != START_TASK:
            entries.append(
                Entry(
                    at=task.completed_at or task.created_at,
                    kind="task",
                    actor=task.completed_by,
                    task=task,
                    form=forms.get(task.form_id) if task.form_id else None,
                    sequence=task.id,
                )
            )
    entries += _decision_entries(services, user, instance, tasks, forms)
    started_from, started_from_visible = None, False
    for link, other, visible in _links(session, user, instance.id):
        if link.to_instance_id == instance.id:
            started_from, started_from_visible = other, visible
            continue
        entries.append(
            Entry(
                at=link.created_at,
                kind="linked",
                linked=other,
                linked_visible=visible,
                sequence=link.id,
            )
        )
    entries += [
        Entry(at=c.created_at, kind="comment", actor=c.author, comment=c, sequence=c.id)
        for c in comments
    ]
    entries += [
        Entry(at=a.created_at, kind="attachment", actor=a.uploaded_by, attachment=a, sequence=a.id)
        for a in attachments
    ]
    if instance.completed_at is not None:
        entries.append(Entry(at=instance.completed_at, kind="closed"))
    elif instance.status == "error":
        entries.append(Entry(at=instance.updated_at, kind="error"))
    entries.sort(key=lambda e: e.sort_key)
    return CaseStory(
        instance=instance,
        started_from=started_from,
        started_from_visible=started_from_visible,
        handlers=_handlers(session, tasks),
        entries=entries,
        comments=comments,
        attachments=attachments,
    )


def _forms(
    services: Services, instance: ProcessInstance, tasks: list[HumanTask]
) -> dict[str, FormDef]:
    """Every form of the version (from its cached parse: the forms column stays unloaded)."""
    parsed = services.definitions.parsed(instance.definition)
    form_ids = {task.form for task in parsed.user_tasks if task.form}
    if parsed.start_form:
        form_ids.add(parsed.start_form)
    forms = {
        form_id: services.definitions.form(instance.definition, form_id)
        for form_id in sorted(form_ids)
    }
    for task in tasks:
        if task.form_id and task.form_id not in forms:
            forms[task.form_id] = services.definitions.form(instance.definition, task.form_id)
    return forms


def hidden_fields(forms: dict[str, FormDef], user: User) -> set[str]:
    """Names of answers in this process that the user's roles may not read."""
    roles = frozenset(role.value for role in user.roles)
    return {f.name for form in forms.values() for f in form.fields if not f.readable_by(roles)}


# Decisions of a saved case state, by a digest of that state: the same saved
# state always took the same ways, so the engine is read once per saved state.
_DECISIONS_CACHE_SIZE = 512
_decisions_cache: OrderedDict[tuple[int, bytes], list[tuple[str, str, str | None]]] = OrderedDict()
_decisions_lock = threading.Lock()


def _decisions_of(
    services: Services, instance: ProcessInstance, task_uuids: set[str]
) -> list[tuple[str, str, str | None]]:
    """(bpmn id, outcome in words, uuid of the user task that led to it), in the order taken."""
    digest = hashlib.blake2b(instance.state.encode(), digest_size=20).digest()
    key = (instance.definition_id, digest)
    with _decisions_lock:
        hit = _decisions_cache.get(key)
        if hit is not None:
            _decisions_cache.move_to_end(key)
            return hit
    points = decision_points(instance.definition)
    found: list[tuple[str, str, str | None]] = []
    if points:
        handle = services.load_case(instance)
        for outcome in outcomes(handle, points.keys(), task_uuids):
            text = points[outcome.bpmn_id].describe(outcome.taken, outcome.data)
            if text is not None:
                found.append((outcome.bpmn_id, text, outcome.after_task_uuid))
    with _decisions_lock:
        _decisions_cache[key] = found
        while len(_decisions_cache) > _DECISIONS_CACHE_SIZE:
            _decisions_cache.popitem(last=False)
    return found


def _decision_entries(
    services: Services,
    user: User,
    instance: ProcessInstance,
    tasks: list[HumanTask],
    forms: dict[str, FormDef],
) -> list[Entry]:
    """The ways the process went, each placed right after the step that led to it."""
    by_uuid = {t.task_uuid: t for t in tasks}
    try:
        points = decision_points(instance.definition)
        found = _decisions_of(services, instance, set(by_uuid))
    except (EngineError, DefinitionError):
        # The timeline without decisions is still the case's record; the
        # error itself is on the case (status) and in the operators' log.
        log.warning("case %s: decisions could not be read for the timeline", instance.id)
        return []
    hidden = hidden_fields(forms, user)
    grouped: dict[str | None, list[tuple[str, str]]] = {}
    for bpmn_id, text, after_uuid in found:
        point = points[bpmn_id]
        if point.reads & hidden:
            continue  # decided on an answer this user may not read
        grouped.setdefault(after_uuid, []).append((point.name, text))
    entries = []
    for uuid, decisions in grouped.items():
        task = by_uuid.get(uuid) if uuid is not None else None
        at = (task.completed_at if task is not None else None) or instance.created_at
        entries.append(
            Entry(
                at=at,
                kind="decisions",
                decisions=decisions,
                sequence=task.id if task is not None else 0,
                rank=_RANK["task"] if task is not None else _RANK["started"],
            )
        )
    return entries


def _links(
    session: Session, user: User, instance_id: int
) -> list[tuple[CaseLink, ProcessInstance, bool]]:
    links = list(
        session.scalars(
            select(CaseLink)
            .where(
                or_(
                    CaseLink.from_instance_id == instance_id, CaseLink.to_instance_id == instance_id
                )
            )
            .order_by(CaseLink.id)
        )
    )
    if not links:
        return []
    other_ids = {
        link.to_instance_id if link.from_instance_id == instance_id else link.from_instance_id
        for link in links
    }
    others = {
        other.id: other
        for other in session.scalars(
            select(ProcessInstance).where(ProcessInstance.id.in_(other_ids))
        )
    }
    visible = set(
        session.scalars(
            select(ProcessInstance.id).where(
                ProcessInstance.id.in_(other_ids), policy.visible_cases_filter(user)
            )
        )
    )
    result = []
    for link in links:
        other_id = (
            link.to_instance_id if link.from_instance_id == instance_id else link.from_instance_id
        )
        result.append((link, others[other_id], other_id in visible))
    return result


def _handlers(session: Session, tasks: list[HumanTask]) -> list[Handler]:
    open_tasks = [t for t in tasks if t.status == TaskStatus.OPEN.value]
    party_ids = {t.party_id for t in open_tasks if t.party_id is not None}
    org_ids = {t.organisation_id for t in open_tasks if t.organisation_id is not None}
    parties: dict[int, Any] = (
        {p.id: p.short_name for p in session.scalars(select(Party).where(Party.id.in_(party_ids)))}
        if party_ids
        else {}
    )
    organisations: dict[int, Any] = (
        {
            o.id: o.name
            for o in session.scalars(select(Organisation).where(Organisation.id.in_(org_ids)))
        }
        if org_ids
        else {}
    )
    handlers = []
    for task in open_tasks:
        scope = None
        if task.role == "party_office" and task.party_id is not None:
            scope = parties.get(task.party_id)
        elif task.role == "committee" and task.organisation_id is not None:
            scope = organisations.get(task.organisation_id)
        handlers.append(Handler(task=task, person=task.assignee, role=task.role, scope=scope))
    return handlers


# Audit actions about one comment or file: shown only to those who may read it.
_NOTE_ACTIONS = ("comment.added", "attachment.added", "attachment.downloaded")


def visible_history(
    events: list[AuditEvent], user: User, visible_attachment_ids: set[int]
) -> list[AuditEvent]:
    """The case's audit history without the traces of comments and files the user may not read.

    A "comment added" row for a security-only note would tell the party office
    that one exists, and when, and by whom.
    """
    levels = {level.value for level in policy.visible_note_levels(user)}
    shown = []
    for event in events:
        if event.action in _NOTE_ACTIONS:
            if event.action == "attachment.downloaded":
                if event.details.get("attachment") not in visible_attachment_ids:
                    continue
            elif event.details.get("visibility") not in levels:
                continue
        shown.append(event)
    return shown
