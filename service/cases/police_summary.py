"""What the police need for a report, gathered from an incident and its police-report case.

An incident's own report (the start form) and the police-report case's
"gather" task (police_report_details) both hold answers to the police's
questions; the police-report case is a linked case started from the
incident. The summary reads both, from the cases the user may see, and per
field prefers the newer, purpose-made police-report answers. The filing
record (police case number) is added when there is one.

Only answers the user may read (a form field's ``visible_to``) are used. No
value is ever logged; callers audit the export.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.auth import policy
from service.casenotes.attachments import attachments_visible_to
from service.casenotes.models import Attachment
from service.cases.models import ProcessInstance
from service.cases.queries import linked_cases
from service.context import Services
from service.formdefs import FormDef
from service.people.models import User
from service.tasks.models import HumanTask, TaskStatus

DETAILS_FORM = "police_report_details"
INCIDENT_FORM = "incident_report"
FILING_FORM = "police_report_filing"
# Which submission wins when several answer the same question: the details
# gathered for the police first, then the incident report.
FORM_PRIORITY = (DETAILS_FORM, FILING_FORM, INCIDENT_FORM)
# Without at least one of these there is nothing to hand the police.
ESSENTIAL = ("description", "exact_words")


@dataclass(frozen=True)
class Answer:
    """One answer, with the form that asked it (for its label and option texts)."""

    value: Any
    form: FormDef
    instance_id: int


@dataclass
class PoliceSummary:
    instance: ProcessInstance
    # The cases whose answers the summary uses, the requested one first.
    cases: list[ProcessInstance]
    answers: dict[str, Answer] = field(default_factory=dict)
    # Evidence files on those cases that the user may see, oldest first.
    attachments: list[Attachment] = field(default_factory=list)

    def get(self, name: str) -> Answer | None:
        return self.answers.get(name)

    @property
    def has_content(self) -> bool:
        return any(name in self.answers for name in ESSENTIAL)

    @property
    def source_ids(self) -> list[int]:
        """The cases the answers and files came from, in case order."""
        used = {a.instance_id for a in self.answers.values()}
        used |= {a.instance_id for a in self.attachments}
        return [case.id for case in self.cases if case.id in used]


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _family(session: Session, user: User, instance: ProcessInstance) -> list[ProcessInstance]:
    """The case and its linked incident / police-report cases that the user may open."""
    related = [
        link.instance
        for link in linked_cases(session, user, instance.id)
        if link.visible and link.instance.process_id in policy.POLICE_SUMMARY_PROCESSES
    ]
    return [instance, *related]


def gather(
    services: Services, session: Session, user: User, instance: ProcessInstance
) -> PoliceSummary:
    """The summary of ``instance`` for ``user``; the caller has checked the policy."""
    cases = _family(session, user, instance)
    by_id = {case.id: case for case in cases}
    rows = session.scalars(
        select(HumanTask)
        .where(
            HumanTask.instance_id.in_(by_id),
            HumanTask.status == TaskStatus.COMPLETED.value,
            HumanTask.form_id.in_(FORM_PRIORITY),
        )
        .order_by(HumanTask.completed_at.desc(), HumanTask.id.desc())
    ).all()
    # Stable sort: by form priority, newest submission first within a form.
    rows = sorted(rows, key=lambda row: FORM_PRIORITY.index(str(row.form_id)))
    summary = PoliceSummary(instance=instance, cases=cases)
    roles = frozenset(role.value for role in user.roles)
    for row in rows:
        form = services.definitions.form(by_id[row.instance_id].definition, str(row.form_id))
        for name, value in (row.submitted_data or {}).items():
            definition = form.field(name)
            if name in summary.answers or _empty(value) or definition is None:
                continue
            if definition.readable_by(roles):
                summary.answers[name] = Answer(value=value, form=form, instance_id=row.instance_id)
    for case in cases:
        summary.attachments += attachments_visible_to(session, user, case.id)
    return summary
