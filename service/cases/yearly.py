"""The yearly security conversation: offered to every full-time official, exactly once per period.

The law's test is that each full-time official is *offered* a conversation at
least once a year. The worker calls :func:`offer_yearly_conversations` often;
it starts a new ``security_conversation`` case for everyone whose last offer
is older than the interval (11 months by default, so the offer comes before
the year is out). A unique marker per person and due date makes it happen
once even with several workers, and a check against the cases themselves
makes it catch up after downtime.
"""

from __future__ import annotations

import calendar
import logging
import os
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from service.audit.service import record
from service.cases.models import ProcessInstance
from service.cases.schedule_models import ScheduledStart
from service.cases.service import CaseStarter
from service.context import Services
from service.db import utcnow
from service.definitions.catalog import latest_definition
from service.people.models import Category, Person

log = logging.getLogger(__name__)
PROCESS_ID = "security_conversation"


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def interval_months() -> int:
    return int(os.environ.get("TRYGG_CONVERSATION_INTERVAL_MONTHS", "11"))


def offer_yearly_conversations(services: Services, now: datetime | None = None) -> int:
    now = now or utcnow()
    months = interval_months()
    started = 0
    with services.db.sessions() as session:
        last_offer = (
            select(
                ProcessInstance.subject_person_id,
                func.max(ProcessInstance.created_at).label("last"),
            )
            .where(ProcessInstance.process_id == PROCESS_ID)
            .group_by(ProcessInstance.subject_person_id)
            .subquery()
        )
        rows = session.execute(
            select(Person.id, last_offer.c.last)
            .outerjoin(last_offer, last_offer.c.subject_person_id == Person.id)
            .where(Person.category == Category.FULL_TIME.value)
        ).all()
    for person_id, last in rows:
        due = add_months(last.date(), months) if last is not None else None
        if due is not None and due > now.date():
            continue
        period = due.isoformat() if due else "first"
        if _start_once(services, person_id, period):
            started += 1
    return started


def _start_once(services: Services, person_id: int, period: str) -> bool:
    with services.db.sessions() as session:
        definition = latest_definition(session, PROCESS_ID)
        person = session.get(Person, person_id)
        if definition is None or person is None:
            return False
        marker = ScheduledStart(process_id=PROCESS_ID, person_id=person_id, period=period)
        session.add(marker)
        try:
            session.flush()
        except IntegrityError:
            session.rollback()  # another worker has it
            return False
        instance = CaseStarter(services, session, None).start_about(
            definition, person, {"scheduled_offer": True}
        )
        marker.instance_id = instance.id
        record(
            session,
            None,
            "case.started",
            instance_id=instance.id,
            process_id=PROCESS_ID,
            version=definition.version,
            scheduled=period,
        )
        session.commit()
        log.info("yearly conversation offered", extra={"instance": instance.id})
        return True
