"""Gunicorn settings: ``gunicorn --config python:service.gunicorn_conf service.wsgi:app``.

* gunicorn's own lines go through the service's log handler (JSON by
  default); its access log is off: the app writes one line per request with
  the endpoint name instead of the path (paths hold case and task ids).
* Prometheus multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``): the directory
  is emptied when the server starts and a dead worker's live files go with it.

Kept free of prometheus_client imports: the master must not create metrics
before the directory is ready.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from gunicorn.glogging import Logger

from service.logging_setup import configure


class _NoRequestURI(logging.Filter):
    """gunicorn names the failed request's URI (ids, a query string): keep the words only."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith("Error handling request"):
            record.msg, record.args = "Error handling request", ()
        return True


class GunicornLogger(Logger):  # type: ignore[misc]
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        configure("web")
        for handler in list(self.error_log.handlers):
            self.error_log.removeHandler(handler)
        self.error_log.addFilter(_NoRequestURI())
        self.error_log.propagate = True  # to the root handler configure() installed

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        """Not written: the app's access line names the endpoint, not the URL."""


def clear_multiprocess_dir() -> None:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory and Path(directory).is_dir():
        for stale in Path(directory).glob("*.db"):
            stale.unlink(missing_ok=True)


def prepare_multiprocess_dir() -> str:
    """For ``trygg serve``: an empty metrics directory, made fresh when none is configured.

    Must run before anything imports prometheus_client: the library picks
    its mode when the first metric is created.
    """
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        directory = tempfile.mkdtemp(prefix="trygg-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        owner = os.getpid()

        def remove() -> None:
            # Only the process that made it: forked web workers run atexit too.
            if os.getpid() == owner:
                shutil.rmtree(directory, ignore_errors=True)

        atexit.register(remove)
    Path(directory).mkdir(parents=True, exist_ok=True)
    clear_multiprocess_dir()
    return directory


def on_starting(_server: Any) -> None:
    clear_multiprocess_dir()


def child_exit(_server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


logger_class = GunicornLogger
accesslog = None
