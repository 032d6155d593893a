"""Flow coverage: the scenario paths together take every sequence flow of every process.

Computed from the processes' own BPMN (every sequenceFlow id) and the task
trees of the cases the paths leave behind.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from service.config import PROJECT_ROOT
from service.context import Services
from tests.scenario_runner import Coverage, ScenarioRunner, load_paths, sequence_flows


def test_every_sequence_flow_of_every_process_is_taken(
    services: Services, session: Session
) -> None:
    coverage = Coverage()
    runner = ScenarioRunner(services, session, coverage)
    for path in load_paths():
        runner.run(path)
    report, missing = [], {}
    for bpmn in sorted((PROJECT_ROOT / "processes").glob("*.bpmn")):
        flows = set(sequence_flows(bpmn.stem).values())
        taken = coverage.taken.get(bpmn.stem, set()) & flows
        report.append(f"{bpmn.stem}: {len(taken)}/{len(flows)}")
        if taken != flows:
            missing[bpmn.stem] = sorted(flows - taken)
    print("flow coverage: " + ", ".join(report))
    assert not missing, f"flows no path takes: {missing}"
