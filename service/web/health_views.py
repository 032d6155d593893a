"""Liveness, readiness and metrics for the operators' tools: no personal data, no sign-in.

* ``GET /healthz`` — the process answers (touches nothing else: restarting a
  web server does not bring a database back).
* ``GET /readyz`` — the database answers, its schema is at the code's Alembic
  head and a worker has beaten its heart within ``TRYGG_WORKER_STALE_SECONDS``
  (default 120): timers and e-mail depend on it. 200 when every check passes,
  503 otherwise; each check by name with a reason.
* ``GET /metrics`` — Prometheus exposition (service/metrics.py), refused
  unless the bearer token matches ``TRYGG_METRICS_TOKEN`` or, with no token
  set, the request comes straight from the loopback address.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from alembic.script import ScriptDirectory
from flask import Blueprint, Response, current_app, request
from sqlalchemy import Connection, func, inspect, select, text
from sqlalchemy.exc import SQLAlchemyError

from service import clock, metrics
from service.context import Services
from service.jobs.models import WorkerHeartbeat
from service.migrate import alembic_config

bp = Blueprint("health", __name__)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    reason: str

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "status": "ok" if self.ok else "failed", "reason": self.reason}


def _services() -> Services:
    services: Services = current_app.extensions["trygg"]
    return services


@cache
def code_heads() -> frozenset[str]:
    """The Alembic heads of the migrations shipped with this code (read once per process)."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return frozenset(script.get_heads())


def _database_revisions(connection: Connection) -> frozenset[str]:
    # Read directly: Alembic's MigrationContext logs two lines each time it is made.
    if not inspect(connection).has_table("alembic_version"):
        return frozenset()
    return frozenset(connection.scalars(text("SELECT version_num FROM alembic_version")))


def readiness_checks(services: Services) -> list[Check]:
    try:
        with services.db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            revisions = _database_revisions(connection)
        with services.db.sessions() as session:
            newest = session.scalar(select(func.max(WorkerHeartbeat.seen_at)))
    except SQLAlchemyError as exc:
        # The type only: a driver's message names hosts and users.
        reason = f"unreachable ({type(exc).__name__})"
        return [
            Check("database", False, reason),
            Check("migrations", False, "database unreachable"),
            Check("worker", False, "database unreachable"),
        ]
    checks = [Check("database", True, "reachable")]
    expected = code_heads()
    if revisions == expected:
        checks.append(Check("migrations", True, f"at head {', '.join(sorted(expected))}"))
    else:
        found = ", ".join(sorted(revisions)) or "no revision"
        checks.append(
            Check(
                "migrations",
                False,
                f"database at {found}, code expects {', '.join(sorted(expected))}: run `trygg migrate`",
            )
        )
    limit = services.settings.worker_stale_seconds
    if newest is None:
        checks.append(Check("worker", False, "no worker has ever reported: start `trygg worker`"))
    else:
        age = (clock.now() - newest).total_seconds()
        checks.append(
            Check(
                "worker",
                age <= limit,
                f"last heartbeat {age:.0f} s ago (limit {limit} s)",
            )
        )
    return checks


@bp.route("/healthz")
def healthz() -> tuple[dict[str, str], int]:
    return {"status": "ok"}, 200


@bp.route("/readyz")
def readyz() -> tuple[dict[str, object], int]:
    checks = readiness_checks(_services())
    ready = all(check.ok for check in checks)
    body: dict[str, object] = {
        "status": "ok" if ready else "failed",
        "checks": [check.as_json() for check in checks],
    }
    return body, 200 if ready else 503


@bp.route("/metrics", endpoint="metrics")
def metrics_view() -> Response:
    services = _services()
    refused = metrics.refusal(
        services.settings.metrics_token,
        request.remote_addr,
        request.headers.get("Authorization"),
        proxied=any(request.headers.get(name) for name in metrics.PROXY_HEADERS),
    )
    if refused is not None:
        response = Response("refused\n", status=refused, mimetype="text/plain")
        if refused == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response
    body, content_type = metrics.render(services)
    return Response(body, status=200, content_type=content_type)
