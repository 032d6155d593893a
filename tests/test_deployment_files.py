"""What can be checked of the deployment here (no Docker engine): compose and image files."""

from __future__ import annotations

import ast
import json
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


def test_keycloak_realm_matches_the_apps_client_and_group_map() -> None:
    """The example deployment signs in at Keycloak: realm, client and groups agree with the app."""
    services = _compose()["services"]
    keycloak = services["keycloak"]
    assert keycloak["image"].startswith("quay.io/keycloak/keycloak:")
    assert keycloak["command"][0] == "start", "start-dev is not for production"
    assert "--import-realm" in keycloak["command"]
    assert "start-dev" not in json.dumps(keycloak)
    for key in ("KC_DB_PASSWORD", "KC_BOOTSTRAP_ADMIN_PASSWORD", "TRYGG_OIDC_CLIENT_SECRET"):
        assert re.fullmatch(r"\$\{\w+:\?[^}]+\}", keycloak["environment"][key]), key
    assert "healthcheck" in keycloak
    realm = json.loads((PROJECT_ROOT / "deploy" / "keycloak" / "realm-trygg.json").read_text())
    mounted = [v for v in keycloak["volumes"] if "realm-trygg.json" in v]
    assert mounted and mounted[0].startswith("./deploy/keycloak/realm-trygg.json:")

    env = services["app"]["environment"]
    assert env["TRYGG_OIDC_ISSUER"].endswith(f"/realms/{realm['realm']}")
    assert "http://keycloak:8080/" in env["TRYGG_OIDC_DISCOVERY_URL"]
    assert re.fullmatch(r"\$\{TRYGG_OIDC_CLIENT_SECRET:\?[^}]+\}", env["TRYGG_OIDC_CLIENT_SECRET"])
    assert services["worker"]["environment"] == env
    (client,) = [c for c in realm["clients"] if c["clientId"] == env["TRYGG_OIDC_CLIENT_ID"]]
    assert client["publicClient"] is False and client["standardFlowEnabled"] is True
    assert client["implicitFlowEnabled"] is False and client["directAccessGrantsEnabled"] is False
    assert client["secret"] == "${TRYGG_OIDC_CLIENT_SECRET}", "no secret in the file"
    assert client["attributes"]["pkce.code.challenge.method"] == "S256"
    assert client["redirectUris"] == ["${TRYGG_BASE_URL}/login/sso/callback"]
    (mapper,) = [m for m in client["protocolMappers"] if m["name"] == "groups"]
    assert mapper["protocolMapper"] == "oidc-group-membership-mapper"
    assert mapper["config"]["claim.name"] == env["TRYGG_OIDC_GROUPS_CLAIM"]
    assert mapper["config"]["id.token.claim"] == "true"
    assert mapper["config"]["full.path"] == "false", "the map names groups, not paths"

    group_map_mount = [v for v in services["app"]["volumes"] if "oidc-group-map.json" in v]
    assert group_map_mount == [f"./deploy/oidc-group-map.json:{env['TRYGG_OIDC_GROUP_MAP']}:ro"]
    group_map = json.loads((PROJECT_ROOT / "deploy" / "oidc-group-map.json").read_text())
    assert {g["name"] for g in realm["groups"]} == set(group_map)


# What a WSGI server puts in a request's environ (PEP 3333, CGI): not configuration.
_WSGI_KEYS = re.compile(
    r"HTTP_\w+|PATH_INFO|QUERY_STRING|REQUEST_METHOD|SCRIPT_NAME|CONTENT_(TYPE|LENGTH)"
    r"|SERVER_(NAME|PORT|PROTOCOL)|REMOTE_(ADDR|HOST|USER)"
)


def _is_environment(node: ast.expr) -> bool:
    """``os.environ``, or a mapping named ``environ``/``env`` (the environment as a parameter)."""
    if isinstance(node, ast.Name):
        return node.id in ("environ", "env")
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def _key(node: ast.expr, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return None


def _environment_variables_read(root: Path) -> set[str]:
    """Every environment variable the code under ``root`` reads.

    Keys read from ``os.environ`` / ``os.getenv`` (also through a module
    constant) or from a mapping named ``environ`` or ``env`` (functions that
    take the environment as a parameter), and every ``TRYGG_*`` name in a
    string (our own prefix: loops over names, messages naming a setting).
    Writes are not reads, and WSGI request keys are not configuration.
    """
    names: set[str] = set()
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            for target in node.targets
            if isinstance(target, ast.Name) and isinstance(node.value.value, str)
        }
        for node in ast.walk(tree):
            found: str | None = None
            if isinstance(node, ast.Call) and node.args:
                func = node.func
                if isinstance(func, ast.Attribute) and (
                    (func.attr in ("get", "setdefault", "pop") and _is_environment(func.value))
                    or (func.attr == "getenv" and isinstance(func.value, ast.Name))
                ):
                    found = _key(node.args[0], constants)
            elif (
                isinstance(node, ast.Subscript)
                and isinstance(node.ctx, ast.Load)
                and _is_environment(node.value)
            ):
                found = _key(node.slice, constants)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                names.update(re.findall(r"\bTRYGG_[A-Z0-9_]*[A-Z0-9]\b", node.value))
            if (
                found
                and re.fullmatch(r"[A-Z][A-Z0-9_]*", found)
                and not _WSGI_KEYS.fullmatch(found)
            ):
                names.add(found)
    return names


def _configuration_reference() -> set[str]:
    """The names in the first column of the README's configuration reference table."""
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Configuration reference", 1)[1]
    section = re.split(r"\n#", section, maxsplit=1)[0]
    documented: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            documented.update(re.findall(r"`([A-Z][A-Z0-9_]*)`", line.split("|")[1]))
    return documented


def test_every_environment_variable_is_in_the_readme_configuration_reference() -> None:
    read = _environment_variables_read(PROJECT_ROOT / "service")
    # The collector itself must see the known ways of reading one.
    assert {"DATABASE_URL", "SMTP_HOST", "TRYGG_OFFICE_HOURS", "TRYGG_AUDIT_KEY"} <= read
    assert not {"HTTP_AUTHORIZATION", "REMOTE_ADDR"} & read, "WSGI environ is not configuration"
    missing = sorted(read - _configuration_reference())
    assert missing == [], f"add these to README.md's configuration reference: {missing}"


def test_the_image_has_pg_dump_of_the_database_servers_version() -> None:
    """trygg backup and restore need pg_dump/pg_restore of the server's major version."""
    major = _compose()["services"]["db"]["image"].split(":")[1].split(".")[0]
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert f"postgresql-client-{major}" in dockerfile
    # Debian bookworm is the release that packages PostgreSQL 15's client.
    assert major != "15" or "python:3.11-slim-bookworm AS app" in dockerfile


def test_attachments_outlive_the_app_container() -> None:
    """Evidence files live in a named volume, where the image's user may write them."""
    compose = _compose()
    mounts = compose["services"]["app"]["volumes"]
    assert "attachments:/app/instance/attachments" in mounts
    assert "attachments" in compose["volumes"]
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    # A new named volume takes the ownership of the image's directory.
    assert "mkdir -p /app/instance/attachments && chown -R trygg /app/instance" in dockerfile
