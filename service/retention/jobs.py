"""The nightly disposal job: queued once a day by the worker, run like any other job."""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from service import clock
from service.context import Services
from service.jobs.models import Job
from service.jobs.queue import enqueue, handler
from service.retention.disposal import RAN_BY_WORKER, run_disposal

log = logging.getLogger(__name__)

KIND = "retention.dispose"
# Local time of the nightly run: after midnight's timers, before the working day.
RUN_AT = time(2, 30)
ADVISORY_LOCK = 734_202  # one scheduler at a time across workers (PostgreSQL)


@handler(KIND)
def dispose_due_records(services: Any, _session: Session, payload: dict[str, Any]) -> None:
    # Each case is its own transaction (service/retention/disposal.py), not the job's.
    report = run_disposal(services, ran_by=RAN_BY_WORKER)
    if report.failed:
        # Failing the job retries it later and shows it to the administrators if it keeps failing.
        raise RuntimeError(f"{len(report.failed)} cases could not be disposed of")


def _tonight(services: Services, now: datetime) -> tuple[datetime, datetime, datetime]:
    """Today's local day as UTC bounds, and today's run time."""
    zone = ZoneInfo(services.settings.timezone)
    local = now.astimezone(zone)
    start = datetime.combine(local.date(), time(0, 0), zone)
    return start, start + timedelta(days=1), datetime.combine(local.date(), RUN_AT, zone)


def schedule_daily_disposal(services: Services, now: datetime | None = None) -> int:
    """Queue today's disposal run unless it is queued or has run; 1 when it queued one.

    Called by the worker every scheduling round. Turned off with
    TRYGG_RETENTION_DISPOSAL=off (then only `trygg retention` disposes).
    """
    if not services.settings.retention_disposal:
        return 0
    now = now or clock.now()
    start, end, run_at = _tonight(services, now)
    with services.db.sessions() as session:
        if services.db.is_postgres:
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK})
        exists = session.scalar(
            select(Job.id).where(Job.kind == KIND, Job.run_at >= start, Job.run_at < end).limit(1)
        )
        if exists is not None:
            return 0
        enqueue(session, KIND, {"day": start.date().isoformat()}, run_at=max(run_at, now))
        session.commit()
    log.info("disposal run queued")
    return 1
