"""Dispose of (gallra) what the retention rules say is due, and keep a disposal record.

A case is due when its process has a rule, it is closed, and the rule's
period since it closed has passed. It is kept all the same while it, or a
case linked to it, has a legal hold; while an alarm registered through it is
still registered; and while the measure it decided has no end date (the
rule's ``in_force_end_events``). Everything else that is about the case goes
with it, in an order the foreign keys allow: notifications, comments,
attachments (rows, then the files once the rows are gone), links, lifted
holds, release decisions, alarm receipts, scheduled-start markers, human
tasks, and the case row itself. Each case is its own transaction.

The audit trail is not disposed of: the case's events stay (ids, field names
and outcomes; never what anyone wrote) and a ``case.disposed`` event is added.
The disposal record holds the case's number, process, dates and the rule
applied, and what ran it ("worker" or "cli"): no personal data.

Notifications, finished jobs and login attempts have their own rules, and
files left in the attachments directory by an interrupted upload are removed.
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.orm import Session

from service import clock
from service.api.models import AlarmReceipt, RegisteredAlarm
from service.audit.service import record
from service.auth.models import LoginAttempt
from service.casenotes.models import Attachment, CaseComment
from service.casenotes.storage import AttachmentStore
from service.cases.models import CaseLink, CaseStatus, ProcessInstance
from service.cases.schedule_models import ScheduledStart
from service.context import Services
from service.definitions.migration_models import InstanceMigration
from service.definitions.models import ProcessDefinition
from service.engine import EngineError
from service.jobs.models import Job, JobStatus
from service.notify.models import Notification
from service.retention.holds import held_case_ids, holding_case
from service.retention.models import DisposalRecord, LegalHold
from service.retention.rules import CaseRule, RecordRule, RetentionRules, load_rules
from service.secrecy.models import ReleaseDecision
from service.tasks.models import HumanTask

log = logging.getLogger(__name__)

RAN_BY_WORKER = "worker"
RAN_BY_CLI = "cli"
# Cases per run: the nightly job catches up over several nights after a long pause.
MAX_CASES_PER_RUN = 500
# An upload writes its file before its row commits: younger unreferenced files are left alone.
ORPHAN_GRACE = timedelta(days=1)
_STORED = re.compile(r"^(?:[0-9a-f]{32}|\.[0-9a-f]{32}\.part)$")

# Every (table, column) that refers to a case or its tasks, and how disposal treats it.
# tests/test_retention.py checks this against the models, so a new reference is not forgotten.
CASE_REFERENCES: dict[tuple[str, str], str] = {
    ("human_task", "instance_id"): "deleted",
    ("notification", "instance_id"): "deleted",
    ("notification", "human_task_id"): "deleted",
    ("case_comment", "instance_id"): "deleted",
    ("case_attachment", "instance_id"): "deleted with the file",
    ("case_link", "from_instance_id"): "deleted",
    ("case_link", "to_instance_id"): "deleted",
    ("legal_hold", "instance_id"): "an active hold keeps the case; lifted ones are deleted",
    ("release_decision", "instance_id"): "deleted",
    ("alarm_receipt", "instance_id"): "deleted",
    ("scheduled_start", "instance_id"): "deleted (the yearly offer looks at the cases left)",
    ("registered_alarm", "measure_case_id"): "a registered alarm keeps the case",
    ("instance_migration", "instance_id"): "deleted (it keeps the state from before a move)",
}


class KeepReason:
    """Why a case whose period has passed is kept (values stored nowhere: shown and printed)."""

    LEGAL_HOLD = "legal_hold"
    LINKED_LEGAL_HOLD = "linked_legal_hold"
    ALARM_REGISTERED = "alarm_registered"
    IN_FORCE = "in_force"


@dataclass(frozen=True)
class CaseVerdict:
    case_id: int
    process_id: str
    version: int
    started_at: datetime
    closed_at: datetime
    rule: CaseRule
    due_at: datetime
    kept: str | None = None  # a KeepReason, or None: disposed of
    held_by: int | None = None  # the case whose hold keeps this one


@dataclass(frozen=True)
class RecordCount:
    rule: RecordRule
    count: int


@dataclass
class DisposalPlan:
    now: datetime
    rules: RetentionRules
    due: list[CaseVerdict] = field(default_factory=list)
    kept: list[CaseVerdict] = field(default_factory=list)
    records: list[RecordCount] = field(default_factory=list)
    orphan_files: list[str] = field(default_factory=list)
    # Closed cases of processes without a rule: never disposed of (process id → count).
    without_rule: dict[str, int] = field(default_factory=dict)
    more_due: bool = False  # more than MAX_CASES_PER_RUN were due


@dataclass
class DisposalReport:
    run_id: str
    plan: DisposalPlan
    disposed: list[int] = field(default_factory=list)
    files_removed: int = 0
    records: dict[str, int] = field(default_factory=dict)
    failed: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class CaseRetention:
    """What the case page tells the security department about a case's disposal."""

    rule: CaseRule | None
    due_at: datetime | None  # None: not closed yet, or no rule
    kept: str | None = None
    held_by: int | None = None


def rules_for(services: Services) -> RetentionRules:
    settings = services.settings
    return load_rules(settings.retention_rules, settings.processes_dir)


# --- deciding -----------------------------------------------------------------------------


def _in_force(services: Services, session: Session, case_id: int, rule: CaseRule) -> bool:
    """Whether the case ended at an end event that leaves its measure in force."""
    if not rule.in_force_end_events:
        return False
    instance = session.get(ProcessInstance, case_id)
    if instance is None:
        return False
    try:
        finished = services.load_case(instance).step_states().finished
    except EngineError:
        return True  # a state that cannot be read is not evidence that the measure ended
    return any(step.bpmn_id in rule.in_force_end_events for step in finished)


def _keep_reason(
    services: Services, session: Session, case_id: int, rule: CaseRule, held: set[int]
) -> tuple[str | None, int | None]:
    holder = holding_case(session, case_id, held)
    if holder is not None:
        reason = KeepReason.LEGAL_HOLD if holder == case_id else KeepReason.LINKED_LEGAL_HOLD
        return reason, holder
    alarm = session.scalar(
        select(RegisteredAlarm.id).where(RegisteredAlarm.measure_case_id == case_id).limit(1)
    )
    if alarm is not None:
        return KeepReason.ALARM_REGISTERED, None
    if _in_force(services, session, case_id, rule):
        return KeepReason.IN_FORCE, None
    return None, None


def case_retention(
    services: Services, session: Session, instance: ProcessInstance, now: datetime | None = None
) -> CaseRetention:
    rule = rules_for(services).cases.get(instance.process_id)
    if rule is None or instance.status != CaseStatus.COMPLETED.value or not instance.completed_at:
        return CaseRetention(rule=rule, due_at=None)
    kept, held_by = _keep_reason(services, session, instance.id, rule, held_case_ids(session))
    return CaseRetention(
        rule=rule, due_at=rule.keep.after(instance.completed_at), kept=kept, held_by=held_by
    )


def _due_cases(
    services: Services, session: Session, rules: RetentionRules, now: datetime, plan: DisposalPlan
) -> None:
    held = held_case_ids(session)
    room = MAX_CASES_PER_RUN
    for rule in rules.cases.values():
        cutoff = rule.keep.before(now)
        rows = session.execute(
            select(
                ProcessInstance.id,
                ProcessInstance.created_at,
                ProcessInstance.completed_at,
                ProcessDefinition.version,
            )
            .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
            .where(
                ProcessInstance.process_id == rule.process_id,
                ProcessInstance.status == CaseStatus.COMPLETED.value,
                ProcessInstance.completed_at.is_not(None),
                ProcessInstance.completed_at <= cutoff,
            )
            .order_by(ProcessInstance.completed_at, ProcessInstance.id)
        ).all()
        for case_id, started_at, closed_at, version in rows:
            if closed_at is None:
                continue  # excluded by the query; says so to the type checker
            kept, held_by = _keep_reason(services, session, case_id, rule, held)
            verdict = CaseVerdict(
                case_id=case_id,
                process_id=rule.process_id,
                version=version,
                started_at=started_at,
                closed_at=closed_at,
                rule=rule,
                due_at=rule.keep.after(closed_at),
                kept=kept,
                held_by=held_by,
            )
            if kept is not None:
                plan.kept.append(verdict)
            elif room > 0:
                plan.due.append(verdict)
                room -= 1
            else:
                plan.more_due = True
    closed_without_rule = session.execute(
        select(ProcessInstance.process_id, func.count())
        .where(
            ProcessInstance.status == CaseStatus.COMPLETED.value,
            ProcessInstance.process_id.not_in(list(rules.cases)),
        )
        .group_by(ProcessInstance.process_id)
    ).all()
    plan.without_rule = {process_id: count for process_id, count in closed_without_rule}


def _record_condition(rule: RecordRule, now: datetime) -> ColumnElement[bool]:
    cutoff = rule.keep.before(now)
    other = (rule.other_keep or rule.keep).before(now)
    if rule.record_type == "notification":
        return or_(
            and_(Notification.read_at.is_not(None), Notification.read_at <= cutoff),
            and_(Notification.read_at.is_(None), Notification.created_at <= other),
        )
    if rule.record_type == "job":
        return or_(
            and_(Job.status == JobStatus.DONE.value, Job.finished_at <= cutoff),
            and_(Job.status == JobStatus.DEAD.value, Job.finished_at <= other),
        )
    return LoginAttempt.at <= cutoff


_RECORD_MODELS: dict[str, Any] = {
    "notification": Notification,
    "job": Job,
    "login_attempt": LoginAttempt,
}


def _orphan_files(session: Session, store: AttachmentStore, now: datetime) -> list[str]:
    try:
        entries = list(os.scandir(store.root))
    except FileNotFoundError:
        return []
    known = set(session.scalars(select(Attachment.stored_name)))
    oldest = (now - ORPHAN_GRACE).timestamp()
    return sorted(
        entry.name
        for entry in entries
        if entry.is_file()
        and _STORED.match(entry.name)
        and entry.name.lstrip(".").removesuffix(".part") not in known
        and entry.stat().st_mtime <= oldest
    )


def plan_disposal(services: Services, now: datetime | None = None) -> DisposalPlan:
    """What a run would dispose of now, and what it keeps and why. Changes nothing."""
    now = now or clock.now()
    rules = rules_for(services)
    plan = DisposalPlan(now=now, rules=rules)
    with services.db.sessions() as session:
        _due_cases(services, session, rules, now, plan)
        for rule in rules.records.values():
            model = _RECORD_MODELS[rule.record_type]
            count = session.scalar(
                select(func.count()).select_from(model).where(_record_condition(rule, now))
            )
            plan.records.append(RecordCount(rule=rule, count=int(count or 0)))
        plan.orphan_files = _orphan_files(
            session, AttachmentStore(services.settings.attachments_dir), now
        )
    return plan


# --- disposing ----------------------------------------------------------------------------


def _deleted(session: Session, statement: Any) -> int:
    result = session.execute(statement.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def _still_due(services: Services, session: Session, verdict: CaseVerdict, now: datetime) -> bool:
    """Checked again under the row lock: a hold set or a case reopened since the plan wins."""
    lock = select(ProcessInstance.status, ProcessInstance.completed_at).where(
        ProcessInstance.id == verdict.case_id
    )
    if services.db.is_postgres:
        lock = lock.with_for_update()
    row = session.execute(lock).first()
    if row is None or row.status != CaseStatus.COMPLETED.value or row.completed_at is None:
        return False
    if verdict.rule.keep.after(row.completed_at) > now:
        return False
    kept, _holder = _keep_reason(
        services, session, verdict.case_id, verdict.rule, held_case_ids(session)
    )
    return kept is None


def _delete_case(session: Session, case_id: int) -> tuple[dict[str, int], list[str]]:
    """Everything about the case, children first. Returns the counts and the files to remove."""
    tasks = select(HumanTask.id).where(HumanTask.instance_id == case_id)
    files = list(
        session.scalars(select(Attachment.stored_name).where(Attachment.instance_id == case_id))
    )
    counts = {
        "notification": _deleted(
            session,
            delete(Notification).where(
                or_(Notification.instance_id == case_id, Notification.human_task_id.in_(tasks))
            ),
        ),
        "comment": _deleted(session, delete(CaseComment).where(CaseComment.instance_id == case_id)),
        "attachment": _deleted(
            session, delete(Attachment).where(Attachment.instance_id == case_id)
        ),
        "case_link": _deleted(
            session,
            delete(CaseLink).where(
                or_(CaseLink.from_instance_id == case_id, CaseLink.to_instance_id == case_id)
            ),
        ),
        "legal_hold": _deleted(session, delete(LegalHold).where(LegalHold.instance_id == case_id)),
        "release_decision": _deleted(
            session, delete(ReleaseDecision).where(ReleaseDecision.instance_id == case_id)
        ),
        "alarm_receipt": _deleted(
            session, delete(AlarmReceipt).where(AlarmReceipt.instance_id == case_id)
        ),
        "scheduled_start": _deleted(
            session, delete(ScheduledStart).where(ScheduledStart.instance_id == case_id)
        ),
        "human_task": _deleted(session, delete(HumanTask).where(HumanTask.instance_id == case_id)),
        # The case's saved state from before a move to another version: case data too.
        "instance_migration": _deleted(
            session, delete(InstanceMigration).where(InstanceMigration.instance_id == case_id)
        ),
        "case": _deleted(session, delete(ProcessInstance).where(ProcessInstance.id == case_id)),
    }
    return counts, files


def _dispose_case(
    services: Services, verdict: CaseVerdict, run_id: str, ran_by: str, now: datetime
) -> list[str] | None:
    """One case in one transaction; None when it is no longer due (or already gone)."""
    with services.db.sessions() as session:
        if not _still_due(services, session, verdict, now):
            session.rollback()
            return None
        counts, files = _delete_case(session, verdict.case_id)
        counts["attachment_file"] = len(files)
        disposal = DisposalRecord(
            run_id=run_id,
            record_type="case",
            case_id=verdict.case_id,
            process_id=verdict.process_id,
            process_version=verdict.version,
            case_started_at=verdict.started_at,
            case_closed_at=verdict.closed_at,
            rule=verdict.process_id,
            rule_text=f"{verdict.rule.text}. {verdict.rule.basis}"[:500],
            due_at=verdict.due_at,
            disposed_at=now,
            disposed_by=ran_by,
            counts=counts,
        )
        session.add(disposal)
        session.flush()
        record(
            session,
            None,
            "case.disposed",
            instance_id=verdict.case_id,
            process_id=verdict.process_id,
            rule=verdict.process_id,
            disposal_record=disposal.id,
            run=run_id,
            ran_by=ran_by,
        )
        session.commit()
    return files


def _remove_files(store: AttachmentStore, names: Iterable[str]) -> int:
    removed = 0
    for name in names:
        try:
            path = store.root / name if name.startswith(".") else store.path(name)
            path.unlink(missing_ok=True)
            removed += 1
        except OSError as exc:
            # The row is gone: the next run's sweep finds the file and tries again.
            log.warning("attachment file not removed", extra={"error_type": type(exc).__name__})
    return removed


def _dispose_records(
    services: Services, count: RecordCount, run_id: str, ran_by: str, now: datetime
) -> int:
    rule = count.rule
    model = _RECORD_MODELS[rule.record_type]
    with services.db.sessions() as session:
        deleted = _deleted(session, delete(model).where(_record_condition(rule, now)))
        if deleted:
            text = f"{rule.keep.text}" + (
                f" (annars {rule.other_keep.text})" if rule.other_keep else ""
            )
            session.add(
                DisposalRecord(
                    run_id=run_id,
                    record_type=rule.record_type,
                    rule=rule.record_type,
                    rule_text=f"{text}. {rule.basis}"[:500],
                    disposed_at=now,
                    disposed_by=ran_by,
                    counts={"deleted": deleted},
                )
            )
            record(
                session,
                None,
                "records.disposed",
                record_type=rule.record_type,
                count=deleted,
                run=run_id,
                ran_by=ran_by,
            )
        session.commit()
    return deleted


def run_disposal(
    services: Services, ran_by: str = RAN_BY_WORKER, now: datetime | None = None
) -> DisposalReport:
    """Dispose of everything due now. A case that fails is left for the next run and listed
    in ``report.failed`` (the nightly job then fails, is retried, and shows to administrators)."""
    now = now or clock.now()
    plan = plan_disposal(services, now)
    report = DisposalReport(run_id=str(uuid.uuid4()), plan=plan)
    store = AttachmentStore(services.settings.attachments_dir)
    for verdict in plan.due:
        try:
            files = _dispose_case(services, verdict, report.run_id, ran_by, now)
        except Exception:
            log.exception("case not disposed", extra={"instance": verdict.case_id})
            report.failed.append(verdict.case_id)
            continue
        if files is not None:
            report.disposed.append(verdict.case_id)
            report.files_removed += _remove_files(store, files)
    for count in plan.records:
        if count.count:
            report.records[count.rule.record_type] = _dispose_records(
                services, count, report.run_id, ran_by, now
            )
    if plan.orphan_files:
        removed = _remove_files(store, plan.orphan_files)
        report.records["orphan_file"] = removed
        with services.db.sessions() as session:
            session.add(
                DisposalRecord(
                    run_id=report.run_id,
                    record_type="orphan_file",
                    rule="attachment",
                    rule_text="Filer utan ärende (avbruten uppladdning eller borttagen rad).",
                    disposed_at=now,
                    disposed_by=ran_by,
                    counts={"deleted": removed},
                )
            )
            session.commit()
    log.info(
        "retention run",
        extra={
            "run": report.run_id,
            "cases": len(report.disposed),
            "kept": len(plan.kept),
            "failed": len(report.failed),
        },
    )
    return report
