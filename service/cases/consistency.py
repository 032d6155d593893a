"""Check that every case's inbox rows and wake-up time match its saved engine state.

The inbox and the worker read the human-task rows and ``next_wakeup`` instead
of the engine state; after a crash or a restore they must still agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from service.cases.models import CaseStatus, ProcessInstance
from service.cases.persist import sync_human_tasks
from service.context import Services
from service.engine import EngineError
from service.tasks.models import HumanTask, TaskStatus


@dataclass
class CheckReport:
    cases: int = 0
    problems: list[str] = field(default_factory=list)
    repaired: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def check_cases(services: Services, repair: bool = False) -> CheckReport:
    report = CheckReport()
    with services.db.sessions() as session:
        ids = session.scalars(
            select(ProcessInstance.id).where(ProcessInstance.status != CaseStatus.ERROR.value)
        ).all()
    for case_id in ids:
        with services.db.sessions() as session:
            instance = session.get(ProcessInstance, case_id)
            if instance is None or not instance.state:
                continue
            report.cases += 1
            try:
                handle = services.load_case(instance)
            except EngineError as exc:
                report.problems.append(
                    f"case {case_id}: the saved state does not load ({exc.message})"
                )
                continue
            ready = {t.uuid for t in handle.ready_user_tasks()}
            open_rows = set(
                session.scalars(
                    select(HumanTask.task_uuid).where(
                        HumanTask.instance_id == case_id, HumanTask.status == TaskStatus.OPEN.value
                    )
                )
            )
            found = []
            if ready != open_rows:
                found.append(
                    f"case {case_id}: {len(ready - open_rows)} waiting task(s) missing from the inbox, "
                    f"{len(open_rows - ready)} inbox row(s) for tasks no longer waiting"
                )
            if handle.next_wakeup() != instance.next_wakeup:
                found.append(f"case {case_id}: stored wake-up time differs from the state's timers")
            expected = (
                CaseStatus.COMPLETED.value if handle.is_completed else CaseStatus.RUNNING.value
            )
            if instance.status != expected:
                found.append(f"case {case_id}: status {instance.status}, the state says {expected}")
            report.problems += found
            if found and repair:
                # A row for a waiting task that was closed by mistake is reopened,
                # not duplicated; the rest is what every save does.
                for row in session.scalars(
                    select(HumanTask).where(
                        HumanTask.instance_id == case_id, HumanTask.task_uuid.in_(ready)
                    )
                ):
                    row.status, row.completed_at = TaskStatus.OPEN.value, None
                session.flush()
                sync_human_tasks(session, instance, handle)
                instance.next_wakeup = handle.next_wakeup()
                instance.status = expected
                session.commit()
                report.repaired += 1
    return report
