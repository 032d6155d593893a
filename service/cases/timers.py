"""Fire due timers: load → refresh timers → engine steps → save, one case per transaction.

On PostgreSQL due cases are claimed with ``FOR UPDATE SKIP LOCKED`` so that
several workers never fire the same case twice.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from service.audit.service import record
from service.cases.models import CaseStatus, ProcessInstance
from service.cases.persist import settle
from service.cases.service import CaseStarter
from service.context import Services
from service.db import utcnow
from service.engine import ScriptError
from service.logging_setup import bind
from service.metrics import observe_timer_lateness

log = logging.getLogger(__name__)


def fire_due_timers(services: Services, now: datetime | None = None, limit: int = 100) -> int:
    now = now or utcnow()
    fired = 0
    seen: list[int] = []  # a case the engine did not find due yet is left for the next pass
    while fired < limit:
        with services.db.transaction() as session:
            stmt = (
                select(ProcessInstance)
                .where(
                    ProcessInstance.status == CaseStatus.RUNNING.value,
                    ProcessInstance.next_wakeup.is_not(None),
                    ProcessInstance.next_wakeup <= now,
                    ProcessInstance.id.not_in(seen),
                )
                .order_by(ProcessInstance.next_wakeup)
                .limit(1)
            )
            if services.db.is_postgres:
                stmt = stmt.with_for_update(skip_locked=True, of=ProcessInstance)
            instance = session.scalar(stmt)
            if instance is None:
                return fired
            due = instance.next_wakeup
            with bind(instance_id=instance.id):
                try:
                    handle = services.load_case(instance)
                    services.runner.fire_timers(handle)
                except ScriptError as exc:
                    handle = exc.handle
                seen.append(instance.id)
                settle(
                    services, session, None, instance, handle, CaseStarter(services, session, None)
                )
            record(
                session,
                None,
                "case.timer_fired",
                instance_id=instance.id,
                due=due.isoformat() if due else None,
            )
            fired += 1
            process_id = instance.process_id
        # After the commit, against the clock now: how late this case's timer really fired.
        observe_timer_lateness(process_id, due, utcnow())
    return fired
