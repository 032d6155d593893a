"""What an elected official's start page says about them, in the order they need it.

The open cases about me, my next security conversation, the protective
measures in place for me, and whether I have taken the personal safety
training. Everything is read from what the cases already record — the case
rows and the answers kept on their human tasks — never from the engine, so
the page is one handful of queries however many cases there are.

Only answers meant for the official are read (times, places, kinds of measure
and dates; never notes under secrecy): ``READ_FIELDS`` lists them, and a test
checks that no form restricts any of them to other roles.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.auth import policy
from service.cases.models import CaseStatus, ProcessInstance
from service.cases.yearly import PROCESS_ID as CONVERSATION
from service.cases.yearly import add_months, interval_months
from service.db import utcnow
from service.people.models import Category, Role, User
from service.tasks.models import HumanTask, TaskStatus

MEASURE = "protective_measure"
INTRODUCTION = "introduction"
STOCKHOLM = ZoneInfo("Europe/Stockholm")

# (form, field) pairs this module reads: none of them is restricted by visible_to.
READ_FIELDS = frozenset(
    {
        ("conversation_booking", "proposed_date"),
        ("conversation_booking", "proposed_time"),
        ("conversation_booking", "meeting_place"),
        ("conversation_answer", "invitation_answer"),
        ("conversation_answer", "alternative_date"),
        ("conversation_answer", "alternative_time"),
        ("conversation_new_time", "confirmed_date"),
        ("conversation_new_time", "confirmed_time"),
        ("conversation_new_time", "confirmed_place"),
        ("conversation_record", "held_on"),
        ("protective_measure_proposal", "kind"),
        ("protective_measure_proposal", "valid_from"),
        ("protective_measure_proposal", "valid_to"),
        ("protective_measure_decision", "approved"),
        ("protective_measure_implementation", "implemented_on"),
        ("protective_measure_alarm_setup", "implemented_on"),
        ("protective_measure_review", "review_decision"),
        ("introduction_training", "training_outcome"),
        ("introduction_training", "training_completed_on"),
    }
)


@dataclass(frozen=True)
class OpenCase:
    instance: ProcessInstance
    my_tasks: list[HumanTask]
    # Who else has something to do now (role ids), in a stable order.
    working: list[str]


@dataclass(frozen=True)
class Conversation:
    """My next (or latest) security conversation.

    ``state``: ``booking`` (security is finding a time), ``answer`` (a time is
    proposed: I answer), ``new_time`` (I asked for another time), ``agreed``
    (booked), ``documenting`` (held, being written up), ``none`` (no
    conversation under way).
    """

    state: str
    instance_id: int | None = None
    at: datetime | None = None
    place: str | None = None
    task: HumanTask | None = None
    # When the next yearly offer comes (full-time officials), if none is under way.
    next_offer: date | None = None
    last_held: date | None = None
    full_time: bool = False


@dataclass(frozen=True)
class Measure:
    """One protective measure for me.

    ``state``: ``in_place``, ``arranging`` (proposed, decided or being
    installed), ``confirm`` (I confirm it is in place), ``fixing`` (a fault is
    being fixed), ``review`` (its end date came: security decides whether it
    goes on).
    """

    instance_id: int
    state: str
    kind: str | None
    since: date | None = None
    until: date | None = None
    task: HumanTask | None = None


@dataclass(frozen=True)
class Training:
    """``completed`` (on ``on``), ``declined``, ``offered`` (my task waits) or ``not_taken``."""

    state: str
    on: date | None = None
    task: HumanTask | None = None


@dataclass(frozen=True)
class OfficialOverview:
    open_cases: list[OpenCase]
    closed_cases: list[ProcessInstance]
    conversation: Conversation
    measures: list[Measure]
    training: Training
    # Open tasks of mine whose case is not among ``open_cases`` (never expected, never hidden).
    other_tasks: list[HumanTask] = field(default_factory=list)


def _date(value: Any) -> date | None:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _moment(day_text: Any, time_text: Any) -> datetime | None:
    """A local Stockholm date and time from form answers, as an aware datetime."""
    day = _date(day_text)
    if day is None:
        return None
    try:
        clock = time.fromisoformat(time_text) if isinstance(time_text, str) else time(9, 0)
    except ValueError:
        clock = time(9, 0)
    return datetime.combine(day, clock, tzinfo=STOCKHOLM)


class _CaseTasks:
    """The human tasks of one case, by BPMN id: the latest completed answers and open tasks."""

    def __init__(self, tasks: list[HumanTask]) -> None:
        self.answers: dict[str, dict[str, Any]] = {}
        self.open: dict[str, HumanTask] = {}
        for task in tasks:  # ordered by id: later answers replace earlier ones
            if task.status == TaskStatus.COMPLETED.value:
                self.answers[task.bpmn_id] = task.submitted_data or {}
            elif task.status == TaskStatus.OPEN.value:
                self.open[task.bpmn_id] = task

    def answer(self, bpmn_id: str, name: str) -> Any:
        return self.answers.get(bpmn_id, {}).get(name)

    def done(self, bpmn_id: str) -> bool:
        return bpmn_id in self.answers


def _tasks_by_case(session: Session, instance_ids: list[int]) -> dict[int, _CaseTasks]:
    grouped: dict[int, list[HumanTask]] = defaultdict(list)
    if instance_ids:
        rows = session.scalars(
            select(HumanTask)
            .where(HumanTask.instance_id.in_(instance_ids))
            .order_by(HumanTask.instance_id, HumanTask.id)
        )
        for task in rows:
            grouped[task.instance_id].append(task)
    return {instance_id: _CaseTasks(grouped[instance_id]) for instance_id in instance_ids}


def _mine(task: HumanTask, user: User) -> bool:
    return task.status == TaskStatus.OPEN.value and policy.can_work_task(user, task)


def _conversation(
    user: User, cases: list[ProcessInstance], tasks: dict[int, _CaseTasks]
) -> Conversation:
    full_time = user.person is not None and user.person.category == Category.FULL_TIME.value
    latest = cases[0] if cases else None
    held = [
        held_on
        for case in cases
        if (held_on := _date(tasks[case.id].answer("hold_conversation", "held_on"))) is not None
    ]
    last_held = max(held) if held else None
    if latest is not None and latest.status != CaseStatus.COMPLETED.value:
        found = tasks[latest.id]
        proposed = _moment(
            found.answer("book_conversation", "proposed_date"),
            found.answer("book_conversation", "proposed_time"),
        )
        place = found.answer("book_conversation", "meeting_place")
        base = Conversation("agreed", latest.id, last_held=last_held, full_time=full_time)
        if "book_conversation" in found.open:
            return replace(base, state="booking")
        if "answer_invitation" in found.open:
            task = found.open["answer_invitation"]
            mine = task if _mine(task, user) else None
            return replace(base, state="answer", at=proposed, place=place, task=mine)
        if "confirm_new_time" in found.open:
            wished = _moment(
                found.answer("answer_invitation", "alternative_date"),
                found.answer("answer_invitation", "alternative_time"),
            )
            return replace(base, state="new_time", at=wished, place=place)
        agreed = proposed
        if found.answer("answer_invitation", "invitation_answer") == "other_time":
            agreed = _moment(
                found.answer("confirm_new_time", "confirmed_date"),
                found.answer("confirm_new_time", "confirmed_time"),
            )
            place = found.answer("confirm_new_time", "confirmed_place") or place
        state = "documenting" if "hold_conversation" in found.open else "agreed"
        if agreed is not None or state == "documenting":
            return replace(base, state=state, at=agreed, place=place)
    next_offer = None
    if full_time:
        # The worker offers the next one this long after the last offer, and
        # the first one at once (service/cases/yearly.py): never in the past.
        today = utcnow().astimezone(STOCKHOLM).date()
        due = add_months(latest.created_at.date(), interval_months()) if latest else today
        next_offer = max(due, today)
    return Conversation("none", next_offer=next_offer, last_held=last_held, full_time=full_time)


def _measure(user: User, case: ProcessInstance, found: _CaseTasks) -> Measure | None:
    kind = found.answer("propose_measure", "kind")
    if found.answer("approve_measure", "approved") is False:
        return None  # not granted: the case itself says so
    if found.done("review_measure"):
        return None  # ended, or replaced by a new linked case that shows itself
    since = _date(found.answer("implement_measure", "implemented_on")) or _date(
        found.answer("implement_alarm", "implemented_on")
    )
    until = _date(found.answer("propose_measure", "valid_to"))
    base = Measure(case.id, "in_place", kind, since=since, until=until)
    if "confirm_in_place" in found.open:
        task = found.open["confirm_in_place"]
        return replace(base, state="confirm", task=task if _mine(task, user) else None)
    if "fix_measure" in found.open:
        return replace(base, state="fixing")
    if "review_measure" in found.open:
        return replace(base, state="review")
    if since is not None and found.done("confirm_in_place"):
        return base
    if case.status == CaseStatus.RUNNING.value:
        return replace(base, state="arranging")
    return None  # stopped by an error before it was in place: shown among the cases


def _training(user: User, cases: list[ProcessInstance], tasks: dict[int, _CaseTasks]) -> Training:
    completed: list[date] = []
    declined = False
    waiting: HumanTask | None = None
    for case in cases:
        found = tasks[case.id]
        outcome = found.answer("security_training", "training_outcome")
        if outcome == "completed":
            on = _date(found.answer("security_training", "training_completed_on"))
            if on is not None:
                completed.append(on)
        elif outcome == "declined":
            declined = True
        task = found.open.get("security_training")
        if task is not None and _mine(task, user):
            waiting = task
    if completed:
        return Training("completed", on=max(completed))
    if waiting is not None:
        return Training("offered", task=waiting)
    return Training("declined" if declined else "not_taken")


def official_overview(session: Session, user: User) -> OfficialOverview:
    """The start page of an official: read only from cases about them that they may see."""
    if user.person_id is None or Role.OFFICIAL not in user.roles:
        return OfficialOverview([], [], Conversation("none"), [], Training("not_taken"))
    mine = (ProcessInstance.subject_person_id == user.person_id) & policy.visible_cases_filter(user)
    running = (CaseStatus.RUNNING.value, CaseStatus.ERROR.value)
    open_cases = list(
        session.scalars(
            select(ProcessInstance)
            .where(mine, ProcessInstance.status.in_(running))
            .order_by(ProcessInstance.created_at.desc(), ProcessInstance.id.desc())
            .limit(100)
        )
    )
    closed = list(
        session.scalars(
            select(ProcessInstance)
            .where(mine, ProcessInstance.status == CaseStatus.COMPLETED.value)
            .order_by(ProcessInstance.completed_at.desc(), ProcessInstance.id.desc())
            .limit(20)
        )
    )

    def of_process(process_id: str, limit: int) -> list[ProcessInstance]:
        return list(
            session.scalars(
                select(ProcessInstance)
                .where(mine, ProcessInstance.process_id == process_id)
                .order_by(ProcessInstance.created_at.desc(), ProcessInstance.id.desc())
                .limit(limit)
            )
        )

    conversations = of_process(CONVERSATION, 5)
    measures = of_process(MEASURE, 50)
    introductions = of_process(INTRODUCTION, 5)
    ids = {c.id for c in [*open_cases, *conversations, *measures, *introductions]}
    tasks = _tasks_by_case(session, sorted(ids))

    listed = []
    for case in open_cases:
        found = tasks[case.id]
        my_tasks = [t for t in found.open.values() if _mine(t, user)]
        working = sorted({t.role for t in found.open.values() if t not in my_tasks})
        listed.append(OpenCase(case, sorted(my_tasks, key=lambda t: t.id), working))
    shown = {t.id for c in listed for t in c.my_tasks}
    others = list(
        session.scalars(
            select(HumanTask)
            .where(HumanTask.status == TaskStatus.OPEN.value, policy.workable_tasks_filter(user))
            .order_by(HumanTask.id)
            .limit(50)
        )
    )
    return OfficialOverview(
        open_cases=listed,
        closed_cases=closed,
        conversation=_conversation(user, conversations, tasks),
        measures=[m for case in measures if (m := _measure(user, case, tasks[case.id]))],
        training=_training(user, introductions, tasks),
        other_tasks=[t for t in others if t.id not in shown],
    )
