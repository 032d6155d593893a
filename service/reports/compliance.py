"""The compliance view: what the city has done for each full-time official, and what is late.

Kommunallagen 4 kap. 18 a § makes the city responsible for the measures needed
and for the training; the guideline sets three goals per full-time official
(särskilt arvoderad förtroendevald, category ``full_time``): the guideline
offered at introduction, personal security training offered, and a security
conversation offered at least once a year. The city must be able to show at
any moment that it did this, so every row is read from what the cases
recorded: the case rows and the validated answers kept on their human tasks
(``HumanTask.submitted_data``), never the engine's state. One query per kind
of record, however many officials and cases there are.

The rules the view applies (and the report documents):

- **Guideline offered**: the party office's ``give_introduction`` answer
  ``introduced_on`` (the earliest, if there were several introductions);
  acknowledged when the official's ``acknowledge_guideline`` task was done.
- **Training offered**: the day the introduction's ``security_training`` task
  was given to the official, or a held conversation whose agreed measures
  include training (its ``held_on``). Completed: ``training_completed_on``;
  declined: the official's answer. A declined offer is still an offer.
- **Conversation offered**: the day the security department sent a proposed
  time (``book_conversation`` done). Whatever the official answers — accept,
  another time, or decline — the offer was made that day: a declined offer
  counts as offered. Held: ``held_on`` of the documented conversation.
- **Due dates**: the guideline, the training and the first conversation are
  due within ``INTRODUCTION_DAYS`` of the official's registration; every
  later conversation within ``CONVERSATION_MONTHS`` of the last offer. An
  item is *overdue* the day after its due date; *due soon* within
  ``DUE_SOON_DAYS`` before it.
- **Protective measures**: each measure case not rejected and not ended (a
  reviewed time-limited measure ends, or is replaced by the linked case that
  extends it); its review date is the proposal's ``valid_to``. Overdue when
  the review date has passed without a review, or when one of its open tasks
  is past its due time.
- **Open incidents**: running incident cases about the official; late when
  one of their open tasks is past its due time.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.cases.models import CaseStatus, ProcessInstance
from service.cases.yearly import add_months
from service.people.models import Category, Party, Person
from service.tasks.models import HumanTask, TaskStatus

INTRODUCTION = "introduction"
CONVERSATION = "security_conversation"
MEASURE = "protective_measure"
INCIDENT = "incident"

# The guideline, training and first conversation: offered within this many days of registration.
INTRODUCTION_DAYS = 30
# The law's test: a conversation offered at least once a year.
CONVERSATION_MONTHS = 12
# How early an item coming due is pointed out.
DUE_SOON_DAYS = 30

# The tasks whose rows (and answers) the view reads; an incident's answers are never read here.
READ_TASKS = frozenset(
    {
        "give_introduction",
        "acknowledge_guideline",
        "security_training",
        "book_conversation",
        "answer_invitation",
        "confirm_new_time",
        "hold_conversation",
        "propose_measure",
        "approve_measure",
        "implement_measure",
        "implement_alarm",
        "confirm_in_place",
        "fix_measure",
        "review_measure",
    }
)
# (form, field) pairs read from those tasks' answers: dates, choices and kinds, never notes.
READ_FIELDS = frozenset(
    {
        ("introduction_given", "introduced_on"),
        ("introduction_training", "training_outcome"),
        ("introduction_training", "training_completed_on"),
        ("conversation_booking", "proposed_date"),
        ("conversation_answer", "invitation_answer"),
        ("conversation_new_time", "confirmed_date"),
        ("conversation_record", "held_on"),
        ("conversation_record", "agreed_measures"),
        ("protective_measure_proposal", "kind"),
        ("protective_measure_proposal", "valid_to"),
        ("protective_measure_decision", "approved"),
        ("protective_measure_implementation", "implemented_on"),
        ("protective_measure_alarm_setup", "implemented_on"),
    }
)


@dataclass(frozen=True)
class Guideline:
    """``offered``, ``under_way`` (an introduction has started) or ``not_offered``."""

    state: str
    offered_on: date | None = None
    acknowledged_on: date | None = None
    since: date | None = None  # the introduction under way started then
    due: date | None = None
    overdue: bool = False
    due_soon: bool = False
    case_id: int | None = None


@dataclass(frozen=True)
class Training:
    """``completed``, ``awaiting`` (the official's answer), ``declined``, ``offered`` or ``not_offered``."""

    state: str
    offered_on: date | None = None
    completed_on: date | None = None
    answer_due: date | None = None
    due: date | None = None
    overdue: bool = False
    due_soon: bool = False
    case_id: int | None = None


@dataclass(frozen=True)
class Offer:
    """One security conversation offered: ``answer`` is ``awaiting``, ``accepted``, ``other_time`` or ``declined``."""

    case_id: int
    offered_on: date
    answer: str
    agreed_on: date | None = None
    held_on: date | None = None


@dataclass(frozen=True)
class Conversation:
    """The yearly conversation. ``under_way``: the running case's step, if one runs.

    Steps: ``booking`` (the security department proposes a time), ``answer``
    (the official answers), ``new_time`` (another time asked for),
    ``agreed`` (waiting for the agreed day), ``documenting`` (held, being written up).
    """

    last_offer: Offer | None
    last_held_on: date | None
    next_due: date
    overdue: bool
    due_soon: bool
    offers: int = 0
    under_way: str | None = None
    under_way_case: int | None = None
    agreed_on: date | None = None


@dataclass(frozen=True)
class Measure:
    """A protective measure. ``state``: ``proposing``, ``awaiting_decision``, ``implementing``,
    ``confirming``, ``fixing``, ``in_place``, ``review`` (its end date came) or ``error``."""

    case_id: int
    kind: str | None
    state: str
    since: date | None = None
    review_on: date | None = None
    overdue: bool = False


@dataclass(frozen=True)
class Incidents:
    open_case_ids: tuple[int, ...] = ()
    late_case_ids: tuple[int, ...] = ()  # with an open task past its due time

    @property
    def overdue(self) -> bool:
        return bool(self.late_case_ids)


@dataclass(frozen=True)
class ComplianceRow:
    person_id: int
    name: str
    party: str | None
    assignment: str | None
    registered_on: date
    guideline: Guideline
    training: Training
    conversation: Conversation
    measures: tuple[Measure, ...]
    incidents: Incidents

    @property
    def overdue_items(self) -> tuple[str, ...]:
        """Which duties are late: ``guideline``, ``training``, ``conversation``, ``measure``, ``incident``."""
        items = [
            ("guideline", self.guideline.overdue),
            ("training", self.training.overdue),
            ("conversation", self.conversation.overdue),
            ("measure", any(m.overdue for m in self.measures)),
            ("incident", self.incidents.overdue),
        ]
        return tuple(name for name, late in items if late)

    @property
    def overdue(self) -> bool:
        return bool(self.overdue_items)


@dataclass(frozen=True)
class ComplianceReport:
    drawn_at: datetime  # aware, UTC
    today: date  # the local (Stockholm) day the report was drawn
    rows: tuple[ComplianceRow, ...]

    @property
    def overdue_count(self) -> int:
        return sum(1 for row in self.rows if row.overdue)


@dataclass
class _Task:
    instance_id: int
    bpmn_id: str
    status: str
    created_at: datetime
    due_at: datetime | None
    completed_at: datetime | None
    data: dict[str, Any]


@dataclass
class _Case:
    id: int
    process_id: str
    status: str
    person_id: int
    created_at: datetime
    tasks: list[_Task] = field(default_factory=list)

    def done(self, bpmn_id: str) -> list[_Task]:
        return [t for t in self.tasks if t.bpmn_id == bpmn_id and t.status == "completed"]

    def open(self, bpmn_id: str) -> _Task | None:
        return next((t for t in self.tasks if t.bpmn_id == bpmn_id and t.status == "open"), None)

    def answer(self, bpmn_id: str, name: str) -> Any:
        """The latest completed answer to ``name`` in task ``bpmn_id`` (tasks are in id order)."""
        found = self.done(bpmn_id)
        return found[-1].data.get(name) if found else None

    @property
    def running(self) -> bool:
        return self.status == CaseStatus.RUNNING.value


def _date(value: Any) -> date | None:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


class _Clock:
    def __init__(self, now: datetime, zone: ZoneInfo) -> None:
        self.now = now
        self.zone = zone
        self.today = now.astimezone(zone).date()

    def day(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def due(self, day: date) -> tuple[bool, bool]:
        """Whether something due by ``day`` is overdue, or else due soon."""
        overdue = self.today > day
        return overdue, not overdue and self.today >= day - timedelta(days=DUE_SOON_DAYS)

    def late(self, task: _Task) -> bool:
        return task.status == "open" and task.due_at is not None and task.due_at < self.now


def _guideline(cases: list[_Case], window_end: date, clock: _Clock) -> Guideline:
    offered = [
        (on, case)
        for case in cases
        if (on := _date(case.answer("give_introduction", "introduced_on"))) is not None
    ]
    acknowledged = [
        clock.day(t.completed_at)
        for c in cases
        for t in c.done("acknowledge_guideline")
        if t.completed_at
    ]
    if offered:
        on, case = min(offered, key=lambda pair: pair[0])
        return Guideline(
            "offered",
            offered_on=on,
            acknowledged_on=min(acknowledged) if acknowledged else None,
            case_id=case.id,
        )
    overdue, soon = clock.due(window_end)
    running = [c for c in cases if c.running]
    if running:
        case = running[-1]
        return Guideline(
            "under_way",
            since=clock.day(case.created_at),
            due=window_end,
            overdue=overdue,
            due_soon=soon,
            case_id=case.id,
        )
    return Guideline("not_offered", due=window_end, overdue=overdue, due_soon=soon)


def _training(
    introductions: list[_Case], conversations: list[_Case], window_end: date, clock: _Clock
) -> Training:
    offers: list[tuple[date, int]] = []
    completed: list[tuple[date, int]] = []
    declined: int | None = None
    waiting: _Task | None = None
    for case in introductions:
        for task in case.tasks:
            if task.bpmn_id != "security_training" or task.status == TaskStatus.CANCELLED.value:
                continue
            offers.append((clock.day(task.created_at), case.id))
            outcome = task.data.get("training_outcome") if task.status == "completed" else None
            if outcome == "completed":
                on = _date(task.data.get("training_completed_on"))
                completed.append((on or clock.day(task.completed_at or task.created_at), case.id))
            elif outcome == "declined":
                declined = case.id
            elif task.status == "open":
                waiting = task
    for case in conversations:
        measures = case.answer("hold_conversation", "agreed_measures")
        held = _date(case.answer("hold_conversation", "held_on"))
        if isinstance(measures, list) and "training" in measures and held is not None:
            offers.append((held, case.id))
    first = min(offers) if offers else None
    offered_on = first[0] if first else None
    if completed:
        on, case_id = max(completed)
        return Training("completed", offered_on=offered_on, completed_on=on, case_id=case_id)
    if waiting is not None:
        return Training(
            "awaiting",
            offered_on=offered_on,
            answer_due=clock.day(waiting.due_at) if waiting.due_at else None,
            overdue=clock.late(waiting),
            case_id=waiting.instance_id,
        )
    if declined is not None:
        return Training("declined", offered_on=offered_on, case_id=declined)
    if first is not None:
        return Training("offered", offered_on=offered_on, case_id=first[1])
    overdue, soon = clock.due(window_end)
    return Training("not_offered", due=window_end, overdue=overdue, due_soon=soon)


def _offer(case: _Case, clock: _Clock) -> Offer | None:
    booked = case.done("book_conversation")
    if not booked or booked[-1].completed_at is None:
        return None
    answer = {"accept": "accepted", "other_time": "other_time", "decline": "declined"}.get(
        str(case.answer("answer_invitation", "invitation_answer")), "awaiting"
    )
    agreed = _date(case.answer("book_conversation", "proposed_date"))
    if answer == "other_time":
        agreed = _date(case.answer("confirm_new_time", "confirmed_date"))
    return Offer(
        case.id,
        offered_on=clock.day(booked[-1].completed_at),
        answer=answer,
        agreed_on=agreed if answer in ("accepted", "other_time") else None,
        held_on=_date(case.answer("hold_conversation", "held_on")),
    )


def _conversation(cases: list[_Case], window_end: date, clock: _Clock) -> Conversation:
    offers = [offer for case in cases if (offer := _offer(case, clock)) is not None]
    last = max(offers, key=lambda o: (o.offered_on, o.case_id)) if offers else None
    held = [o.held_on for o in offers if o.held_on is not None]
    due = add_months(last.offered_on, CONVERSATION_MONTHS) if last else window_end
    overdue, soon = clock.due(due)
    result = Conversation(
        last_offer=last,
        last_held_on=max(held) if held else None,
        next_due=due,
        overdue=overdue,
        due_soon=soon,
        offers=len(offers),
    )
    running = [c for c in cases if c.running]
    if not running:
        return result
    case = running[-1]
    step = "agreed"
    for bpmn_id, name in (
        ("book_conversation", "booking"),
        ("answer_invitation", "answer"),
        ("confirm_new_time", "new_time"),
        ("hold_conversation", "documenting"),
    ):
        if case.open(bpmn_id) is not None:
            step = name
    offer = next((o for o in offers if o.case_id == case.id), None)
    return Conversation(
        last_offer=result.last_offer,
        last_held_on=result.last_held_on,
        next_due=result.next_due,
        overdue=result.overdue,
        due_soon=result.due_soon,
        offers=result.offers,
        under_way=step,
        under_way_case=case.id,
        agreed_on=offer.agreed_on if offer is not None else None,
    )


def _measure(case: _Case, clock: _Clock) -> Measure | None:
    if case.answer("approve_measure", "approved") is False:
        return None  # rejected: nothing was put in place
    if case.done("review_measure"):
        return None  # ended, or replaced by the linked case that extends it
    kind = case.answer("propose_measure", "kind")
    since = _date(case.answer("implement_measure", "implemented_on")) or _date(
        case.answer("implement_alarm", "implemented_on")
    )
    review_on = _date(case.answer("propose_measure", "valid_to"))
    late_task = any(clock.late(t) for t in case.tasks)
    # The end date passed and nobody has decided whether the measure goes on.
    review_late = review_on is not None and review_on < clock.today and case.running
    state = "in_place" if since is not None else "arranging"
    for bpmn_id, name in (
        ("propose_measure", "proposing"),
        ("approve_measure", "awaiting_decision"),
        ("implement_measure", "implementing"),
        ("implement_alarm", "implementing"),
        ("confirm_in_place", "confirming"),
        ("fix_measure", "fixing"),
        ("review_measure", "review"),
    ):
        if case.open(bpmn_id) is not None:
            state = name
    if case.status == CaseStatus.ERROR.value:
        state = "error"
    elif not case.running and since is None:
        return None  # ended before anything was in place
    return Measure(
        case.id,
        kind=str(kind) if kind is not None else None,
        state=state,
        since=since,
        review_on=review_on,
        overdue=late_task or review_late or state == "error",
    )


def _load_cases(session: Session, person_ids: list[int]) -> dict[int, list[_Case]]:
    """Every introduction, conversation, measure and open incident of these people, with tasks."""
    relevant = (
        ProcessInstance.subject_person_id.in_(person_ids),
        ProcessInstance.process_id.in_((INTRODUCTION, CONVERSATION, MEASURE, INCIDENT)),
    )
    cases: dict[int, _Case] = {}
    rows = session.execute(
        select(
            ProcessInstance.id,
            ProcessInstance.process_id,
            ProcessInstance.status,
            ProcessInstance.subject_person_id,
            ProcessInstance.created_at,
        )
        .where(*relevant)
        .where(
            (ProcessInstance.process_id != INCIDENT)
            | (ProcessInstance.status != CaseStatus.COMPLETED.value)
        )
        .order_by(ProcessInstance.created_at, ProcessInstance.id)
    )
    for case_id, process_id, status, person_id, created_at in rows:
        if person_id is None:
            continue  # never: the query asks for these people's cases
        cases[case_id] = _Case(case_id, process_id, status, person_id, created_at)
    if cases:
        # The read tasks with their answers, and every open task (for due times). Open
        # tasks hold no answers, and no incident task is a read task: an incident's
        # answers are never loaded here.
        names = {name for _form, name in READ_FIELDS}
        wanted = HumanTask.bpmn_id.in_(READ_TASKS) | (HumanTask.status == TaskStatus.OPEN.value)
        task_rows = session.execute(
            select(
                HumanTask.instance_id,
                HumanTask.bpmn_id,
                HumanTask.status,
                HumanTask.created_at,
                HumanTask.due_at,
                HumanTask.completed_at,
                HumanTask.submitted_data,
            )
            .where(HumanTask.instance_id.in_(list(cases)), wanted)
            .order_by(HumanTask.id)
        )
        for instance_id, bpmn_id, status, created, due, completed, data in task_rows:
            kept = {k: v for k, v in (data or {}).items() if k in names}
            cases[instance_id].tasks.append(
                _Task(instance_id, bpmn_id, status, created, due, completed, kept)
            )
    grouped: dict[int, list[_Case]] = defaultdict(list)
    for case in cases.values():
        grouped[case.person_id].append(case)
    return grouped


def compliance_report(
    session: Session, now: datetime, zone: ZoneInfo, person_id: int | None = None
) -> ComplianceReport:
    """The compliance rows of every full-time official (or one), as of ``now``.

    The caller has checked ``policy.can_see_compliance``.
    """
    clock = _Clock(now, zone)
    query = (
        select(Person, Party.short_name)
        .outerjoin(Party, Party.id == Person.party_id)
        .where(Person.category == Category.FULL_TIME.value)
        .order_by(Person.full_name, Person.id)
    )
    if person_id is not None:
        query = query.where(Person.id == person_id)
    people = session.execute(query).all()
    by_person = _load_cases(session, [p.id for p, _party in people])
    rows = []
    for person, party in people:
        cases = by_person.get(person.id, [])

        def of(process_id: str, cases: list[_Case] = cases) -> list[_Case]:
            return [c for c in cases if c.process_id == process_id]

        registered = clock.day(person.created_at)
        window_end = registered + timedelta(days=INTRODUCTION_DAYS)
        incidents = of(INCIDENT)
        rows.append(
            ComplianceRow(
                person_id=person.id,
                name=person.full_name,
                party=party,
                assignment=person.assignment,
                registered_on=registered,
                guideline=_guideline(of(INTRODUCTION), window_end, clock),
                training=_training(of(INTRODUCTION), of(CONVERSATION), window_end, clock),
                conversation=_conversation(of(CONVERSATION), window_end, clock),
                measures=tuple(m for c in of(MEASURE) if (m := _measure(c, clock)) is not None),
                incidents=Incidents(
                    open_case_ids=tuple(c.id for c in incidents),
                    late_case_ids=tuple(
                        c.id for c in incidents if any(clock.late(t) for t in c.tasks)
                    ),
                ),
            )
        )
    return ComplianceReport(drawn_at=now, today=clock.today, rows=tuple(rows))
