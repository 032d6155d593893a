"""Per request: a request id (echoed as X-Request-ID), one access log line and the request metrics.

The access line names the Flask endpoint, never the path or query string (a
path holds case and task ids, a query string may hold a search); the user is
their numeric id only.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Mapping

from flask import Flask, g, has_request_context, request
from werkzeug.wrappers import Response

from service import logging_setup, metrics

access_log = logging.getLogger("trygg.access")

# An incoming id is kept only when it is plainly an id: letters, digits and
# . _ - (UUIDs, ULIDs, a proxy's hex ids). Anything else could smuggle text
# into the logs, so a fresh one is made instead.
REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{7,63}")
HEADER = "X-Request-ID"
_ID_ARGS = ("instance_id", "task_id", "job_id")


def request_id_from(incoming: str | None) -> str:
    if incoming and REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def _request_fields() -> Mapping[str, object]:
    if not has_request_context():
        return {}
    fields: dict[str, object] = {"endpoint": request.endpoint, "method": request.method}
    # The case, task or job a URL names (numbers only), to follow one case through the logs.
    for key in _ID_ARGS:
        value = (request.view_args or {}).get(key)
        if isinstance(value, int):
            fields[key] = value
    if "request_id" in g:
        fields["request_id"] = g.request_id
    # The user Flask-Login already loaded for this request (never loads one itself).
    user = g.get("_login_user")
    if user is not None and getattr(user, "is_authenticated", False):
        user_id = getattr(user, "id", None)
        if isinstance(user_id, int):
            fields["user_id"] = user_id
    return fields


def install(app: Flask) -> None:
    """Register first, so the id exists for every later hook and the line sees the final status."""
    logging_setup.add_context_provider(_request_fields)

    @app.before_request
    def start_request() -> None:
        g.request_started = time.perf_counter()
        g.request_id = request_id_from(request.headers.get(HEADER))

    @app.after_request
    def finish_request(response: Response) -> Response:
        if "request_id" not in g:  # a hook before ours answered
            g.request_id = request_id_from(request.headers.get(HEADER))
        response.headers[HEADER] = g.request_id
        seconds = time.perf_counter() - g.get("request_started", time.perf_counter())
        metrics.observe_request(request.endpoint, request.method, response.status_code, seconds)
        access_log.info(
            "request",
            extra={"status": response.status_code, "duration_ms": round(seconds * 1000, 1)},
        )
        return response
