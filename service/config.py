"""Configuration from the environment, with embedded defaults that need no set-up."""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from service.sso.settings import LocalLogin, OidcSettings, local_login_from_env

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_ROOT / "instance"
DEFAULT_RETENTION_RULES = Path(__file__).resolve().parent / "retention" / "rules.json"


def _default_database_url() -> str:
    INSTANCE_DIR.mkdir(exist_ok=True)
    return f"sqlite:///{INSTANCE_DIR / 'trygg.sqlite3'}"


def _secret_key() -> str:
    """Use SECRET_KEY when set; otherwise keep a random key in the instance folder.

    A committed default key would let anyone forge sessions, so the embedded
    default generates one on first start and keeps it (mode 600) across restarts.
    """
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    INSTANCE_DIR.mkdir(exist_ok=True)
    path = INSTANCE_DIR / "secret_key"
    try:
        # O_EXCL: when several server processes start at once, exactly one
        # writes the key and all of them read the same one.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    for _ in range(50):
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(0.01)  # another process is between create and write
    raise RuntimeError(f"{path} is empty; delete it or set SECRET_KEY")


def normalise_database_url(url: str) -> str:
    """Accept plain postgresql:// URLs and route them to psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    processes_dir: Path
    forms_dir: Path
    session_cookie_secure: bool
    login_max_failures: int = 5
    login_window_seconds: int = 900
    engine_step_budget: int = 1000
    default_locale: str = "sv"
    timezone: str = "Europe/Stockholm"
    # Evidence files live outside the web root and outside task data.
    attachments_dir: Path = INSTANCE_DIR / "attachments"
    # /metrics: with a token, only `Authorization: Bearer <token>`; without, loopback only.
    metrics_token: str | None = None
    # /readyz fails when the newest worker heartbeat is older than this.
    worker_stale_seconds: int = 120
    # `trygg worker` serves its own /metrics here when a port is set (docker-compose does).
    worker_metrics_address: str = "127.0.0.1"
    worker_metrics_port: int | None = None
    # Single sign-on (None: the embedded default, passwords only) and who may
    # still use a password (None: the default for the configuration).
    oidc: OidcSettings | None = None
    local_login: LocalLogin | None = None
    # Retention (gallring): the rules file, and whether the worker disposes of due
    # records every night (off: only `trygg retention` does, when run by hand).
    retention_rules: Path = DEFAULT_RETENTION_RULES
    retention_disposal: bool = True
    extra: dict[str, object] = field(default_factory=dict)

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "database_url": normalise_database_url(
                os.environ.get("DATABASE_URL") or _default_database_url()
            ),
            "secret_key": _secret_key(),
            "processes_dir": Path(
                os.environ.get("TRYGG_PROCESSES_DIR", PROJECT_ROOT / "processes")
            ),
            "forms_dir": Path(os.environ.get("TRYGG_FORMS_DIR", PROJECT_ROOT / "forms")),
            "session_cookie_secure": os.environ.get("SESSION_COOKIE_SECURE", "0") == "1",
            "login_max_failures": int(os.environ.get("TRYGG_LOGIN_MAX_FAILURES", "5")),
            "login_window_seconds": int(os.environ.get("TRYGG_LOGIN_WINDOW_SECONDS", "900")),
            "engine_step_budget": int(os.environ.get("TRYGG_ENGINE_STEP_BUDGET", "1000")),
            "attachments_dir": Path(
                os.environ.get("TRYGG_ATTACHMENTS_DIR", INSTANCE_DIR / "attachments")
            ),
            "metrics_token": os.environ.get("TRYGG_METRICS_TOKEN") or None,
            "worker_stale_seconds": int(os.environ.get("TRYGG_WORKER_STALE_SECONDS", "120")),
            "worker_metrics_address": os.environ.get("TRYGG_WORKER_METRICS_ADDRESS", "127.0.0.1"),
            "worker_metrics_port": int(os.environ["TRYGG_WORKER_METRICS_PORT"])
            if os.environ.get("TRYGG_WORKER_METRICS_PORT")
            else None,
            "oidc": OidcSettings.from_env(os.environ),
            "local_login": local_login_from_env(os.environ),
            "retention_rules": Path(
                os.environ.get("TRYGG_RETENTION_RULES") or DEFAULT_RETENTION_RULES
            ),
            "retention_disposal": os.environ.get("TRYGG_RETENTION_DISPOSAL", "on").lower()
            not in ("0", "off", "no", "false"),
        }
        values.update(overrides)
        if isinstance(values["database_url"], str):
            values["database_url"] = normalise_database_url(values["database_url"])
        return cls(**values)  # type: ignore[arg-type]
