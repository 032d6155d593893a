"""Incident statistics for the council's follow-up, comparable with Brå's survey categories.

One fact per incident case, read from what the cases recorded: the report
(the start form's answers on its ``start`` task; an incident started by an
alarm has no start form, so its report is read from the engine's data), the
closing answers, the party office's support task and the security
department's assessment. The figures, per calendar year of the day the
incident happened (``occurred_on``; the day it was reported when missing):

- **kind**: the kind confirmed when the case was closed, else the kind reported;
- **channel**, **near miss or incident** (harm always makes it an incident,
  as the model's ``classify_report`` script does), **category of official**
  (the person's category today), **party** (the party the case belongs to),
  **month**;
- **officials affected**: distinct people the incidents were about;
- **reported to the police**: the closing answer says so, or a linked
  police-report case recorded its filing;
- **time to first contact**: days from the report to the party office's
  first contact (``party_support`` answer ``contacted_on`` when
  ``contact_made``), median over the incidents where it was recorded;
- **time to assessment**: hours from the report until the security
  department's assessment task was done, median.

Which incidents count is the policy's (``policy.statistics_cases_filter``);
what is shown of the counts is :func:`disclose` (small counts hidden outside
the security department, see ``reports.disclosure``). The page and the CSV
both render what ``disclose`` returns.
"""

from __future__ import annotations

import statistics as pystats
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.auth import policy
from service.cases.models import CaseLink, ProcessInstance
from service.context import Services
from service.definitions.catalog import latest_definition
from service.people.models import Category, Party, Person
from service.reports.disclosure import Figure, Protected, protect_table, shown
from service.tasks.models import HumanTask, TaskStatus

INCIDENT = "incident"
REPORT_FORM = "incident_report"
REPORT_FIELDS = ("kind", "channel", "event_type", "harm_occurred", "occurred_on")
SUPPORT_TASKS = ("party_support", "party_support_leisure")
CLOSE_TASKS = ("follow_up_close", "party_follow_up_close")
FILING_TASKS = ("record_filing", "record_filing_party")
READ_TASKS = ("start", "security_assessment", *SUPPORT_TASKS, *CLOSE_TASKS)
NOT_STATED = "not_stated"
NO_PARTY = "none"
# Swedish general elections: every fourth year since 1994 (the third Sunday of
# September until 2010, the second Sunday since 2014).
FIRST_FOUR_YEAR_ELECTION = 1994
# The tables of a year, each a partition of the year's incidents, in page order.
DIMENSIONS = ("event_type", "kind", "channel", "category", "party", "month")
CATEGORIES = (Category.FULL_TIME.value, Category.POLITICAL_STAFF.value, Category.LEISURE.value)


def election_day(year: int) -> date | None:
    """The day of the Swedish general election in ``year``, or None if it was no election year."""
    if year < FIRST_FOUR_YEAR_ELECTION or (year - FIRST_FOUR_YEAR_ELECTION) % 4:
        return None
    first = date(year, 9, 1)
    first_sunday = first + timedelta(days=(6 - first.weekday()) % 7)
    return first_sunday + timedelta(weeks=1 if year >= 2014 else 2)


@dataclass(frozen=True)
class IncidentFact:
    case_id: int
    person_id: int | None
    party_id: int | None
    category: str
    kind: str
    channel: str
    event_type: str
    occurred_on: date
    reported_at: datetime
    police_reported: bool
    first_contact_days: int | None
    assessment_hours: float | None


@dataclass(frozen=True)
class Table:
    """Counts of one dimension: (row key, count) in display order; their sum is ``total``."""

    dimension: str
    rows: tuple[tuple[str, int], ...]
    total: int


@dataclass(frozen=True)
class Timing:
    median: float | None
    measured: int


@dataclass(frozen=True)
class YearFigures:
    year: int
    total: int
    officials: int
    tables: tuple[Table, ...]
    police: Table  # reported / not reported (or not known): a partition of the total
    first_contact_days: Timing
    assessment_hours: Timing


@dataclass(frozen=True)
class Statistics:
    scope: policy.StatisticsScope
    year: int  # the year asked for
    years: dict[int, YearFigures]  # every year with incidents, and the year asked for
    drawn_at: datetime


# --- reading the facts ---------------------------------------------------------------


def _date(value: Any) -> date | None:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) and value else NOT_STATED


def _engine_reports(
    services: Services, session: Session, case_ids: Iterable[int]
) -> dict[int, dict[str, Any]]:
    """The report of incidents started without a start form (by an alarm): from the engine."""
    found = {}
    for case_id in case_ids:
        instance = session.get(ProcessInstance, case_id)
        if instance is None or not instance.state:
            continue
        data = services.load_case(instance).data()
        found[case_id] = {name: data.get(name) for name in REPORT_FIELDS}
    return found


def incident_facts(
    services: Services, session: Session, scope: policy.StatisticsScope, zone: ZoneInfo
) -> list[IncidentFact]:
    in_scope = policy.statistics_cases_filter(scope)
    cases = session.execute(
        select(
            ProcessInstance.id,
            ProcessInstance.subject_person_id,
            ProcessInstance.party_id,
            ProcessInstance.created_at,
            Person.category,
        )
        .outerjoin(Person, Person.id == ProcessInstance.subject_person_id)
        .where(in_scope)
        .order_by(ProcessInstance.id)
    ).all()
    ids = select(ProcessInstance.id).where(in_scope).scalar_subquery()
    answers: dict[int, dict[str, dict[str, Any]]] = defaultdict(dict)
    completed: dict[int, dict[str, datetime]] = defaultdict(dict)
    rows = session.execute(
        select(
            HumanTask.instance_id,
            HumanTask.bpmn_id,
            HumanTask.completed_at,
            HumanTask.submitted_data,
        )
        .where(
            HumanTask.instance_id.in_(ids),
            HumanTask.bpmn_id.in_(READ_TASKS),
            HumanTask.status == TaskStatus.COMPLETED.value,
        )
        .order_by(HumanTask.id)
    )
    for instance_id, bpmn_id, completed_at, data in rows:
        answers[instance_id][bpmn_id] = data or {}  # later answers replace earlier ones
        if completed_at is not None:
            completed[instance_id].setdefault(bpmn_id, completed_at)
    filed = set(
        session.scalars(
            select(CaseLink.from_instance_id)
            .join(HumanTask, HumanTask.instance_id == CaseLink.to_instance_id)
            .where(
                CaseLink.from_instance_id.in_(ids),
                HumanTask.bpmn_id.in_(FILING_TASKS),
                HumanTask.status == TaskStatus.COMPLETED.value,
            )
        )
    )
    engine = _engine_reports(
        services, session, [c[0] for c in cases if "start" not in answers[c[0]]]
    )
    facts = []
    for case_id, person_id, party_id, created_at, category in cases:
        task_answers = answers[case_id]
        report = task_answers.get("start") or engine.get(case_id, {})
        close = next((task_answers[t] for t in CLOSE_TASKS if t in task_answers), {})
        support = next((task_answers[t] for t in SUPPORT_TASKS if t in task_answers), {})
        reported_day = created_at.astimezone(zone).date()
        contact = _date(support.get("contacted_on")) if support.get("contact_made") else None
        contact_days = (contact - reported_day).days if contact is not None else None
        assessed = completed[case_id].get("security_assessment")
        facts.append(
            IncidentFact(
                case_id=case_id,
                person_id=person_id,
                party_id=party_id,
                category=_text(category),
                kind=_text(close.get("confirmed_kind") or report.get("kind")),
                channel=_text(report.get("channel")),
                event_type="incident"
                if report.get("harm_occurred")
                else _text(report.get("event_type")),
                occurred_on=_date(report.get("occurred_on")) or reported_day,
                reported_at=created_at,
                police_reported=close.get("reported_to_police") == "yes" or case_id in filed,
                # A contact day before the report is a typing error, not a measurement.
                first_contact_days=contact_days
                if contact_days is not None and contact_days >= 0
                else None,
                assessment_hours=(
                    (assessed - created_at).total_seconds() / 3600 if assessed is not None else None
                ),
            )
        )
    return facts


# --- counting ------------------------------------------------------------------------


def _ordered(known: Iterable[str], seen: Iterable[str]) -> tuple[str, ...]:
    """The form's own order, then any value the form no longer offers (old versions)."""
    order = list(dict.fromkeys(known))
    order += sorted(set(seen) - set(order))
    return tuple(order)


def _table(dimension: str, keys: tuple[str, ...], values: list[str]) -> Table:
    counts = Counter(values)
    return Table(dimension, tuple((key, counts.get(key, 0)) for key in keys), len(values))


def _timing(values: list[float]) -> Timing:
    return Timing(float(pystats.median(values)) if values else None, len(values))


def _year_figures(
    year: int, facts: list[IncidentFact], options: dict[str, tuple[str, ...]], with_party: bool
) -> YearFigures:
    def keys(dimension: str, seen: list[str]) -> tuple[str, ...]:
        return _ordered(options.get(dimension, ()), seen)

    values: dict[str, list[str]] = {
        "event_type": [f.event_type for f in facts],
        "kind": [f.kind for f in facts],
        "channel": [f.channel for f in facts],
        "category": [f.category for f in facts],
        "party": [str(f.party_id) if f.party_id is not None else NO_PARTY for f in facts],
        "month": [str(f.occurred_on.month) for f in facts],
    }
    tables = tuple(
        _table(dimension, keys(dimension, values[dimension]), values[dimension])
        for dimension in DIMENSIONS
        if dimension != "party" or with_party
    )
    reported = sum(1 for f in facts if f.police_reported)
    return YearFigures(
        year=year,
        total=len(facts),
        officials=len({f.person_id for f in facts if f.person_id is not None}),
        tables=tables,
        police=Table(
            "police", (("reported", reported), ("not_reported", len(facts) - reported)), len(facts)
        ),
        first_contact_days=_timing(
            [float(f.first_contact_days) for f in facts if f.first_contact_days is not None]
        ),
        assessment_hours=_timing(
            [f.assessment_hours for f in facts if f.assessment_hours is not None]
        ),
    )


def _form_options(services: Services, session: Session) -> dict[str, tuple[str, ...]]:
    definition = latest_definition(session, INCIDENT)
    options: dict[str, tuple[str, ...]] = {
        "category": CATEGORIES,
        "month": tuple(str(m) for m in range(1, 13)),
        "party": tuple(str(p) for p in session.scalars(select(Party.id).order_by(Party.name))),
    }
    if definition is not None:
        form = services.definitions.form(definition, REPORT_FORM)
        for name in ("kind", "channel", "event_type"):
            found = form.field(name)
            if found is not None:
                options[name] = tuple(found.options)
    return options


def incident_statistics(
    services: Services,
    session: Session,
    scope: policy.StatisticsScope,
    year: int,
    now: datetime,
    zone: ZoneInfo,
) -> Statistics:
    """The figures of every year in the scope; ``year`` is the one the page shows in detail."""
    facts = incident_facts(services, session, scope, zone)
    options = _form_options(services, session)
    by_year: dict[int, list[IncidentFact]] = defaultdict(list)
    for fact in facts:
        by_year[fact.occurred_on.year].append(fact)
    by_year.setdefault(year, [])
    # A party office sees its own party only: a table of one party says nothing.
    with_party = scope.party_id is None
    return Statistics(
        scope=scope,
        year=year,
        years={y: _year_figures(y, by_year[y], options, with_party) for y in sorted(by_year)},
        drawn_at=now,
    )


# --- what may be shown ---------------------------------------------------------------


@dataclass(frozen=True)
class ShownTable:
    dimension: str
    rows: tuple[tuple[str, Figure], ...]
    total: Figure | None


@dataclass(frozen=True)
class ShownTiming:
    median: float | None  # None when hidden or nothing measured
    measured: Figure


@dataclass(frozen=True)
class ShownYear:
    year: int
    total: Figure
    officials: Figure
    tables: tuple[ShownTable, ...]
    police: ShownTable
    police_share: float | None  # 0..1, None when hidden or no incidents
    first_contact_days: ShownTiming
    assessment_hours: ShownTiming


@dataclass(frozen=True)
class ShownStatistics:
    exact: bool
    year: ShownYear  # the year asked for
    by_year: ShownTable  # incidents per year, no total row
    drawn_at: datetime

    def table(self, dimension: str) -> ShownTable | None:
        return next((t for t in self.year.tables if t.dimension == dimension), None)


def _shown_table(table: Table, protected: Protected) -> ShownTable:
    return ShownTable(
        table.dimension,
        tuple(
            (key, figure) for (key, _count), figure in zip(table.rows, protected.rows, strict=True)
        ),
        protected.total,
    )


def _timing_shown(timing: Timing, exact: bool) -> ShownTiming:
    measured = shown(timing.measured, exact)
    # A median of one or two incidents is those incidents' own times.
    visible = exact or timing.measured >= 3 or timing.measured == 0
    return ShownTiming(
        timing.median if visible else None,
        measured if visible else Figure(None, small=timing.measured > 0),
    )


def _disclose_year(figures: YearFigures, exact: bool) -> ShownYear:
    tables = (*figures.tables, figures.police)

    def protect(total_hidden: bool) -> list[Protected]:
        return [
            protect_table([c for _k, c in t.rows], t.total, exact=exact, total_hidden=total_hidden)
            for t in tables
        ]

    protected = protect(False)
    total_hidden = any(p.total_must_hide for p in protected)
    if total_hidden:
        protected = protect(True)
    shown_tables = [_shown_table(t, p) for t, p in zip(tables, protected, strict=True)]
    total = shown(figures.total, exact)
    if total_hidden:
        total = Figure(None)
    police = shown_tables[-1]
    reported = police.rows[0][1]
    share = None
    if figures.total and not total.hidden and reported.value is not None:
        share = reported.value / figures.total
    return ShownYear(
        year=figures.year,
        total=total,
        officials=shown(figures.officials, exact),
        tables=tuple(shown_tables[:-1]),
        police=police,
        police_share=share,
        first_contact_days=_timing_shown(figures.first_contact_days, exact),
        assessment_hours=_timing_shown(figures.assessment_hours, exact),
    )


def disclose(stats: Statistics, exact: bool) -> ShownStatistics:
    """What may be shown of ``stats``: everything when ``exact``, else small counts hidden.

    The one function behind the page and the CSV (reports.disclosure has the rules).
    """
    years = {year: _disclose_year(figures, exact) for year, figures in stats.years.items()}
    # Per year: hidden when that year's own total is (small, or hidden by rule 3).
    by_year = ShownTable(
        "year",
        tuple((str(year), years[year].total) for year in sorted(years)),
        None,
    )
    return ShownStatistics(
        exact=exact, year=years[stats.year], by_year=by_year, drawn_at=stats.drawn_at
    )
