"""Put jobs on the queue and take due ones off it: SKIP LOCKED on PostgreSQL, so workers scale out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from service.db import utcnow
from service.jobs.models import Job, JobStatus

WAKEUP_CHANNEL = "trygg_wakeup"
BACKOFF_BASE_SECONDS = 10


def wake_workers(session: Session) -> None:
    """Wake sleeping workers when this transaction commits (PostgreSQL LISTEN/NOTIFY)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"NOTIFY {WAKEUP_CHANNEL}"))


BACKOFF_MAX_SECONDS = 3600


def enqueue(
    session: Session, kind: str, payload: dict[str, Any], run_at: datetime | None = None
) -> Job:
    job = Job(kind=kind, payload=payload, run_at=run_at or utcnow())
    session.add(job)
    wake_workers(session)
    return job


def claim_due_job(session: Session, is_postgres: bool, now: datetime) -> Job | None:
    stmt = (
        select(Job)
        .where(Job.status == JobStatus.QUEUED.value, Job.run_at <= now)
        .order_by(Job.run_at, Job.id)
        .limit(1)
    )
    if is_postgres:
        stmt = stmt.with_for_update(skip_locked=True)
    return session.scalar(stmt)


def backoff(attempts: int) -> timedelta:
    """10 s, 20 s, 40 s … capped at an hour."""
    return timedelta(
        seconds=min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS)
    )


def record_failure(job: Job, error: BaseException, now: datetime) -> None:
    job.attempts += 1
    job.last_error = f"{type(error).__name__}: {error}"[:2000]
    if job.attempts >= job.max_attempts:
        job.status = JobStatus.DEAD.value
        job.finished_at = now
    else:
        job.run_at = now + backoff(job.attempts)


def record_success(job: Job, now: datetime) -> None:
    job.attempts += 1
    job.status = JobStatus.DONE.value
    job.finished_at = now
    job.last_error = None


def retry(job: Job, now: datetime) -> None:
    """An administrator's retry of a dead job: a fresh set of attempts, now."""
    job.status = JobStatus.QUEUED.value
    job.attempts = 0
    job.run_at = now
    job.finished_at = None


Handler = Callable[[Any, Session, dict[str, Any]], None]
HANDLERS: dict[str, Handler] = {}


def handler(kind: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return register
