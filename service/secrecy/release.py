"""Release (utlämnande) of a case's documents with the secret answers masked.

Anyone may ask for an official document; the authority must release it
unless a secrecy provision applies, tried answer by answer (OSL, TF 2 kap.).
The security department prints a case's answers here: every answer that a
form marks ``secret`` is masked by default under its provision, the officer
may mask more (choosing the provision) or release a marked answer after the
harm test, and the decision — who, when, the requester as written, what was
released and what masked under which provision — is kept and audited.

The marks are the case's own form version's, together with the latest
version's of the same form: a mark added later protects older cases too.
Comments and attachments are not part of the print; they are tried apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.service import record
from service.auth import policy
from service.cases.models import ProcessInstance
from service.context import Services
from service.db import utcnow
from service.definitions.catalog import latest_definition
from service.engine import DefinitionError
from service.errors import N_, Forbidden, InvalidInput, NotFound
from service.formdefs.definition import FormDef
from service.people.models import User
from service.secrecy.grounds import GROUNDS
from service.secrecy.models import ReleaseDecision
from service.tasks.models import HumanTask, TaskStatus

RELEASE = "release"  # the choice that releases an answer as written
MAX_REQUESTER = 300


@dataclass(frozen=True)
class ReleaseField:
    task_id: int
    task_name: str
    completed_at: datetime | None
    form_id: str
    form: FormDef | None
    name: str
    label: str
    value: Any
    mark: str | None  # the provision the form marks it with; None: not marked

    @property
    def key(self) -> str:
        """The field's name in the release form."""
        return f"mask-{self.task_id}-{self.name}"

    @property
    def ref(self) -> dict[str, Any]:
        return {"task": self.task_id, "form": self.form_id, "field": self.name}


@dataclass(frozen=True)
class PrintedAnswer:
    label: str
    field: ReleaseField
    ground: str | None  # masked under it; None: released as written


@dataclass(frozen=True)
class PrintedTask:
    name: str
    completed_at: datetime | None
    answers: list[PrintedAnswer]


def case_for_release(session: Session, user: User, instance_id: int) -> ProcessInstance:
    instance = session.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFound(N_("The case does not exist."))
    if not policy.can_release_case(user, instance, session):
        raise Forbidden(
            N_("Only the security department may release a case with its secret answers masked.")
        )
    return instance


def _latest_marks(services: Services, session: Session, instance: ProcessInstance) -> Any:
    latest = latest_definition(session, instance.process_id)

    def marks(form_id: str) -> dict[str, str]:
        if latest is None or latest.id == instance.definition_id:
            return {}
        try:
            form = services.definitions.form(latest, form_id)
        except DefinitionError:
            return {}
        return {f.name: f.secret for f in form.fields if f.secret}

    return marks


def release_fields(
    services: Services, session: Session, instance: ProcessInstance
) -> list[ReleaseField]:
    """Every answer in the case's completed tasks, in the order they were given."""
    later_marks = _latest_marks(services, session, instance)
    tasks = session.scalars(
        select(HumanTask)
        .where(
            HumanTask.instance_id == instance.id,
            HumanTask.status == TaskStatus.COMPLETED.value,
        )
        .order_by(HumanTask.completed_at, HumanTask.id)
    )
    found: list[ReleaseField] = []
    for task in tasks:
        data = task.submitted_data or {}
        if not task.form_id or not data:
            continue
        try:
            form: FormDef | None = services.definitions.form(instance.definition, task.form_id)
        except DefinitionError:
            form = None
        extra = later_marks(task.form_id)
        names = [f.name for f in form.fields] if form is not None else sorted(data)
        for name in names:
            if data.get(name) in (None, "", []):
                continue
            f = form.field(name) if form is not None else None
            found.append(
                ReleaseField(
                    task_id=task.id,
                    task_name=task.name,
                    completed_at=task.completed_at,
                    form_id=task.form_id,
                    form=form,
                    name=name,
                    label=f.label if f is not None else name,
                    value=data[name],
                    mark=(f.secret if f is not None else None) or extra.get(name),
                )
            )
    return found


def decide(
    session: Session,
    user: User,
    instance: ProcessInstance,
    fields: list[ReleaseField],
    requester: str | None,
    choices: Mapping[str, str],
) -> ReleaseDecision:
    """Record the release decision. A field without a choice keeps its default (its mark)."""
    if not policy.can_release_case(user, instance, session):
        raise Forbidden(
            N_("Only the security department may release a case with its secret answers masked.")
        )
    if not fields:
        raise InvalidInput(N_("The case has no answers to release yet."))
    who = (requester or "").strip() or None
    if who is not None and len(who) > MAX_REQUESTER:
        raise InvalidInput(N_("Write at most 300 characters about who asked."))
    released: list[dict[str, Any]] = []
    masked: list[dict[str, Any]] = []
    for f in fields:
        choice = choices.get(f.key) or (f.mark or RELEASE)
        if choice == RELEASE:
            released.append({**f.ref, "marked": f.mark})
        elif choice in GROUNDS:
            masked.append({**f.ref, "ground": choice, "marked": f.mark is not None})
        else:
            raise InvalidInput(
                N_(
                    "Choose for every answer whether it is released or masked, and under which provision."
                )
            )
    decision = ReleaseDecision(
        instance_id=instance.id,
        decided_by_id=user.id,
        decided_at=utcnow(),
        requester=who,
        released=released,
        masked=masked,
    )
    session.add(decision)
    session.flush()
    # Field names and provisions only; the requester's name stays in the decision row.
    record(
        session,
        user,
        "case.released",
        instance_id=instance.id,
        decision=decision.id,
        released=[f"{r['task']}:{r['field']}" for r in released],
        masked=[f"{m['task']}:{m['field']}:{m['ground']}" for m in masked],
        released_despite_mark=[f"{r['task']}:{r['field']}" for r in released if r["marked"]],
    )
    return decision


def decision_for(session: Session, instance: ProcessInstance, decision_id: int) -> ReleaseDecision:
    decision = session.get(ReleaseDecision, decision_id)
    if decision is None or decision.instance_id != instance.id:
        raise NotFound(N_("There is no such release decision for this case."))
    return decision


def decisions_of(session: Session, instance_id: int) -> list[ReleaseDecision]:
    return list(
        session.scalars(
            select(ReleaseDecision)
            .where(ReleaseDecision.instance_id == instance_id)
            .order_by(ReleaseDecision.id.desc())
        )
    )


def printed(fields: list[ReleaseField], decision: ReleaseDecision) -> list[PrintedTask]:
    """The case's answers as the decision released them. An answer the decision did not
    try (none should exist) is masked: nothing goes out without a decision."""
    released = {(r["task"], r["field"]) for r in decision.released}
    masked = {(m["task"], m["field"]): str(m["ground"]) for m in decision.masked}
    tasks: list[PrintedTask] = []
    for f in fields:
        key = (f.task_id, f.name)
        ground = None if key in released else masked.get(key, "")
        answer = PrintedAnswer(label=f.label, field=f, ground=ground)
        if tasks and tasks[-1].answers and tasks[-1].answers[0].field.task_id == f.task_id:
            tasks[-1].answers.append(answer)
        else:
            tasks.append(
                PrintedTask(name=f.task_name, completed_at=f.completed_at, answers=[answer])
            )
    return tasks
