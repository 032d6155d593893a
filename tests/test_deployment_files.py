"""What can be checked of the deployment here (no Docker engine): compose and image files."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

from service.config import PROJECT_ROOT

COMPOSE = PROJECT_ROOT / "docker-compose.yml"


def _compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load(COMPOSE.read_text())  # type: ignore[no-any-return]


def test_compose_has_postgres_and_gunicorn_app_with_health_checks() -> None:
    services = _compose()["services"]
    assert services["db"]["image"].startswith("postgres:")
    for name in ("db", "app"):
        assert "healthcheck" in services[name], name
    assert services["app"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert "gunicorn" in dockerfile and "service.wsgi:app" in dockerfile
    assert "USER trygg" in dockerfile
    worker = services["worker"]
    assert worker["command"] == ["trygg", "worker"]
    assert worker.get("build") == services["app"].get("build"), "the worker runs the app's image"
    assert worker["environment"] == services["app"]["environment"]
    assert worker["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["mailpit"]["image"].startswith("axllent/mailpit")
    assert "127.0.0.1:8025:8025" in services["mailpit"]["ports"]
    published = " ".join(str(port) for port in services["mailpit"]["ports"])
    assert "1025" not in published, "SMTP stays inside the compose network"
    for name in ("app", "worker"):
        env = services[name]["environment"]
        for key in ("SMTP_HOST", "SMTP_PORT", "SMTP_FROM", "TRYGG_BASE_URL"):
            assert key in env, (name, key)
        assert "mailpit" in env["SMTP_HOST"] and "1025" in str(env["SMTP_PORT"])


def test_no_secret_is_committed_in_compose() -> None:
    services = _compose()["services"]
    secrets = {
        "POSTGRES_PASSWORD": services["db"]["environment"]["POSTGRES_PASSWORD"],
        "SECRET_KEY": services["app"]["environment"]["SECRET_KEY"],
    }
    for key, value in secrets.items():
        assert re.fullmatch(rf"\$\{{{key}:\?[^}}]+\}}", value), (key, value)
    assert "${POSTGRES_PASSWORD:?" in services["migrate"]["environment"]["DATABASE_URL"]


def test_the_image_command_serves_the_app_under_gunicorn(tmp_path: Path) -> None:
    """Run the Dockerfile's gunicorn command against a scratch database and hit /healthz."""
    db = tmp_path / "compose.sqlite3"
    env = {
        "DATABASE_URL": f"sqlite:///{db}",
        "SECRET_KEY": "x" * 32,
        "PATH": str(Path(sys.executable).parent),
    }
    subprocess.run(
        [str(Path(sys.executable).parent / "trygg"), "init", "--no-demo"],
        env=env,
        check=True,
        capture_output=True,
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "service.wsgi:app",
        ],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/healthz", timeout=2
                ) as response:
                    assert response.status == 200
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
    finally:
        server.terminate()
        server.wait(timeout=10)
