"""Run the app under gunicorn from the CLI (the same server docker-compose uses)."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from service.gunicorn_conf import GunicornLogger, child_exit
from service.wsgi import app


class _Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return app


def run_gunicorn(host: str, port: int, workers: int) -> None:
    _Server(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": 4,
            # The app logs each request (JSON, endpoint name, no URL); see service/gunicorn_conf.py.
            "logger_class": GunicornLogger,
            "child_exit": child_exit,
        }
    ).run()
