"""The worker: timers fire once (three workers on PostgreSQL), jobs retry with back-off, yearly offers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from service.audit.models import AuditEvent
from service.cases.models import ProcessInstance
from service.cases.schedule_models import ScheduledStart
from service.cases.service import complete_task, start_case
from service.cases.yearly import offer_yearly_conversations
from service.clock import OffsetClock
from service.context import Services
from service.jobs.models import Job, WorkerHeartbeat
from service.jobs.queue import enqueue, handler
from service.jobs.runner import run_due_jobs
from service.people.models import Person, User
from service.tasks.models import HumanTask
from service.worker import Worker
from tests.probe import deploy_probe

CASES = 60


def _probe_cases(services: Services, session: Session, count: int, timer: str) -> list[int]:
    deploy_probe(session, timer=timer)
    user = session.scalar(select(User).where(User.username == "sakerhet"))
    subject = session.scalar(select(Person).where(Person.full_name == "David Dahl"))
    assert user is not None and subject is not None
    ids = []
    for _ in range(count):
        instance = start_case(
            services, session, user, "engine_probe", subject, MultiDict()
        ).instance
        session.commit()
        task = session.scalar(
            select(HumanTask).where(
                HumanTask.instance_id == instance.id, HumanTask.status == "open"
            )
        )
        assert task is not None
        complete_task(services, session, user, task.id, MultiDict({"choice": "timer"}))
        session.commit()
        ids.append(instance.id)
    return ids


def _fired(session: Session, ids: list[int]) -> dict[int, int]:
    session.expire_all()
    rows = session.execute(
        select(AuditEvent.instance_id, func.count(AuditEvent.id))
        .where(AuditEvent.action == "case.timer_fired", AuditEvent.instance_id.in_(ids))
        .group_by(AuditEvent.instance_id)
    ).all()
    return {instance_id: count for instance_id, count in rows}


def test_worker_round_fires_what_is_due_by_the_moved_clock(
    services: Services, session: Session, clock: OffsetClock
) -> None:
    ids = _probe_cases(services, session, 3, timer='"PT2H"')
    worker = Worker(services, "test-worker", schedule_every=3600)
    worker.run_once()
    assert _fired(session, ids) == {}
    clock.advance(timedelta(hours=2, seconds=1))
    worker.run_once()
    assert _fired(session, ids) == dict.fromkeys(ids, 1)
    statuses = session.scalars(select(ProcessInstance.status).where(ProcessInstance.id.in_(ids)))
    assert set(statuses) == {"completed"}


@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"),
    reason="several workers need PostgreSQL (SQLite runs one)",
)
def test_three_workers_fire_each_timer_exactly_once(
    services: Services, session: Session, database_url: str
) -> None:
    ids = _probe_cases(services, session, CASES, timer='"PT3S"')
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "DATABASE_URL": database_url, "TRYGG_TEST_FAST_HASHES": "1"}
    workers = [
        subprocess.Popen(
            [str(bin_dir / "trygg"), "worker", "--poll-max", "0.2"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(3)
    ]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(_fired(session, ids)) < CASES:
            time.sleep(0.25)
    finally:
        for proc in workers:
            proc.send_signal(signal.SIGTERM)
        for proc in workers:
            proc.wait(timeout=20)
    fired = _fired(session, ids)
    assert fired == dict.fromkeys(ids, 1), "every timer fired, and only once"
    beats = session.scalar(select(func.count(WorkerHeartbeat.worker_id)))
    assert beats is not None and beats >= 3


FAILURES: list[int] = []


@handler("test.always_fails")
def _always_fails(_services: Any, _session: Session, payload: dict[str, Any]) -> None:
    FAILURES.append(int(payload["n"]))
    raise ConnectionRefusedError("SMTP server not reachable")


def test_failing_job_backs_off_then_is_kept_as_dead(
    services: Services, session: Session, clock: OffsetClock
) -> None:
    job = enqueue(session, "test.always_fails", {"n": 1})
    session.commit()
    runs_at, failed_at = [], []
    for _ in range(job.max_attempts):
        failed_at.append(clock.now())
        assert run_due_jobs(services) == 1
        session.refresh(job)
        runs_at.append(job.run_at)
        assert run_due_jobs(services) == 0, "not retried before its back-off"
        clock.advance(timedelta(hours=2))
    assert job.status == "dead" and job.attempts == job.max_attempts
    assert "SMTP server not reachable" in (job.last_error or "")
    # The retry comes later each time: 10 s, 20 s, 40 s … after the failure.
    delays = [at - started for at, started in zip(runs_at[:-1], failed_at, strict=False)]
    assert [round(d.total_seconds()) for d in delays] == [10, 20, 40, 80, 160]
    assert session.scalar(select(func.count(Job.id)).where(Job.status == "dead")) == 1


def test_yearly_conversation_is_offered_once_per_period_also_after_downtime(
    services: Services, session: Session, clock: OffsetClock
) -> None:
    full_time = session.scalars(select(Person.id).where(Person.category == "full_time")).all()
    assert offer_yearly_conversations(services) == len(full_time), "never offered: offered now"
    assert offer_yearly_conversations(services) == 0, "exactly once"
    clock.advance(timedelta(days=200))
    assert offer_yearly_conversations(services) == 0, "not yet due"
    clock.advance(timedelta(days=700))  # a long downtime: one catch-up offer each, not several
    assert offer_yearly_conversations(services) == len(full_time)
    assert offer_yearly_conversations(services) == 0
    markers = session.scalar(select(func.count(ScheduledStart.id)))
    assert markers == 2 * len(full_time)
    cases = session.scalars(
        select(ProcessInstance).where(ProcessInstance.process_id == "security_conversation")
    ).all()
    assert len(cases) == 2 * len(full_time)
    assert all(c.started_by_id is None for c in cases), "started by the system"
