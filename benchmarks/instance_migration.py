"""Moving 100 running cases to another version: the service against the bare engine.

    .venv/bin/python -m benchmarks.instance_migration [--database-url postgresql://…] [--cases 100]

The service side is what a designer's clicks cost: the dry run
(plan_migrations: load, diff, a trial move on a copy, save and reload it)
and the move (migrate_instances: lock, load, diff, move, save, task rows,
audit, commit). The bare engine side is the least a persisted migration
needs: deserialize, ``diff_workflow``, ``migrate_workflow``, serialize; and
the in-memory diff and migrate alone. Cases wait at the first task of the
introduction; the target version is the test suite's version 3 (renamed
task, new form, an added task).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from sqlalchemy import select

from benchmarks.harness import prepared_services, scratch_database
from service.cases.service import start_case
from service.context import Services
from service.definitions.instance_migration import migrate_instances, plan_migrations
from service.engine.runtime import SPEC_KEY, SUBPROCESS_SPECS_KEY, _unpack
from service.people.models import User
from tests.scenario_runner import form_input
from tests.test_instance_migration import store


def _user(session: Any, name: str) -> User:
    found = session.scalar(select(User).where(User.username == name))
    assert found is not None
    return found


def run(services: Services, cases: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    with services.db.sessions() as session:
        starter, designer = _user(session, "sakerhet"), _user(session, "designer")
        subject = _user(session, "anna").person
        ids = []
        for _ in range(cases):
            result = start_case(services, session, starter, "introduction", subject, form_input({}))
            ids.append(result.instance.id)
        session.commit()
        first = result.instance.definition
        states = [
            (_unpack(i.state), services.definitions.spec_json(i.definition))
            for i in (session.get(type(result.instance), n) for n in ids)
            if i is not None
        ]
        target = store(session, drop_acknowledgement=False)
        parsed = services.definitions.parsed(target)

        # The bare engine: deserialize, diff, migrate, serialize.
        serializer = services.runner.serializer
        started = time.perf_counter()
        workflows = []
        for state, spec_json in states:
            dct = json.loads(state)
            dct.update(json.loads(spec_json or "{}"))
            serializer.migrate(dct)
            workflows.append(serializer.from_dict(dct))
        loaded = time.perf_counter()
        for workflow in workflows:
            diff, _sub = diff_workflow(
                serializer.registry, workflow, parsed.spec, parsed.subprocess_specs
            )
            migrate_workflow(diff, workflow, parsed.spec)
        migrated = time.perf_counter()
        for workflow in workflows:
            dct = serializer.to_dict(workflow)
            dct.pop(SPEC_KEY), dct.pop(SUBPROCESS_SPECS_KEY)
            json.dumps(dct)
        saved = time.perf_counter()
        figures["engine: diff_workflow + migrate_workflow (in memory)"] = (migrated - loaded) * 1000
        figures["engine: load + diff + migrate + serialize"] = (saved - started) * 1000

        started = time.perf_counter()
        plans = plan_migrations(services, session, ids, target)
        figures["service: dry run (plan_migrations)"] = (time.perf_counter() - started) * 1000
        assert all(p.allowed for p in plans), [p.refusal for p in plans if not p.allowed]

        started = time.perf_counter()
        batch = migrate_instances(services, session, designer, ids, target, "benchmark")
        session.commit()
        figures["service: move + commit (migrate_instances)"] = (
            time.perf_counter() - started
        ) * 1000
        assert len(batch.moved) == cases

        started = time.perf_counter()
        back = migrate_instances(services, session, designer, ids, first, "benchmark back")
        session.commit()
        figures["service: move back + commit"] = (time.perf_counter() - started) * 1000
        assert len(back.moved) == cases
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url")
    parser.add_argument("--cases", type=int, default=100)
    args = parser.parse_args()
    with scratch_database(args.database_url) as url:
        services = prepared_services(url)
        try:
            figures = run(services, args.cases)
        finally:
            services.db.engine.dispose()
    engine = figures["engine: load + diff + migrate + serialize"]
    print(f"| {args.cases} cases | total ms | per case ms | × engine (load+diff+migrate+save) |")
    print("| --- | ---: | ---: | ---: |")
    for name, ms in figures.items():
        print(f"| {name} | {ms:.1f} | {ms / args.cases:.2f} | {ms / engine:.1f} |")


if __name__ == "__main__":
    main()
