"""The worker: fires due timers, runs background jobs and the yearly offers, then sleeps exactly.

Any number can run against PostgreSQL (cases and jobs are claimed with
``FOR UPDATE SKIP LOCKED``); on SQLite run one. Between rounds the worker
sleeps until the earliest due timer or job (never longer than ``poll_max``),
and on PostgreSQL a ``NOTIFY trygg_wakeup`` from a request that set an
earlier timer wakes it at once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import datetime

import psycopg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

import service.jobs.kinds  # noqa: F401 - registers the job handlers
from service import clock
from service.audit.chain import seal_new_events
from service.cases.models import CaseStatus, ProcessInstance
from service.cases.timers import fire_due_timers
from service.cases.yearly import offer_yearly_conversations
from service.context import Services
from service.jobs.models import Job, JobStatus, WorkerHeartbeat
from service.jobs.queue import WAKEUP_CHANNEL
from service.jobs.runner import run_due_jobs
from service.logging_setup import bind
from service.retention.jobs import schedule_daily_disposal

log = logging.getLogger(__name__)


class Worker:
    def __init__(
        self,
        services: Services,
        worker_id: str | None = None,
        poll_max: float = 1.0,
        schedule_every: float = 60.0,
    ) -> None:
        self.services = services
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.poll_max = poll_max
        self.schedule_every = schedule_every
        self._last_schedule = 0.0
        self.stop_event = threading.Event()

    def run_once(self) -> int:
        """One round; returns how much work it did."""
        done = fire_due_timers(self.services, now=clock.now())
        done += run_due_jobs(self.services)
        seal_new_events(self.services)  # not counted: sealing is bookkeeping, not work waiting
        if time.monotonic() - self._last_schedule >= self.schedule_every:
            self._last_schedule = time.monotonic()
            done += offer_yearly_conversations(self.services)
            done += schedule_daily_disposal(self.services)  # gallring, once a night
        self._heartbeat()
        return done

    def next_due(self) -> datetime | None:
        with self.services.db.sessions() as session:
            timer = session.scalar(
                select(func.min(ProcessInstance.next_wakeup)).where(
                    ProcessInstance.status == CaseStatus.RUNNING.value
                )
            )
            job = session.scalar(
                select(func.min(Job.run_at)).where(Job.status == JobStatus.QUEUED.value)
            )
        due = [d for d in (timer, job) if d is not None]
        return min(due) if due else None

    def _heartbeat(self) -> None:
        with self.services.db.sessions() as session:
            beat = session.get(WorkerHeartbeat, self.worker_id)
            if beat is None:
                session.add(WorkerHeartbeat(worker_id=self.worker_id, seen_at=clock.now()))
            else:
                beat.seen_at = clock.now()
            session.commit()

    def _sleep_seconds(self) -> float:
        due = self.next_due()
        if due is None:
            return self.poll_max
        return max(0.0, min(self.poll_max, (due - clock.now()).total_seconds()))

    def run(self) -> None:
        # Its lines say "worker" even on a thread of `trygg serve`'s web server process.
        with bind(component="worker", worker=self.worker_id):
            self._run()

    def _run(self) -> None:
        log.info("worker started")
        listener = self._listen()
        try:
            while not self.stop_event.is_set():
                try:
                    if self.run_once():
                        continue  # more may be due right away
                except Exception:  # a bad round must not stop the worker
                    log.exception("worker round failed")
                self._wait(self._sleep_seconds(), listener)
        finally:
            if listener is not None:
                listener.close()

    def _listen(self) -> psycopg.Connection[tuple[object, ...]] | None:
        if not self.services.db.is_postgres:
            return None
        url = make_url(self.services.db.url)
        conn = psycopg.connect(
            host=url.host or "127.0.0.1",
            port=url.port or 5432,
            user=url.username,
            password=url.password,
            dbname=url.database,
            autocommit=True,
        )
        conn.execute(f"LISTEN {WAKEUP_CHANNEL}")
        return conn

    def _wait(
        self, seconds: float, listener: psycopg.Connection[tuple[object, ...]] | None
    ) -> None:
        if seconds <= 0:
            return
        if listener is None:
            self.stop_event.wait(seconds)
            return
        for _note in listener.notifies(timeout=seconds, stop_after=1):
            break
