"""Timer lateness: how long after its due time the worker fires a timer.

Creates cases of a small test process whose timers fall due over about half
a minute, runs one worker process (`trygg worker`, as deployed), and reads
for each case the due time it stored (`process_instance.next_wakeup`) and the
moment the worker recorded the firing (the `case.timer_fired` audit event).

    .venv/bin/python -m benchmarks.timer_lateness [--cases 120] [--database-url URL]

Without --database-url it uses a scratch SQLite file; with a PostgreSQL URL
it creates (and drops) a scratch database on that server.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from benchmarks.harness import prepared_services, scratch_database
from service.audit.models import AuditEvent
from service.cases.service import complete_task, start_case
from service.context import Services
from service.people.models import Person, User
from service.tasks.models import HumanTask
from tests.probe import deploy_probe


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=120)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    os.environ["TRYGG_TEST_FAST_HASHES"] = "1"
    with scratch_database(args.database_url) as url:
        services = prepared_services(url)
        with services.db.sessions() as session:
            user = session.scalar(select(User).where(User.username == "sakerhet"))
            subject = session.scalar(select(Person).where(Person.full_name == "David Dahl"))
            assert user is not None and subject is not None
            # Every case waits 25 s; as they are created one after another,
            # their timers fall due in a burst of a few seconds.
            deploy_probe(session, timer='"PT25S"')
            ids = []
            for _ in range(args.cases):
                instance = start_case(
                    services, session, user, "engine_probe", subject, MultiDict()
                ).instance
                session.commit()
                task = session.scalar(select(HumanTask).where(HumanTask.instance_id == instance.id))
                assert task is not None
                ids.append(instance.id)
                complete_task(services, session, user, task.id, MultiDict({"choice": "timer"}))
                session.commit()
        env = {**os.environ, "DATABASE_URL": url}
        worker = subprocess.Popen(
            [str(Path(sys.executable).parent / "trygg"), "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                with services.db.sessions() as session:
                    done = session.scalar(
                        select(AuditEvent.id)
                        .where(AuditEvent.action == "case.timer_fired")
                        .order_by(AuditEvent.id.desc())
                        .limit(1)
                        .offset(len(ids) - 1)
                    )
                if done is not None:
                    break
                time.sleep(0.5)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=20)
        print(report(services, ids, url))


def report(services: Services, ids: list[int], url: str) -> str:
    with services.db.sessions() as session:
        fired = {
            e.instance_id: e.at
            for e in session.scalars(
                select(AuditEvent).where(AuditEvent.action == "case.timer_fired")
            )
        }
        planned = {
            e.instance_id: e.details.get("due")
            for e in session.scalars(
                select(AuditEvent).where(AuditEvent.action == "case.timer_fired")
            )
        }
    lateness = []
    for case_id in ids:
        if case_id in fired and planned.get(case_id):
            lateness.append(
                (fired[case_id] - datetime.fromisoformat(planned[case_id])).total_seconds() * 1000
            )
    lateness.sort()
    backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    return (
        f"{backend}: {len(lateness)}/{len(ids)} timers fired; lateness due → fired: "
        f"median {statistics.median(lateness):.0f} ms, p90 {lateness[int(len(lateness) * 0.9)]:.0f} ms, "
        f"max {max(lateness):.0f} ms"
    )


if __name__ == "__main__":
    main()
