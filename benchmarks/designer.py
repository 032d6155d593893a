"""What a designer waits for: validating, diffing, deploying a draft and running its scenarios.

``python -m benchmarks.designer [--database-url postgresql://…] [--repeat 20]``

In one run, on the incident process (the largest: 18 user tasks):

- the bare engine parsing the BPMN with SpiffWorkflow's XSD validator and
  building the spec (``SpiffBpmnParser(validator=VALIDATOR)``): the reference;
- the service's whole validation (hardened XML, XSD, reserved ids, lanes,
  forms, conditions' fields, restricted compile of every script, call
  targets, loops): what runs on every save of the modeler;
- the diff between two versions;
- deploying a draft (validate, shared-form check, store, audit);
- running the draft's scenario paths in the sandbox database, beside the
  same paths run directly in the prepared database.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time

from SpiffWorkflow.spiff.parser import VALIDATOR, SpiffBpmnParser
from sqlalchemy import select

from benchmarks.harness import prepared_services, scratch_database, timed
from service.config import PROJECT_ROOT
from service.definitions import drafts
from service.definitions.catalog import (
    latest_definition,
    read_decisions,
    read_forms,
    validate_definition,
)
from service.definitions.diff import diff_versions
from service.definitions.models import ProcessDefinition
from service.definitions.scenarios import run_scenarios
from service.people.models import User

PROCESS = "incident"


def _row(label: str, median: float, reference: float, note: str = "") -> str:
    return f"| {label} | {median:.1f} ms | {median / reference:.1f}× | {note} |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    processes = PROJECT_ROOT / "processes"
    bpmn = (processes / f"{PROCESS}.bpmn").read_text(encoding="utf-8")
    meta = json.loads((processes / f"{PROCESS}.json").read_text(encoding="utf-8"))
    forms = read_forms(PROJECT_ROOT / "forms")
    dmn = [text for _name, text in read_decisions(processes).values()]
    known = {p.stem for p in processes.glob("*.bpmn")}

    def bare() -> None:
        engine_parser = SpiffBpmnParser(validator=VALIDATOR)
        for index, text in enumerate(dmn):
            engine_parser.add_dmn_str(text.encode("utf-8"), f"d{index}.dmn")
        engine_parser.add_bpmn_str(bpmn.encode("utf-8"), f"{PROCESS}.bpmn")
        engine_parser.get_spec(PROCESS)

    def service_validation() -> None:
        validate_definition(PROCESS, bpmn, meta, forms, dmn=dmn, known_processes=known)

    rows: list[str] = []
    reference = timed(bare, args.repeat).median
    rows.append(
        _row("bare engine: parse + XSD + build the spec", reference, reference, "reference")
    )
    validation = timed(service_validation, args.repeat).median
    rows.append(_row("service: every validation rule (each modeler save)", validation, reference))

    with scratch_database(args.database_url) as url:
        services = prepared_services(url)
        with services.db.sessions() as session:
            v1 = latest_definition(session, PROCESS)
            designer = session.scalar(select(User).where(User.username == "designer"))
            assert v1 is not None and designer is not None
            renamed = ProcessDefinition(
                process_id=PROCESS,
                version=0,
                name=v1.name,
                bpmn_xml=v1.bpmn_xml.replace('name="Bedöm händelsen"', 'name="Bedöm det som hänt"'),
                forms=v1.forms,
                decisions=v1.decisions,
                meta=v1.meta,
            )
            diff_ms = timed(lambda: diff_versions(v1, renamed), args.repeat).median
            rows.append(_row("diff between two versions (elements and forms)", diff_ms, reference))

            deploy_samples: list[float] = []
            for index in range(max(3, args.repeat // 4)):
                draft = drafts.open_draft(session, designer, PROCESS)
                draft.meta = {**draft.meta, "description": f"{v1.meta['description']} ({index})"}
                session.flush()
                start = time.perf_counter()
                drafts.deploy_draft(session, designer, draft, f"Benchmark {index}")
                session.flush()
                deploy_samples.append((time.perf_counter() - start) * 1000)
            session.commit()
            deploy_samples.sort()
            deploy_ms = deploy_samples[len(deploy_samples) // 2]
            rows.append(_row("deploy a draft (validate, store, audit)", deploy_ms, reference))

            draft = drafts.open_draft(session, designer, PROCESS)
            session.commit()
            paths = list(draft.scenarios or [])
            sandbox_ms = timed(
                lambda: drafts.run_draft_scenarios(services, session, designer, draft),
                max(3, args.repeat // 5),
                warmup=1,
            ).median
            direct_ms = timed(
                lambda: run_scenarios(services, session, PROCESS, paths),
                max(3, args.repeat // 5),
                warmup=1,
            ).median
            session.rollback()
            rows.append(
                _row(
                    f"the draft's {len(paths)} scenario paths in the sandbox",
                    sandbox_ms,
                    reference,
                    f"same paths in the prepared database: {direct_ms:.0f} ms",
                )
            )
        services.db.engine.dispose()

    database = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"# designer benchmark, {PROCESS}, {database}, CPython {platform.python_version()}, "
        f"{platform.machine()}"
    )
    print("| measurement | median | ratio to the bare engine's parse | note |")
    print("|---|---|---|---|")
    for row in rows:
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
