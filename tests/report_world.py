"""Cases for the report tests, created and worked through the service layer as the web does."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.audit.models import AuditEvent
from service.cases.models import CaseLink, ProcessInstance
from service.cases.service import complete_task, start_case
from service.cases.timers import fire_due_timers
from service.clock import OffsetClock
from service.context import Services
from service.people.models import Person, User
from service.tasks.models import HumanTask
from tests.scenario_runner import form_input

STOCKHOLM = ZoneInfo("Europe/Stockholm")


class World:
    def __init__(self, services: Services, session: Session, clock: OffsetClock) -> None:
        self.services, self.session, self.clock = services, session, clock

    def move_to(self, local: str) -> None:
        target = datetime.fromisoformat(local).replace(tzinfo=STOCKHOLM)
        self.clock.advance(target - self.clock.now())

    def now(self) -> datetime:
        return self.clock.now()

    def user(self, username: str) -> User:
        found = self.session.scalar(select(User).where(User.username == username))
        assert found is not None, username
        return found

    def person(self, full_name: str) -> Person:
        found = self.session.scalar(select(Person).where(Person.full_name == full_name))
        assert found is not None, full_name
        return found

    def registered(self, full_name: str, local: str) -> None:
        """Say when the person was registered (the due dates of the introduction count from it)."""
        moment = datetime.fromisoformat(local).replace(tzinfo=STOCKHOLM)
        self.session.execute(
            update(Person).where(Person.full_name == full_name).values(created_at=moment)
        )
        self.session.commit()

    def start(
        self, username: str, process_id: str, subject: str, data: dict[str, Any] | None = None
    ) -> int:
        result = start_case(
            self.services,
            self.session,
            self.user(username),
            process_id,
            self.person(subject),
            form_input(data or {}),
        )
        self.session.commit()
        return result.instance.id

    def open_task(self, case_id: int, bpmn_id: str) -> HumanTask | None:
        self.session.expire_all()
        return self.session.scalar(
            select(HumanTask).where(
                HumanTask.instance_id == case_id,
                HumanTask.bpmn_id == bpmn_id,
                HumanTask.status == "open",
            )
        )

    def complete(self, case_id: int, bpmn_id: str, username: str, data: dict[str, Any]) -> None:
        task = self.open_task(case_id, bpmn_id)
        assert task is not None, f"{bpmn_id} is not open in case {case_id}"
        complete_task(self.services, self.session, self.user(username), task.id, form_input(data))
        self.session.commit()

    def linked(self, case_id: int, process_id: str) -> int:
        self.session.expire_all()
        found = self.session.scalar(
            select(CaseLink.to_instance_id)
            .join(ProcessInstance, ProcessInstance.id == CaseLink.to_instance_id)
            .where(CaseLink.from_instance_id == case_id, ProcessInstance.process_id == process_id)
        )
        assert found is not None, f"no linked {process_id} case from {case_id}"
        return found

    def fire_timers(self) -> None:
        fire_due_timers(self.services, now=self.clock.now())

    def audit(self, action: str) -> list[AuditEvent]:
        self.session.expire_all()
        return list(
            self.session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )


def visible_text(html: str) -> str:
    """The page's main content as a reader meets it: no tags, single spaces, entities read."""
    main = html[html.find("<main") : html.find("</main>")]
    plain = re.sub(r"<[^>]+>", " ", main).replace("&lt;", "<").replace("&gt;", ">")
    return re.sub(r"\s+", " ", plain.replace("&#39;", "'").replace("&amp;", "&")).strip()


def read_csv(body: bytes) -> list[list[str]]:
    text = body.decode("utf-8")
    assert text.startswith("\ufeff"), "a byte-order mark, for spreadsheets"
    return list(csv.reader(io.StringIO(text[1:]), delimiter=";"))
