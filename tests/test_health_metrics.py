"""Health, readiness and Prometheus metrics: what operators see, and who may see it."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.app import create_app
from service.clock import OffsetClock
from service.config import PROJECT_ROOT, Settings
from service.context import Services
from service.jobs.models import WorkerHeartbeat
from service.jobs.queue import enqueue, handler
from service.jobs.runner import run_due_jobs
from service.metrics import serve_worker_metrics
from service.migrate import alembic_config
from service.tasks.models import HumanTask
from service.worker import Worker
from tests import incident_data as answers
from tests.test_incident_routine import complete, report_incident
from tests.test_worker import _probe_cases
from tests.web_client import Browser

Make = Callable[[str | None], Browser]
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _samples(text: str) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _scrape(app: Flask, **kwargs: Any) -> Samples:
    response = app.test_client().get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain")
    return _samples(response.get_data(as_text=True))


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _beat(session: Session, seconds_ago: float, clock: OffsetClock) -> None:
    session.add(
        WorkerHeartbeat(
            worker_id="test-worker", seen_at=clock.now() - timedelta(seconds=seconds_ago)
        )
    )
    session.commit()


_created: list[Services] = []


@pytest.fixture(autouse=True)
def _dispose_created() -> Iterator[None]:
    yield
    while _created:
        _created.pop().db.engine.dispose()


def _own(services: Services) -> Services:
    """Services a test made for an app with other settings, disposed after the test."""
    _created.append(services)
    return services


def _checks(body: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["name"]: (c["status"], c["reason"]) for c in body["checks"]}


# ---------------------------------------------------------------- health and readiness


def test_healthz_answers_without_sign_in_or_database(settings: Settings) -> None:
    unreachable = dataclasses.replace(settings, database_url="sqlite:////nonexistent/dir/x.sqlite3")
    app = create_app(unreachable, _own(Services.create(unreachable)))
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_is_ready_with_a_fresh_heartbeat(
    app: Flask, session: Session, clock: OffsetClock
) -> None:
    _beat(session, 5, clock)
    response = app.test_client().get("/readyz")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "ok"
    checks = _checks(body)
    assert set(checks) == {"database", "migrations", "worker"}
    assert all(status == "ok" for status, _ in checks.values())
    assert "limit 120 s" in checks["worker"][1]


def test_readyz_fails_with_a_stale_heartbeat_or_none(
    app: Flask, session: Session, clock: OffsetClock
) -> None:
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert _checks(response.get_json())["worker"] == (
        "failed",
        "no worker has ever reported: start `trygg worker`",
    )
    _beat(session, 30, clock)
    clock.advance(timedelta(seconds=200))  # the worker stopped 230 s ago
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "failed"
    checks = _checks(body)
    assert checks["database"][0] == checks["migrations"][0] == "ok"
    status, reason = checks["worker"]
    assert status == "failed" and re.fullmatch(r"last heartbeat 23\d s ago \(limit 120 s\)", reason)


def test_the_stale_limit_is_configurable(
    settings: Settings, services: Services, session: Session, clock: OffsetClock
) -> None:
    _beat(session, 300, clock)
    assert create_app(settings, services).test_client().get("/readyz").status_code == 503
    patient = dataclasses.replace(settings, worker_stale_seconds=600)
    app = create_app(patient, _own(Services.create(patient)))
    assert app.test_client().get("/readyz").status_code == 200


def test_readyz_fails_when_the_database_is_behind_head(
    app: Flask, services: Services, session: Session, clock: OffsetClock
) -> None:
    _beat(session, 1, clock)
    script = ScriptDirectory.from_config(alembic_config(services.db.url))
    head = script.get_current_head()
    assert head is not None
    previous = script.get_revision(head).down_revision
    assert isinstance(previous, str)
    cfg = alembic_config(services.db.url)
    with services.db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.stamp(cfg, previous)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    status, reason = _checks(response.get_json())["migrations"]
    assert status == "failed"
    assert reason == f"database at {previous}, code expects {head}: run `trygg migrate`"


def test_readyz_fails_without_a_database_and_says_nothing_about_it(settings: Settings) -> None:
    unreachable = dataclasses.replace(settings, database_url="sqlite:////nonexistent/dir/x.sqlite3")
    app = create_app(unreachable, _own(Services.create(unreachable)))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    checks = _checks(response.get_json())
    assert checks["database"] == ("failed", "unreachable (OperationalError)")
    assert checks["migrations"][0] == checks["worker"][0] == "failed"
    assert "nonexistent" not in response.get_data(as_text=True)


# ---------------------------------------------------------------- metrics


FAILURES: list[int] = []


@handler("test.metrics_fails")
def _fails(_services: Any, _session: Session, payload: dict[str, Any]) -> None:
    FAILURES.append(int(payload["n"]))
    raise ConnectionRefusedError("relay refused anna@example.invalid")


def test_metrics_expose_every_family_after_a_request_and_a_completed_task(
    app: Flask, browser: Make, session: Session, clock: OffsetClock
) -> None:
    before = _scrape(app)
    case_id = report_incident(browser("anna"), danger_ongoing="no")
    complete(browser("kansli.fp"), "Stöd till den drabbade", answers.PARTY_SUPPORT, case_id)
    _beat(session, 0, clock)
    after = _scrape(app)

    posted = {"endpoint": "tasks.task", "method": "POST", "status": "302"}
    assert _value(after, "trygg_http_requests_total", **posted) == (
        _value(before, "trygg_http_requests_total", **posted) + 1
    )
    assert _value(
        after, "trygg_http_request_duration_seconds_count", endpoint="tasks.task", method="POST"
    ) == 1 + _value(
        before, "trygg_http_request_duration_seconds_count", endpoint="tasks.task", method="POST"
    )
    # The database gauges, read at scrape time.
    open_security = session.scalars(
        select(HumanTask).where(HumanTask.status == "open", HumanTask.role == "security")
    ).all()
    assert _value(after, "trygg_open_tasks", role="security") == len(open_security) >= 1
    assert _value(after, "trygg_open_tasks", role="party_office") == 0, "completed"
    assert _value(after, "trygg_cases", process="incident", status="running") == 1
    assert _value(after, "trygg_job_queue_depth", kind="notify.new_tasks") >= 1
    assert _value(after, "trygg_database_up") == 1
    assert 0 <= _value(after, "trygg_worker_heartbeat_age_seconds") < 5
    assert _value(after, "trygg_timer_backlog_seconds") == 0
    assert _value(after, "trygg_overdue_tasks", role="security") == 0

    clock.advance(timedelta(days=60))  # every open task is past due by now
    later = _scrape(app)
    assert _value(later, "trygg_overdue_tasks", role="security") == len(open_security)
    assert _value(later, "trygg_worker_heartbeat_age_seconds") >= 60 * 86400

    names = {name for name, _labels in later}
    for family in (
        "trygg_http_requests_total",
        "trygg_http_request_duration_seconds_bucket",
        "trygg_open_tasks",
        "trygg_overdue_tasks",
        "trygg_cases",
        "trygg_job_queue_depth",
        "trygg_worker_heartbeat_age_seconds",
        "trygg_timer_backlog_seconds",
        "trygg_database_up",
    ):
        assert family in names, family
    _assert_no_ids_in_labels(app, later)


def _assert_no_ids_in_labels(app: Flask, samples: Samples) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()} | {"unmatched"}
    for name, labels in samples:
        if not name.startswith("trygg_"):
            continue  # the client library's own process and platform facts
        for key, value in labels:
            if key == "endpoint":
                # This app's endpoint names (other tests in the process may add their own).
                assert value in endpoints or re.fullmatch(r"[a-z_][a-z_.-]*", value), (name, value)
            elif key not in ("status", "le", "quantile"):
                assert not re.search(r"\d{2,}|/", value), (name, key, value)


def test_metrics_count_timer_lateness_and_job_failures(
    app: Flask, services: Services, session: Session, clock: OffsetClock
) -> None:
    ids = _probe_cases(services, session, 2, timer='"PT2H"')
    job = enqueue(session, "test.metrics_fails", {"n": 1})
    session.commit()
    before = _scrape(app)
    clock.advance(timedelta(hours=2, seconds=30))
    backlog = _scrape(app)
    assert 30 <= _value(backlog, "trygg_timer_backlog_seconds") < 60, "due and not yet fired"

    Worker(services, "test-worker", schedule_every=3600).run_once()
    after = _scrape(app)
    probe = {"process": "engine_probe"}
    count = "trygg_timer_lateness_seconds_count"
    assert _value(after, count, **probe) - _value(before, count, **probe) == len(ids)
    lateness = _value(after, "trygg_timer_lateness_seconds_sum", **probe) - _value(
        before, "trygg_timer_lateness_seconds_sum", **probe
    )
    assert 60 <= lateness < 70, "two timers, each fired about 30 s late"

    def bucket(samples: Samples, le: str) -> float:
        return _value(samples, "trygg_timer_lateness_seconds_bucket", le=le, **probe)

    assert bucket(after, "60.0") - bucket(before, "60.0") == 2
    assert bucket(after, "10.0") - bucket(before, "10.0") == 0
    assert _value(after, "trygg_timer_backlog_seconds") == 0

    failures = "trygg_job_failures_total"
    assert _value(after, failures, kind="test.metrics_fails") == 1 + _value(
        before, failures, kind="test.metrics_fails"
    )
    assert _value(after, "trygg_job_queue_depth", kind="test.metrics_fails") == 1, "retried later"
    session.refresh(job)
    job.attempts = job.max_attempts - 1
    job.run_at = clock.now()
    session.commit()
    run_due_jobs(services)
    dead = _scrape(app)
    assert _value(dead, "trygg_jobs_dead", kind="test.metrics_fails") == 1
    assert _value(dead, "trygg_job_queue_depth", kind="test.metrics_fails") == 0
    assert FAILURES == [1, 1]
    _assert_no_ids_in_labels(app, dead)


def test_metrics_are_refused_off_loopback_and_without_the_token(
    settings: Settings, services: Services
) -> None:
    open_app = create_app(settings, services)
    client = open_app.test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 403
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    proxied = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert proxied.status_code == 403, "a proxy on the same host does not make a request local"
    refused = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert b"trygg_" not in refused.get_data()

    with_token = dataclasses.replace(settings, metrics_token="s3cret-token")
    token_app = create_app(with_token, _own(Services.create(with_token)))
    client = token_app.test_client()
    remote = {"REMOTE_ADDR": "10.1.2.3"}
    missing = client.get("/metrics", environ_base=remote)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == "Bearer"
    wrong = client.get("/metrics", environ_base=remote, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    local_without = client.get("/metrics")
    assert local_without.status_code == 401, "with a token set, loopback needs it too"
    right = client.get(
        "/metrics", environ_base=remote, headers={"Authorization": "Bearer s3cret-token"}
    )
    assert right.status_code == 200 and b"trygg_http_requests_total" in right.get_data()


def test_the_worker_serves_its_own_metrics_with_the_same_rule() -> None:
    server = serve_worker_metrics("127.0.0.1", 0, "w0rker-token")
    port = server.server_port
    try:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == 401
        request.add_header("Authorization", "Bearer w0rker-token")
        with urllib.request.urlopen(request, timeout=5) as response:
            body = response.read().decode()
        assert "trygg_timer_lateness_seconds" in body and "trygg_job_failures" in body
        with pytest.raises(urllib.error.HTTPError) as elsewhere:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/other", timeout=5)
        assert elsewhere.value.code == 404
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------- several gunicorn workers


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    """gunicorn with two workers and the image's config, in multiprocess mode."""
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_99999.db").write_bytes(b"stale from the last run")
    log_file = tmp_path / "gunicorn.log"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "x" * 32,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "TRYGG_LOG_FORMAT": "json",
    }
    env.pop("TRYGG_METRICS_TOKEN", None)
    with log_file.open("w") as log:
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "--config",
                "python:service.gunicorn_conf",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "service.wsgi:app",
            ],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield f"http://127.0.0.1:{port}", metrics_dir, log_file
        finally:
            server.terminate()
            server.wait(timeout=20)


def _get(url: str) -> tuple[int, str]:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_several_gunicorn_workers_add_up_in_one_scrape(served: tuple[str, Path, Path]) -> None:
    base, metrics_dir, log_file = served
    # Counted from a first scrape on: a request sent while the server was still
    # booting may have timed out on this side and yet have been answered later.
    status, text = _get(f"{base}/metrics")
    assert status == 200
    before = _samples(text)
    for _ in range(12):
        assert _get(f"{base}/healthz")[0] == 200
    assert _get(f"{base}/readyz")[0] == 503, "no worker runs beside this server"
    status, text = _get(f"{base}/metrics")
    assert status == 200
    after = _samples(text)

    def delta(**labels: str) -> float:
        name = "trygg_http_requests_total"
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert delta(endpoint="health.healthz", method="GET", status="200") == 12
    assert delta(endpoint="health.readyz", method="GET", status="503") == 1
    assert _value(after, "trygg_database_up") == 1
    files = {p.name for p in metrics_dir.glob("*.db")}
    assert "counter_99999.db" not in files, "emptied when gunicorn started"
    assert any(f.startswith("counter_") for f in files), files

    lines = [line for line in log_file.read_text().splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]  # every line is JSON, gunicorn's own too
    assert any(entry["logger"] == "gunicorn.error" for entry in parsed)
    access = [entry for entry in parsed if entry["logger"] == "trygg.access"]
    assert len(access) >= 14
    assert {entry["endpoint"] for entry in access} >= {"health.healthz", "health.readyz"}
    assert all(re.fullmatch(r"[0-9a-f]{32}", entry["request_id"]) for entry in access)
    assert not any("/healthz" in line for line in lines), "no URLs: endpoint names only"


_PROCESS = """
import sys
from service.app import create_app
app = create_app()
client = app.test_client()
for _ in range(int(sys.argv[1])):
    assert client.get("/healthz").status_code == 200
if sys.argv[2] == "scrape":
    sys.stdout.write(client.get("/metrics").get_data(as_text=True))
"""


def test_multiprocess_mode_adds_up_processes_that_have_exited(
    database_url: str, tmp_path: Path
) -> None:
    """Two processes in turn, as two gunicorn workers (one since restarted) would be."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "x" * 32,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
    }
    env.pop("TRYGG_METRICS_TOKEN", None)
    run = [sys.executable, "-c", _PROCESS]
    first = subprocess.run(
        [*run, "3", "quiet"], env=env, capture_output=True, text=True, cwd=PROJECT_ROOT
    )
    assert first.returncode == 0, first.stderr[-3000:]
    scraped = subprocess.run(
        [*run, "2", "scrape"], env=env, capture_output=True, text=True, cwd=PROJECT_ROOT
    )
    assert scraped.returncode == 0, scraped.stderr[-3000:]
    samples = _samples(scraped.stdout)
    healthz = {"endpoint": "health.healthz", "method": "GET", "status": "200"}
    assert _value(samples, "trygg_http_requests_total", **healthz) == 5
    assert (
        _value(
            samples,
            "trygg_http_request_duration_seconds_count",
            endpoint="health.healthz",
            method="GET",
        )
        == 5
    )
    assert _value(samples, "trygg_database_up") == 1
    assert len(list(tmp_path.glob("counter_*.db"))) == 2, "one file per process"
