"""The service against the bare SpiffWorkflow engine on the same model, in one run.

    .venv/bin/python -m benchmarks.service_vs_engine [--database-url postgresql://…] [--quick]

Prints one Markdown table row per measurement, as a ratio to the bare engine
measured in the same run (these machines are noisy; ratios travel better).
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pyotp
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import TaskDataEnvironment
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select, text
from werkzeug.datastructures import MultiDict

from benchmarks.harness import (
    SqlCounter,
    Stats,
    prepared_services,
    scratch_database,
    timed,
    timed_each,
)
from service.cases.service import complete_task, start_case
from service.config import PROJECT_ROOT
from service.context import Services
from service.engine import parse_process
from service.engine.scripting import HELPER_FUNCTIONS
from service.people.demo import DEMO_PASSWORD
from service.people.models import Person, User
from service.tasks.models import HumanTask
from tests.incident_data import report

ASSESSMENT = {"severity": "low"}
ASSESSMENT_FIELDS = ("severity", "immediate_actions", "measures", "assessment_notes")


def _initial_data(services: Services) -> dict[str, Any]:
    definition_forms = services.definitions
    del definition_forms
    data: dict[str, Any] = {k: None for k in _report_fields()}
    data.update(
        {
            "danger_ongoing": False,
            "kind": "threat",
            "harm_occurred": False,
            "event_type": "near_miss",
            "occurred_on": "2026-11-26",
            "location": "Hemma",
            "channel": "email",
            "description": "Hot via e-post.",
            "perpetrator_known": "unknown",
            "tied_to_assignment": "yes",
            "police_contacted": False,
            "in_committee_activity": False,
            "subject_category": "full_time",
            "subject_party_id": 1,
            "subject_person_id": 1,
            "reported_on_behalf": False,
        }
    )
    return data


def _report_fields() -> list[str]:
    import json

    form = json.loads((PROJECT_ROOT / "forms" / "incident_report.json").read_text())
    return list(form["schema"]["properties"])


class BareEngine:
    """SpiffWorkflow as its documentation sets it up, on the incident model."""

    def __init__(self, services: Services) -> None:
        from service.definitions.catalog import latest_definition

        with services.db.sessions() as session:
            definition = latest_definition(session, "incident")
            assert definition is not None
            parsed = parse_process(
                definition.bpmn_xml, "incident", dmn_xmls=list(definition.decisions.values())
            )
        self.spec, self.subs = parsed.spec, parsed.subprocess_specs
        # The model's timer expressions call our time helpers; nothing else is added.
        self.engine = PythonScriptEngine(environment=TaskDataEnvironment(dict(HELPER_FUNCTIONS)))
        self.serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
        self.data = _initial_data(services)
        self.at_assessment = self.serializer.serialize_json(self.start())

    def start(self) -> BpmnWorkflow:
        wf = BpmnWorkflow(self.spec, self.subs, script_engine=self.engine)
        wf.task_tree.data.update(self.data)
        wf.do_engine_steps()
        return wf

    def complete(self) -> str:
        wf = self.serializer.deserialize_json(self.at_assessment)
        wf.script_engine = self.engine
        task = next(
            t
            for t in wf.get_tasks(state=TaskState.READY, manual=True)
            if t.task_spec.bpmn_id == "security_assessment"
        )
        # What the service puts in task data: every field of the form, None when empty.
        task.data.update({**dict.fromkeys(ASSESSMENT_FIELDS), **ASSESSMENT})
        task.run()
        wf.do_engine_steps()
        return str(self.serializer.serialize_json(wf))


def _cases_at_assessment(services: Services, count: int) -> list[int]:
    task_ids = []
    with services.db.sessions() as session:
        anna = session.scalar(select(User).where(User.username == "anna"))
        assert anna is not None and anna.person is not None
        for _ in range(count):
            case = start_case(
                services, session, anna, "incident", anna.person, MultiDict(report())
            ).instance
            session.commit()
            task_ids.append(
                session.scalar(
                    select(HumanTask.id).where(
                        HumanTask.instance_id == case.id, HumanTask.bpmn_id == "security_assessment"
                    )
                )
            )
    return [t for t in task_ids if t is not None]


# -- HTTP ------------------------------------------------------------------------


_SIGNED_IN: dict[str, str] = {}


class Client:
    """A browser-like client on one keep-alive connection: cookie and CSRF token."""

    def __init__(self, port: int, username: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        # Sessions are signed cookies: later clients of the same user share the
        # first one's (a code is accepted once, so each cannot sign in anew).
        self.cookie = _SIGNED_IN.get(username, "")
        if not self.cookie:
            page = self.request("GET", "/login")
            self.csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
            self.request("POST", "/login", {"username": username, "password": DEMO_PASSWORD})
            self._second_factor()
            _SIGNED_IN[username] = self.cookie
        page = self.request("GET", "/inbox")
        self.csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]

    def _second_factor(self) -> None:
        """The security roles enrol an authenticator on first sign-in (the scratch demo data)."""
        page = self.request("GET", "/login/totp/enrol")  # others: a redirect, no body
        secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)</code>', page)
        if secret is None:
            return
        self.csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        code = pyotp.TOTP(secret.group(1).replace(" ", "")).now()
        self.request("POST", "/login/totp/enrol", {"code": code})

    def request(self, method: str, path: str, form: dict[str, Any] | None = None) -> str:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        body = None
        if form is not None:
            body = urlencode({**form, "csrf_token": getattr(self, "csrf", "")}, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        payload = response.read().decode()
        cookie = response.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        if response.status >= 400:
            raise RuntimeError(f"{method} {path}: {response.status}")
        return payload


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    def __init__(self, url: str, workers: int) -> None:
        self.port = _free_port()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "SECRET_KEY": "bench" * 8,
            "TRYGG_TEST_FAST_HASHES": "1",
        }
        self.proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "service.wsgi:app",
            ],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    n = 30 if args.quick else 120
    with scratch_database(args.database_url) as url:
        services = prepared_services(url)
        backend = "PostgreSQL" if services.db.is_postgres else "SQLite"
        rows: list[tuple[str, float, str, str]] = []
        bare = BareEngine(services)
        bare_complete = timed(bare.complete, n)
        bare_start = timed(bare.start, n)
        with services.db.engine.begin() as conn:
            conn.execute(text("CREATE TABLE bench_state (id INTEGER PRIMARY KEY, state TEXT)"))
            conn.execute(text("INSERT INTO bench_state VALUES (1, '')"))

        def bare_and_save() -> None:
            state = bare.complete()
            with services.db.engine.begin() as conn:
                conn.execute(text("UPDATE bench_state SET state = :s WHERE id = 1"), {"s": state})

        bare_save = timed(bare_and_save, n)
        rows.append(
            (
                "bare engine: complete the assessment (load → complete → steps → save JSON)",
                bare_complete.median,
                "1.0×",
                "reference",
            )
        )
        rows.append(
            (
                "bare engine + its state saved in one row, one transaction",
                bare_save.median,
                f"{bare_save.median / bare_complete.median:.1f}×",
                "",
            )
        )
        rows.append(
            (
                "bare engine: create an incident and run to its first user tasks",
                bare_start.median,
                "1.0×",
                "reference",
            )
        )

        # service layer, in-process
        task_ids = _cases_at_assessment(services, n)
        counter = SqlCounter(services.db.engine)

        def completer(task_id: int) -> Callable[[], None]:
            def run() -> None:
                with services.db.sessions() as session:
                    user = session.scalar(select(User).where(User.username == "sakerhet"))
                    assert user is not None
                    complete_task(services, session, user, task_id, MultiDict(ASSESSMENT))
                    session.commit()

            return run

        completer(task_ids[0])()  # warm: the version's spec and forms are now cached
        counter.reset()
        completer(task_ids[1])()
        statements, commits = counter.statements, counter.commits
        in_process = timed_each([completer(t) for t in task_ids[2:]])
        rows.append(
            (
                "service layer in-process: complete the assessment (incl. loading the user)",
                in_process.median,
                f"{in_process.median / bare_save.median:.1f}× bare+save",
                f"{statements} SQL statements, {commits} transaction",
            )
        )

        # HTTP, one client, gunicorn
        server = Server(url, workers=2)
        try:
            task_ids = _cases_at_assessment(services, n)
            client = Client(server.port, "sakerhet")
            http_complete = timed_each(
                [lambda t=t: client.request("POST", f"/tasks/{t}", ASSESSMENT) for t in task_ids]
            )
            rows.append(
                (
                    "HTTP: complete the assessment (session, CSRF, form validation, inbox rows, audit)",
                    http_complete.median,
                    f"{http_complete.median / bare_complete.median:.1f}×",
                    f"p95 {http_complete.p95:.1f} ms",
                )
            )
            with services.db.sessions() as session:
                anna_id = session.scalar(
                    select(Person.id).where(Person.full_name == "Anna Andersson")
                )
            official = Client(server.port, "anna")
            http_start = timed(
                lambda: official.request("POST", f"/start/incident/{anna_id}", report()), n
            )
            rows.append(
                (
                    "HTTP: report an incident, run to its first user tasks",
                    http_start.median,
                    f"{http_start.median / bare_start.median:.1f}×",
                    f"p95 {http_start.p95:.1f} ms",
                )
            )
            rows.append(
                throughput(
                    services,
                    server.port,
                    bare_complete,
                    clients=8,
                    per_client=15 if args.quick else 40,
                )
            )
        finally:
            server.stop()
        rows.extend(inbox_flatness(services, url, quick=args.quick))
        rows.append(bytes_per_closed_incident(services))
    print(
        f"\n{date.today().isoformat()} · {platform.machine()} {os.cpu_count()} cores · "
        f"CPython {platform.python_version()} · {backend}\n"
    )
    print("| measurement | median ms | ratio | note |\n|---|---|---|---|")
    for name, ms, ratio, note in rows:
        print(f"| {name} | {ms:.2f} | {ratio} | {note} |")


def throughput(
    services: Services, port: int, bare: Stats, clients: int, per_client: int
) -> tuple[str, float, str, str]:
    task_ids = _cases_at_assessment(services, clients * per_client)
    sessions = [Client(port, "sakerhet") for _ in range(clients)]
    chunks = [task_ids[i::clients] for i in range(clients)]
    errors: list[BaseException] = []

    def work(client: Client, ids: list[int]) -> None:
        for task_id in ids:
            try:
                client.request("POST", f"/tasks/{task_id}", ASSESSMENT)
            except BaseException as exc:  # counted, reported
                errors.append(exc)

    threads = [
        threading.Thread(target=work, args=pair) for pair in zip(sessions, chunks, strict=True)
    ]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    rate = len(task_ids) / seconds
    bare_rate = 1000 / bare.median
    return (
        f"HTTP throughput, {clients} concurrent clients (gunicorn 2 workers)",
        1000 / rate,
        f"{rate:.0f}/s = {rate / bare_rate:.2f}× the bare engine's single-client rate",
        f"{len(errors)} errors of {len(task_ids)}",
    )


def inbox_flatness(services: Services, url: str, quick: bool) -> list[tuple[str, float, str, str]]:
    from benchmarks.bulk import add_open_cases

    results = []
    sizes = (1_000, 10_000) if quick else (1_000, 100_000)
    baseline = None
    for size in sizes:
        add_open_cases(services, size)
        server = Server(url, workers=1)
        try:
            client = Client(server.port, "sakerhet")
            stats = timed(lambda c=client: c.request("GET", "/inbox"), 40)
        finally:
            server.stop()
        baseline = baseline or stats.p95
        results.append(
            (
                f"HTTP inbox (security) with ~{size:,} open cases in the database",
                stats.median,
                f"p95 {stats.p95:.1f} ms = {stats.p95 / baseline:.2f}× the p95 at {sizes[0]:,}",
                "",
            )
        )
    return results


def bytes_per_closed_incident(services: Services) -> tuple[str, float, str, str]:
    from benchmarks.bulk import close_one_incident, stored_bytes

    case_id = close_one_incident(services)
    total, parts = stored_bytes(services, case_id)
    detail = ", ".join(f"{k} {v:,} B" for k, v in parts.items())
    return (
        "bytes stored for one closed incident (state, rows, audit)",
        total / 1024,
        "KB (not ms)",
        detail,
    )


if __name__ == "__main__":
    main()
