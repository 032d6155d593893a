"""A designer runs a draft's scenario tests before deploying it, in a throw-away sandbox."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.audit.models import AuditEvent
from service.cases.models import ProcessInstance
from service.context import Services
from service.definitions import drafts
from service.definitions.models import ProcessDefinition
from service.jobs.models import Job
from service.notify.models import Notification
from service.people.models import User
from service.tasks.models import HumanTask

# incident.bpmn: who gives the first support; leisure-time officials go to the party office.
LEISURE = "subject_category == 'leisure'"


def _counts(session: Session) -> dict[str, int]:
    return {
        model.__name__: int(session.scalar(select(func.count()).select_from(model)) or 0)
        for model in (ProcessInstance, HumanTask, Notification, Job, ProcessDefinition)
    }


def test_shipped_incident_scenarios_pass_on_an_unchanged_draft_and_touch_nothing(
    services: Services, session: Session, user_by_name: Callable[[str], User]
) -> None:
    designer = user_by_name("designer")
    draft = drafts.open_draft(session, designer, "incident")
    session.commit()
    before = _counts(session)
    started = time.perf_counter()
    results = drafts.run_draft_scenarios(services, session, designer, draft)
    elapsed = time.perf_counter() - started
    print(f"incident draft scenarios: {len(results)} paths in {elapsed:.2f} s")
    assert [r.name for r in results] == [p["name"] for p in draft.scenarios]
    assert all(r.passed for r in results), [(r.name, r.failure) for r in results if not r.passed]
    first = results[0]
    assert first.status == "completed" and first.open_tasks == []
    assert first.steps_done[0] == "start" and "party_support" in first.steps_done
    assert {"party_support", "security_assessment"} <= set(first.reached)
    session.commit()
    session.expire_all()
    # The sandbox kept nothing in the real database: no case, task, notice or job.
    assert _counts(session) == before
    (tested,) = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "process.draft_tested")
    )
    assert tested.details == {
        "process_id": "incident",
        "paths": len(results),
        "passed": len(results),
    }


def test_a_changed_gateway_condition_makes_a_path_fail_naming_the_step(
    services: Services, session: Session, user_by_name: Callable[[str], User]
) -> None:
    designer = user_by_name("designer")
    draft = drafts.open_draft(session, designer, "incident")
    assert LEISURE in draft.bpmn_xml
    changed = draft.bpmn_xml.replace(LEISURE, "subject_category == 'full_time'")
    assert drafts.save_bpmn(session, designer, draft, changed, None) == []
    results = drafts.run_draft_scenarios(services, session, designer, draft)
    failed = [r for r in results if not r.passed]
    assert failed
    first = failed[0]
    assert first.failure is not None
    assert first.failure.startswith("Step "), first.failure
    assert "is not open" in first.failure and "gateway" in first.failure
    assert session.scalar(select(func.count()).select_from(ProcessInstance)) == 0


def test_broken_scenarios_are_reported_not_run(
    services: Services, session: Session, user_by_name: Callable[[str], User]
) -> None:
    designer = user_by_name("designer")
    draft = drafts.open_draft(session, designer, "incident")
    draft.scenarios = [{"name": "Utan start", "steps": [{"task": "nope", "as": "anna"}]}]
    findings = drafts.validate_draft(session, draft)
    assert any(f.element_id == "nope" for f in findings)
    results = drafts.run_draft_scenarios(services, session, designer, draft)
    assert len(results) == 1 and not results[0].passed
    assert results[0].failure and "fix them first" in results[0].failure
