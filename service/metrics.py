"""Prometheus metrics (prometheus-client): counters in the process, gauges from the database.

Counted where it happens (in memory, or in ``PROMETHEUS_MULTIPROC_DIR`` when
set, so that every gunicorn worker's counts add up in one scrape):

* ``trygg_http_requests_total{endpoint,method,status}`` and
  ``trygg_http_request_duration_seconds{endpoint,method}`` — the Flask
  endpoint name, never the path (a path holds case and task ids);
* ``trygg_timer_lateness_seconds{process}`` — how long after its due time
  a timer was fired (observed by whoever fires it: the worker);
* ``trygg_job_failures_total{kind}`` — failed job attempts.

Read from the database at scrape time by :class:`DatabaseCollector`, with a
handful of grouped counts (no per-row work): open and overdue tasks per role,
cases per process and status, queued and dead jobs per kind, the newest
worker heartbeat's age and the oldest unfired due timer.

Multiprocess mode: prometheus-client chooses it when the first metric is
created, from ``PROMETHEUS_MULTIPROC_DIR``; the directory must be emptied
before the server starts (service/gunicorn_conf.py does, and ``trygg serve``
makes a fresh one when none is set).
"""

from __future__ import annotations

import hmac
import ipaddress
import math
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

MULTIPROCESS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
if MULTIPROCESS_DIR:
    # Metrics without labels open their file when created: the directory must exist first.
    os.makedirs(MULTIPROCESS_DIR, exist_ok=True)

from prometheus_client import (  # noqa: E402 - after the directory exists
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric  # noqa: E402
from prometheus_client.multiprocess import MultiProcessCollector  # noqa: E402
from prometheus_client.registry import Collector  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.exc import SQLAlchemyError  # noqa: E402

from service import clock  # noqa: E402

if TYPE_CHECKING:
    from service.context import Services

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

HTTP_REQUESTS = Counter(
    "trygg_http_requests",
    "Requests answered, by Flask endpoint, method and status.",
    ["endpoint", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "trygg_http_request_duration_seconds",
    "Time to answer a request, by Flask endpoint and method.",
    ["endpoint", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
TIMER_LATENESS = Histogram(
    "trygg_timer_lateness_seconds",
    "How long after its due time a case's timer was fired, by process.",
    ["process"],
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600),
)
JOB_FAILURES = Counter(
    "trygg_job_failures",
    "Failed attempts at background jobs, by kind.",
    ["kind"],
)


def observe_request(endpoint: str | None, method: str, status: int, seconds: float) -> None:
    # Unknown methods are folded together so that a scanner cannot grow the label set.
    method = method if method in _METHODS else "OTHER"
    name = endpoint or "unmatched"
    HTTP_REQUESTS.labels(name, method, str(status)).inc()
    HTTP_LATENCY.labels(name, method).observe(seconds)


def observe_timer_lateness(process_id: str, due: datetime | None, fired_at: datetime) -> None:
    if due is not None:
        TIMER_LATENESS.labels(process_id).observe(max(0.0, (fired_at - due).total_seconds()))


def observe_job_failure(kind: str) -> None:
    JOB_FAILURES.labels(kind).inc()


class DatabaseCollector(Collector):
    """Gauges read from the database when Prometheus scrapes."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def describe(self) -> Iterable[Metric]:
        return []  # nothing to query when registered

    def collect(self) -> Iterator[Metric]:
        # Imported here: the models import the engine, which a bare metrics import need not.
        from service.cases.models import CaseStatus, ProcessInstance
        from service.jobs.models import Job, JobStatus, WorkerHeartbeat
        from service.tasks.models import HumanTask, TaskStatus

        now = clock.now()
        up = GaugeMetricFamily(
            "trygg_database_up", "1 when the scrape could read the database, else 0."
        )
        try:
            with self.services.db.sessions() as session:
                open_tasks = session.execute(
                    select(HumanTask.role, func.count())
                    .where(HumanTask.status == TaskStatus.OPEN.value)
                    .group_by(HumanTask.role)
                ).all()
                overdue = session.execute(
                    select(HumanTask.role, func.count())
                    .where(HumanTask.status == TaskStatus.OPEN.value, HumanTask.due_at < now)
                    .group_by(HumanTask.role)
                ).all()
                cases = session.execute(
                    select(
                        ProcessInstance.process_id, ProcessInstance.status, func.count()
                    ).group_by(ProcessInstance.process_id, ProcessInstance.status)
                ).all()
                jobs = session.execute(
                    select(Job.kind, Job.status, func.count())
                    .where(Job.status.in_([JobStatus.QUEUED.value, JobStatus.DEAD.value]))
                    .group_by(Job.kind, Job.status)
                ).all()
                heartbeat = session.scalar(select(func.max(WorkerHeartbeat.seen_at)))
                oldest_due = session.scalar(
                    select(func.min(ProcessInstance.next_wakeup)).where(
                        ProcessInstance.status == CaseStatus.RUNNING.value,
                        ProcessInstance.next_wakeup <= now,
                    )
                )
        except SQLAlchemyError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up

        yield _by_label(
            "trygg_open_tasks", "Open tasks in the inboxes, by role.", "role", open_tasks
        )
        yield _by_label(
            "trygg_overdue_tasks", "Open tasks past their due time, by role.", "role", overdue
        )
        case_family = GaugeMetricFamily(
            "trygg_cases", "Cases by process and status.", labels=["process", "status"]
        )
        for process_id, status, count in cases:
            case_family.add_metric([process_id, status], count)
        yield case_family

        queued = GaugeMetricFamily(
            "trygg_job_queue_depth", "Jobs waiting to run (due or later), by kind.", labels=["kind"]
        )
        dead = GaugeMetricFamily(
            "trygg_jobs_dead", "Jobs that failed every attempt, by kind.", labels=["kind"]
        )
        for kind, status, count in jobs:
            (queued if status == JobStatus.QUEUED.value else dead).add_metric([kind], count)
        yield queued
        yield dead

        age = GaugeMetricFamily(
            "trygg_worker_heartbeat_age_seconds",
            "Seconds since the newest worker heartbeat (+Inf when no worker has ever run).",
        )
        age.add_metric([], (now - heartbeat).total_seconds() if heartbeat else math.inf)
        yield age
        backlog = GaugeMetricFamily(
            "trygg_timer_backlog_seconds",
            "How long the oldest due timer has waited to be fired (0 when none is waiting).",
        )
        backlog.add_metric([], max(0.0, (now - oldest_due).total_seconds()) if oldest_due else 0)
        yield backlog


def _by_label(
    name: str, documentation: str, label: str, rows: Iterable[tuple[str, int]]
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for value, count in rows:
        family.add_metric([value], count)
    return family


class _InProcess(Collector):
    """The default registry's metrics (this process's counters, process and GC stats)."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def render(services: Services | None) -> tuple[bytes, str]:
    """The exposition text: this process's (or every process's) counters, plus the database gauges."""
    registry = CollectorRegistry(auto_describe=False)
    if MULTIPROCESS_DIR:
        MultiProcessCollector(registry, path=MULTIPROCESS_DIR)  # type: ignore[no-untyped-call]
    else:
        registry.register(_InProcess())
    if services is not None:
        registry.register(DatabaseCollector(services))
    return generate_latest(registry), CONTENT_TYPE_LATEST


# Headers a reverse proxy adds: a request carrying one came from elsewhere,
# even when the proxy itself connects from the loopback address.
PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


def refusal(
    token: str | None, remote_addr: str | None, authorization: str | None, proxied: bool
) -> int | None:
    """Why a scrape is refused (401/403), or None when it may be answered.

    With ``TRYGG_METRICS_TOKEN`` set, only ``Authorization: Bearer <token>``
    is served, from anywhere. Without one, only direct requests from the
    loopback address (127.0.0.1, ::1) that no proxy forwarded are served.
    """
    if token:
        scheme, _, value = (authorization or "").partition(" ")
        ok = scheme.lower() == "bearer" and hmac.compare_digest(
            value.strip().encode(), token.encode()
        )
        return None if ok else 401
    if proxied:
        return 403
    try:
        return None if remote_addr and ipaddress.ip_address(remote_addr).is_loopback else 403
    except ValueError:
        return 403


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not worth a line each (and this one would not be JSON)."""


def worker_metrics_app(token: str | None) -> Callable[..., Iterable[bytes]]:
    """A WSGI app serving this process's metrics (the worker's timer lateness, job failures)."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        proxied = any(
            environ.get("HTTP_" + name.upper().replace("-", "_")) for name in PROXY_HEADERS
        )
        refused = refusal(
            token, environ.get("REMOTE_ADDR"), environ.get("HTTP_AUTHORIZATION"), proxied
        )
        if environ.get("PATH_INFO") != "/metrics":
            refused = 404
        if refused is not None:
            extra = [("WWW-Authenticate", "Bearer")] if refused == 401 else []
            start_response(f"{refused} Refused", [("Content-Type", "text/plain"), *extra])
            return [b"refused\n" if refused != 404 else b"not found\n"]
        body, content_type = render(None)
        start_response("200 OK", [("Content-Type", content_type)])
        return [body]

    return app


def serve_worker_metrics(address: str, port: int, token: str | None) -> WSGIServer:
    """Serve ``/metrics`` for a worker process on a daemon thread; returns the server."""
    server = make_server(address, port, worker_metrics_app(token), handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="trygg-metrics", daemon=True).start()
    return server
