"""Deadlines and reminders in the processes: each timer fires for the right people, at the right time.

Every test moves the service clock (the ``clock`` fixture moves the engine's
timers with it) and runs worker rounds as the deployed worker does; nothing
sleeps. Office hours are 08–17 on Swedish working days (service/workcalendar.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from service.cases.models import ProcessInstance
from service.cases.service import complete_task, start_case
from service.clock import OffsetClock
from service.context import Services
from service.notify.models import Notification
from service.people.models import Person, User
from service.tasks.models import HumanTask
from service.worker import Worker
from tests import incident_data as answers
from tests.scenario_runner import form_input

STOCKHOLM = ZoneInfo("Europe/Stockholm")
Alert = tuple[str, str, str]  # (username, kind, topic)


@pytest.fixture(autouse=True)
def default_office(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default calendar and no e-mail, whatever the environment says."""
    for name in ("TRYGG_OFFICE_HOURS", "TRYGG_WORKDAYS", "TRYGG_CLOSED_EVES", "SMTP_HOST"):
        monkeypatch.delenv(name, raising=False)


class Timeline:
    """One test's world: the moved clock, a worker, and the case under test."""

    def __init__(self, services: Services, session: Session, clock: OffsetClock) -> None:
        self.services = services
        self.session = session
        self.clock = clock
        self.worker = Worker(services, "t", schedule_every=3600)
        self.case_id = 0

    # -- time ------------------------------------------------------------------
    def move_to(self, local: str) -> None:
        """Move the service clock to a local Stockholm time ("2027-01-15 22:00")."""
        target = datetime.fromisoformat(local).replace(tzinfo=STOCKHOLM)
        self.clock.advance(target - self.clock.now())

    def advance(self, delta: timedelta) -> None:
        self.clock.advance(delta)

    def round(self) -> list[Alert]:
        """One worker round; returns every escalation and reminder sent so far."""
        self.worker.run_once()
        return self.alerts()

    # -- people and cases --------------------------------------------------------
    def user(self, username: str) -> User:
        found = self.session.scalar(select(User).where(User.username == username))
        assert found is not None, username
        return found

    def start(self, username: str, process_id: str, subject: str, data: dict[str, Any]) -> None:
        person = self.session.scalar(select(Person).where(Person.full_name == subject))
        assert person is not None, subject
        submitted = form_input(data) if data else MultiDict()
        result = start_case(
            self.services, self.session, self.user(username), process_id, person, submitted
        )
        self.session.commit()
        self.case_id = result.instance.id

    def open_tasks(self) -> list[str]:
        self.session.expire_all()
        return sorted(
            self.session.scalars(
                select(HumanTask.bpmn_id).where(
                    HumanTask.instance_id == self.case_id, HumanTask.status == "open"
                )
            )
        )

    def complete(self, bpmn_id: str, username: str, data: dict[str, Any]) -> None:
        self.session.expire_all()
        task = self.session.scalar(
            select(HumanTask).where(
                HumanTask.instance_id == self.case_id,
                HumanTask.bpmn_id == bpmn_id,
                HumanTask.status == "open",
            )
        )
        assert task is not None, f"{bpmn_id} is not open: {self.open_tasks()}"
        complete_task(self.services, self.session, self.user(username), task.id, form_input(data))
        self.session.commit()

    def status(self) -> str:
        self.session.expire_all()
        instance = self.session.get(ProcessInstance, self.case_id)
        assert instance is not None
        return instance.status

    def alerts(self) -> list[Alert]:
        """Escalations and reminders of all cases, one entry per notification."""
        self.session.expire_all()
        rows = self.session.execute(
            select(User.username, Notification.kind, Notification.topic, Notification.instance_id)
            .join(User, User.id == Notification.user_id)
            .where(Notification.kind.in_(("escalation", "reminder")))
        ).all()
        assert {row.instance_id for row in rows} <= {self.case_id}, "only the case under test"
        return sorted((row.username, row.kind, row.topic) for row in rows)


@pytest.fixture
def timeline(services: Services, session: Session, clock: OffsetClock) -> Iterator[Timeline]:
    yield Timeline(services, session, clock)


# --- incident (P1) --------------------------------------------------------------------


def test_a_friday_night_report_is_due_for_assessment_on_monday_at_noon(
    timeline: Timeline,
) -> None:
    timeline.move_to("2027-01-15 22:00")  # a Friday
    timeline.start("anna", "incident", "Anna Andersson", answers.report())
    assert timeline.open_tasks() == ["party_support", "security_assessment"]
    assert timeline.round() == []

    timeline.move_to("2027-01-16 10:00")  # Saturday: four clock hours are long gone
    assert timeline.round() == []
    timeline.move_to("2027-01-18 11:59")  # Monday: 08:00 + four office hours is 12:00
    assert timeline.round() == []

    timeline.move_to("2027-01-18 12:01")
    escalation = [("sakerhetschef", "escalation", "assessment_overdue")]
    assert timeline.round() == escalation
    assert timeline.round() == escalation, "once only"
    assert timeline.open_tasks() == ["party_support", "security_assessment"]

    timeline.complete("security_assessment", "sakerhet", answers.ASSESSMENT)
    assert "security_assessment" not in timeline.open_tasks()
    assert timeline.status() == "running"


def test_party_support_is_due_one_working_day_after_the_report(timeline: Timeline) -> None:
    timeline.move_to("2027-01-15 22:00")  # Friday night: the working day starts Monday 08:00
    timeline.start("anna", "incident", "Anna Andersson", answers.report())
    timeline.complete("security_assessment", "sakerhet", {"severity": "low"})

    timeline.move_to("2027-01-19 07:59")  # Tuesday
    assert timeline.round() == []
    timeline.move_to("2027-01-19 08:01")
    assert timeline.round() == [("kansli.fp", "escalation", "support_overdue")]
    assert timeline.open_tasks() == ["party_support"]
    timeline.complete("party_support", "kansli.fp", answers.PARTY_SUPPORT)
    assert timeline.open_tasks() == ["follow_up_close"]


def test_deadlines_skip_ascension_day(timeline: Timeline) -> None:
    # Wednesday 5 May 2027 at 16:00; Thursday 6 May is Ascension Day (Kristi himmelsfärdsdag).
    timeline.move_to("2027-05-05 16:00")
    timeline.start("anna", "incident", "Anna Andersson", answers.report())

    timeline.move_to("2027-05-06 16:30")  # on the holiday both deadlines would have passed
    assert timeline.round() == []
    # One office hour on Wednesday, three on Friday morning.
    timeline.move_to("2027-05-07 10:59")
    assert timeline.round() == []
    timeline.move_to("2027-05-07 11:01")
    assert timeline.round() == [("sakerhetschef", "escalation", "assessment_overdue")]
    # One working day: Friday at the same time of day.
    timeline.move_to("2027-05-07 15:59")
    assert timeline.round() == [("sakerhetschef", "escalation", "assessment_overdue")]
    timeline.move_to("2027-05-07 16:01")
    assert timeline.round() == [
        ("kansli.fp", "escalation", "support_overdue"),
        ("sakerhetschef", "escalation", "assessment_overdue"),
    ]


def test_leisure_politicians_party_office_is_reminded_after_a_working_day(
    timeline: Timeline,
) -> None:
    timeline.move_to("2027-01-18 09:30")  # a Monday
    timeline.start("bertil", "incident", "Bertil Berg", answers.report())
    assert timeline.open_tasks() == ["party_support_leisure"]

    timeline.move_to("2027-01-19 09:29")
    assert timeline.round() == []
    timeline.move_to("2027-01-19 09:31")
    assert timeline.round() == [("kansli.fp", "escalation", "support_overdue")]
    timeline.complete("party_support_leisure", "kansli.fp", answers.PARTY_SUPPORT)
    assert timeline.open_tasks() == ["party_follow_up_close"]


def test_tib_has_fifteen_minutes_day_and_night(timeline: Timeline) -> None:
    timeline.move_to("2027-01-16 03:00")  # Saturday night
    timeline.start("anna", "incident", "Anna Andersson", answers.report(danger_ongoing="yes"))
    assert "tib_danger_alert" in timeline.open_tasks()

    timeline.advance(timedelta(minutes=14))
    assert timeline.round() == []
    timeline.advance(timedelta(minutes=2))
    assert timeline.round() == [("sakerhetschef", "escalation", "danger_not_acknowledged")]
    timeline.complete("tib_danger_alert", "tib", answers.TIB_RESPONSE)
    assert "tib_danger_alert" not in timeline.open_tasks()


def test_tib_answering_in_time_escalates_nothing(timeline: Timeline) -> None:
    timeline.move_to("2027-01-16 03:00")
    timeline.start("anna", "incident", "Anna Andersson", answers.report(danger_ongoing="yes"))
    timeline.advance(timedelta(minutes=10))
    timeline.complete("tib_danger_alert", "tib", answers.TIB_RESPONSE)
    timeline.advance(timedelta(minutes=30))
    assert timeline.round() == []


# --- risk analysis before an engagement (P2) ----------------------------------------------

ENGAGEMENT = {
    "engagement_kind": "meeting_unknown_persons",
    "engagement_summary": "Möte med en förening som har bett om att träffa borgarrådet.",
    "event_date": "2027-02-10",
    "place": "Föreningslokal i Skärholmen",
    "publicly_announced": "no",
}
RISK = {
    "identified_risks": "Vi vet inte vilka som kommer.",
    "probability": 1,
    "consequence": 1,
    "can_assess_ourselves": "yes",
}


def test_security_analysis_is_due_within_one_working_day(timeline: Timeline) -> None:
    timeline.move_to("2027-01-18 13:00")  # a Monday
    timeline.start("kansli.fp", "event_risk_analysis", "Anna Andersson", {})
    timeline.complete("describe_engagement", "kansli.fp", ENGAGEMENT)
    timeline.complete("assess_risk", "kansli.fp", RISK)
    assert timeline.open_tasks() == ["security_analysis"]

    timeline.move_to("2027-01-19 12:59")
    assert timeline.round() == []
    timeline.move_to("2027-01-19 13:01")
    assert timeline.round() == [("sakerhetschef", "escalation", "task_overdue")]
    timeline.complete(
        "security_analysis",
        "sakerhet",
        {
            "security_assessment": "Inga kända hot mot föreningen.",
            "recommended_measures": "Mötet hålls i Stadshuset, med en värd i receptionen.",
            "needs_protective_measure": "no",
        },
    )
    assert timeline.open_tasks() == ["confirm_measures"]


def test_party_office_is_reminded_two_days_before_the_engagement(timeline: Timeline) -> None:
    timeline.move_to("2027-01-18 10:00")
    timeline.start("kansli.fp", "event_risk_analysis", "Anna Andersson", {})
    timeline.complete(
        "describe_engagement", "kansli.fp", {**ENGAGEMENT, "engagement_kind": "public_appearance"}
    )
    timeline.complete("assess_risk", "kansli.fp", RISK)
    assert timeline.open_tasks() == ["confirm_measures"]

    timeline.move_to("2027-02-08 08:59")  # the engagement is on Wednesday 10 February
    assert timeline.round() == []
    timeline.move_to("2027-02-08 09:01")
    assert timeline.round() == [("kansli.fp", "reminder", "event_coming_up")]
    timeline.complete("confirm_measures", "kansli.fp", {"measures_in_place": "all"})
    timeline.move_to("2027-02-11 00:01")
    assert timeline.round() == [("kansli.fp", "reminder", "event_coming_up")]
    assert timeline.open_tasks() == ["follow_up"]


def test_confirming_before_the_reminder_sends_none(timeline: Timeline) -> None:
    timeline.move_to("2027-01-18 10:00")
    timeline.start("kansli.fp", "event_risk_analysis", "Anna Andersson", {})
    timeline.complete(
        "describe_engagement", "kansli.fp", {**ENGAGEMENT, "engagement_kind": "public_appearance"}
    )
    timeline.complete("assess_risk", "kansli.fp", RISK)
    timeline.complete("confirm_measures", "kansli.fp", {"measures_in_place": "all"})
    timeline.move_to("2027-02-08 09:01")
    assert timeline.round() == []


# --- security conversation (P3) -----------------------------------------------------------


def test_both_are_reminded_the_day_before_the_conversation_at_nine(timeline: Timeline) -> None:
    timeline.move_to("2027-01-20 10:00")
    timeline.start("sakerhet", "security_conversation", "Anna Andersson", {})
    timeline.complete(
        "book_conversation",
        "sakerhet",
        {
            "occasion": "annual",
            "proposed_date": "2027-02-10",
            "proposed_time": "10:00",
            "meeting_place": "Stadshuset",
        },
    )
    timeline.complete("answer_invitation", "anna", {"invitation_answer": "accept"})
    assert timeline.open_tasks() == []

    timeline.move_to("2027-02-09 08:59")
    assert timeline.round() == []
    timeline.move_to("2027-02-09 09:01")
    reminders = [
        ("anna", "reminder", "conversation_tomorrow"),
        ("sakerhet", "reminder", "conversation_tomorrow"),
        ("sakerhetschef", "reminder", "conversation_tomorrow"),
    ]
    assert timeline.round() == reminders
    assert timeline.open_tasks() == [], "the conversation itself is tomorrow"

    timeline.move_to("2027-02-10 10:01")
    assert timeline.round() == reminders
    assert timeline.open_tasks() == ["hold_conversation"]


# --- support with a police report (P5) -----------------------------------------------------

DETAILS = {
    "description": "Hotfullt sms efter debatten.",
    "occurred_on": "2027-01-17",
    "location": "Sms till mobilen",
    "exact_words": "Du kommer att ångra dig.",
}
FILING = {
    "filed_on": "2027-01-22",
    "police_case_number": "5000-K123456-27",
    "legal_proceedings": "no",
}


def test_the_official_is_reminded_after_three_days_without_a_filed_report(
    timeline: Timeline,
) -> None:
    timeline.move_to("2027-01-18 10:00")
    timeline.start("anna", "police_report", "Anna Andersson", {})
    timeline.complete("choose_how", "anna", {"filing_mode": "self"})
    timeline.complete("gather_details", "anna", DETAILS)
    assert timeline.open_tasks() == ["record_filing"]

    timeline.advance(timedelta(days=3) - timedelta(minutes=1))
    assert timeline.round() == []
    timeline.advance(timedelta(minutes=2))
    assert timeline.round() == [("anna", "reminder", "police_report_not_filed")]
    timeline.complete("record_filing", "anna", FILING)
    assert timeline.status() == "completed"


def test_the_party_office_and_the_official_are_reminded_when_it_files_for_them(
    timeline: Timeline,
) -> None:
    timeline.move_to("2027-01-18 10:00")
    timeline.start("kansli.fp", "police_report", "Bertil Berg", {})
    timeline.complete("choose_how", "bertil", {"filing_mode": "on_behalf"})
    timeline.complete("gather_details_party", "kansli.fp", DETAILS)
    assert timeline.open_tasks() == ["record_filing_party"]

    timeline.advance(timedelta(days=3) - timedelta(minutes=1))
    assert timeline.round() == []
    timeline.advance(timedelta(minutes=2))
    assert timeline.round() == [
        ("bertil", "reminder", "police_report_not_filed"),
        ("kansli.fp", "reminder", "police_report_not_filed"),
    ]
    timeline.complete("record_filing_party", "kansli.fp", FILING)
    assert timeline.status() == "completed"


def test_a_tasks_due_time_is_its_escalation_time(timeline: Timeline) -> None:
    """The inbox shows when the deadline timer will fire, counted in office hours."""
    timeline.move_to("2027-01-15 22:00")  # a Friday night
    timeline.start("anna", "incident", "Anna Andersson", answers.report())
    task = timeline.session.scalar(
        select(HumanTask).where(
            HumanTask.instance_id == timeline.case_id, HumanTask.bpmn_id == "security_assessment"
        )
    )
    assert task is not None and task.due_at is not None
    assert task.due_at.astimezone(STOCKHOLM) == datetime(2027, 1, 18, 12, 0, tzinfo=STOCKHOLM)
