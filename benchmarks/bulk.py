"""Bulk data for the benchmarks: many open cases for the inbox, one closed incident to weigh."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select
from werkzeug.datastructures import MultiDict

from service.audit.models import AuditEvent
from service.cases.models import CaseLink, ProcessInstance
from service.cases.service import complete_task, start_case
from service.context import Services
from service.db import utcnow
from service.definitions.catalog import latest_definition
from service.jobs.models import Job
from service.notify.models import Notification
from service.people.models import User
from service.tasks.models import HumanTask
from tests import incident_data as answers

CHUNK = 5_000


def add_open_cases(services: Services, total: int) -> None:
    """Top the database up to ``total`` running cases, each with an open security task."""
    with services.db.sessions() as session:
        have = session.scalar(select(func.count(ProcessInstance.id))) or 0
        definition = latest_definition(session, "incident")
        assert definition is not None
        start = session.scalar(select(func.max(ProcessInstance.id))) or 0
        now = utcnow()
        for first in range(have, total, CHUNK):
            count = min(CHUNK, total - first)
            ids = range(start + first + 1, start + first + count + 1)
            session.execute(
                insert(ProcessInstance),
                [
                    {
                        "id": i,
                        "definition_id": definition.id,
                        "process_id": "incident",
                        "status": "running",
                        "subject_person_id": 1 + i % 4,
                        "party_id": 1 + i % 2,
                        "state": "{}",
                        "lock_version": 1,
                        "on_behalf": False,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in ids
                ],
            )
            session.execute(
                insert(HumanTask),
                [
                    {
                        "instance_id": i,
                        "task_uuid": f"bulk-{i}",
                        "bpmn_id": "security_assessment",
                        "name": "Bedöm händelsen",
                        "role": "security" if i % 3 else "party_office",
                        "party_id": 1 + i % 2,
                        "status": "open" if i % 5 else "completed",
                        "created_at": now,
                        "due_at": now + timedelta(hours=i % 96),
                        "form_id": "incident_assessment",
                    }
                    for i in ids
                ],
            )
            session.commit()
        if services.db.is_postgres:
            session.execute(func.now())  # keep the connection warm
        session.commit()


def close_one_incident(services: Services) -> int:
    with services.db.sessions() as session:

        def user(name: str) -> User:
            found = session.scalar(select(User).where(User.username == name))
            assert found is not None
            return found

        anna = user("anna")
        assert anna.person is not None
        case = start_case(
            services, session, anna, "incident", anna.person, MultiDict(answers.report())
        ).instance
        session.commit()
        for bpmn_id, who, data in (
            ("party_support", "kansli.fp", answers.PARTY_SUPPORT),
            ("security_assessment", "sakerhet", {"severity": "low"}),
            ("follow_up_close", "sakerhet", answers.CLOSE),
        ):
            task = session.scalar(
                select(HumanTask).where(
                    HumanTask.instance_id == case.id,
                    HumanTask.bpmn_id == bpmn_id,
                    HumanTask.status == "open",
                )
            )
            assert task is not None, bpmn_id
            complete_task(services, session, user(who), task.id, MultiDict(data))
            session.commit()
        session.refresh(case)
        assert case.status == "completed"
        return case.id


def _size(row: Any) -> int:
    total = 0
    for column in row.__table__.columns:
        value = getattr(row, column.key)
        if value is None:
            continue
        total += (
            len(json.dumps(value, ensure_ascii=False).encode())
            if isinstance(value, (dict, list))
            else len(str(value).encode())
        )
    return total


def stored_bytes(services: Services, case_id: int) -> tuple[int, dict[str, int]]:
    """Bytes of the values stored for one case (not counting page and index overhead)."""
    with services.db.sessions() as session:
        notes = list(
            session.scalars(select(Notification).where(Notification.instance_id == case_id))
        )
        note_ids = {n.id for n in notes}
        task_ids = set(
            session.scalars(select(HumanTask.id).where(HumanTask.instance_id == case_id))
        )
        jobs = [
            j
            for j in session.scalars(select(Job))
            if j.payload.get("notification_id") in note_ids
            or task_ids & set(j.payload.get("task_ids", []))
        ]
        parts = {
            "state": len(
                (session.get(ProcessInstance, case_id) or ProcessInstance(state="")).state.encode()
            ),
            "case row": _size(session.get(ProcessInstance, case_id)),
            "task rows": sum(
                _size(t)
                for t in session.scalars(select(HumanTask).where(HumanTask.instance_id == case_id))
            ),
            "audit": sum(
                _size(a)
                for a in session.scalars(
                    select(AuditEvent).where(AuditEvent.instance_id == case_id)
                )
            ),
            "notifications + jobs": sum(_size(n) for n in notes) + sum(_size(j) for j in jobs),
            "links": sum(
                _size(c)
                for c in session.scalars(
                    select(CaseLink).where(CaseLink.from_instance_id == case_id)
                )
            ),
        }
    parts["case row"] -= parts["state"]
    return sum(parts.values()), parts
