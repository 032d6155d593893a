"""The words and dates the reports show: one source for the page, the CSV and the PDF.

Dates are calendar days with their year ("20 januari 2027"): a report is
evidence and outlives "this year". The moment a report was drawn is in
Stockholm time (Flask-Babel's default time zone is Settings.timezone).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import format_date, format_datetime, format_decimal, format_percent

from service.people.models import Category
from service.reports.compliance import (
    ComplianceRow,
    Conversation,
    Guideline,
    Incidents,
    Measure,
    Training,
)
from service.reports.statistics import NO_PARTY, NOT_STATED, election_day
from service.web.translate import _


def long_day(value: date | None) -> str:
    return str(format_date(value, "d MMMM y")) if value is not None else "–"


def iso_day(value: date | None) -> str:
    """The numeric Swedish standard form (2027-01-20), for columns a spreadsheet sorts."""
    return value.isoformat() if value is not None else ""


def drawn_text(moment: datetime) -> str:
    """When a report was drawn, in Stockholm time: "28 november 2026 kl. 14:05"."""
    return _(
        "%(day)s at %(time)s",
        day=str(format_datetime(moment, "d MMMM y")),
        time=str(format_datetime(moment, "HH:mm")),
    )


@dataclass(frozen=True)
class Cell:
    """One cell of the compliance table: its text, and whether it is late or coming due."""

    lines: tuple[str, ...]
    overdue: bool = False
    due_soon: bool = False
    case_ids: tuple[int, ...] = ()

    @property
    def text(self) -> str:
        return "; ".join(self.lines)


def guideline_state(item: Guideline) -> str:
    return {
        "offered": _("Offered"),
        "under_way": _("Introduction under way"),
        "not_offered": _("Not offered"),
    }[item.state]


def guideline_cell(item: Guideline) -> Cell:
    ids = (item.case_id,) if item.case_id else ()
    if item.state == "offered":
        acknowledged = (
            _("acknowledged %(day)s", day=long_day(item.acknowledged_on))
            if item.acknowledged_on
            else _("not yet acknowledged")
        )
        return Cell(
            (_("Offered %(day)s", day=long_day(item.offered_on)), acknowledged), case_ids=ids
        )
    first = (
        _("Introduction under way since %(day)s", day=long_day(item.since))
        if item.state == "under_way"
        else _("Not offered")
    )
    return Cell(
        (first, _("due by %(day)s", day=long_day(item.due))),
        overdue=item.overdue,
        due_soon=item.due_soon,
        case_ids=ids,
    )


def training_state(item: Training) -> str:
    return {
        "completed": _("Completed"),
        "awaiting": _("Awaiting the official's answer"),
        "declined": _("Declined"),
        "offered": _("Offered"),
        "not_offered": _("Not offered"),
    }[item.state]


def training_cell(item: Training) -> Cell:
    ids = (item.case_id,) if item.case_id else ()
    offered = _("Offered %(day)s", day=long_day(item.offered_on))
    if item.state == "completed":
        lines: tuple[str, ...] = (_("Completed %(day)s", day=long_day(item.completed_on)),)
        if item.offered_on:
            lines = (offered, *lines)
        return Cell(lines, case_ids=ids)
    if item.state == "awaiting":
        answer = (
            _("answer due by %(day)s", day=long_day(item.answer_due))
            if item.answer_due
            else _("awaiting the official's answer")
        )
        return Cell((offered, answer), overdue=item.overdue, case_ids=ids)
    if item.state == "declined":
        return Cell((offered, _("declined by the official")), case_ids=ids)
    if item.state == "offered":
        return Cell((offered,), case_ids=ids)
    return Cell(
        (_("Not offered"), _("due by %(day)s", day=long_day(item.due))),
        overdue=item.overdue,
        due_soon=item.due_soon,
    )


def answer_text(answer: str) -> str:
    return {
        "awaiting": _("answer awaited"),
        "accepted": _("accepted"),
        "other_time": _("asked for another time"),
        "declined": _("declined (still counts as offered)"),
    }[answer]


def under_way_text(item: Conversation) -> str:
    if item.under_way == "agreed" and item.agreed_on is not None:
        return _("booked for %(day)s", day=long_day(item.agreed_on))
    return {
        "booking": _("being booked by the security department"),
        "answer": _("offered, the official's answer awaited"),
        "new_time": _("the official asked for another time"),
        "agreed": _("booked"),
        "documenting": _("held, being documented"),
    }.get(item.under_way or "", "")


def conversation_cell(item: Conversation) -> Cell:
    last = item.last_offer
    if last is None:
        return Cell((_("Never offered"),))
    lines = [
        _("Last offered %(day)s", day=long_day(last.offered_on)) + f" ({answer_text(last.answer)})"
    ]
    lines.append(
        _("last held %(day)s", day=long_day(item.last_held_on))
        if item.last_held_on
        else _("none held yet")
    )
    return Cell(tuple(lines), case_ids=(last.case_id,))


def next_conversation_cell(item: Conversation) -> Cell:
    lines = [_("Offer due by %(day)s", day=long_day(item.next_due))]
    if item.under_way:
        lines.append(_("Under way: %(step)s", step=under_way_text(item)))
    ids = (item.under_way_case,) if item.under_way_case else ()
    return Cell(tuple(lines), overdue=item.overdue, due_soon=item.due_soon, case_ids=ids)


def measure_state(state: str) -> str:
    return {
        "proposing": _("being proposed"),
        "awaiting_decision": _("awaiting the security lead's decision"),
        "implementing": _("being put in place"),
        "confirming": _("in place, the official confirms"),
        "fixing": _("a fault is being fixed"),
        "in_place": _("in place"),
        "review": _("end date reached, to be reviewed"),
        "arranging": _("being arranged"),
        "error": _("stopped by an error"),
    }[state]


def measure_text(measure: Measure, kinds: dict[str, str]) -> str:
    kind = kinds.get(measure.kind or "", measure.kind or _("Not stated"))
    parts = [f"{kind}: {measure_state(measure.state)}"]
    if measure.since:
        parts.append(_("since %(day)s", day=long_day(measure.since)))
    parts.append(
        _("review %(day)s", day=long_day(measure.review_on))
        if measure.review_on
        else _("until further notice")
    )
    return ", ".join(parts)


def measures_cell(measures: tuple[Measure, ...], kinds: dict[str, str]) -> Cell:
    if not measures:
        return Cell((_("None"),))
    return Cell(
        tuple(measure_text(m, kinds) for m in measures),
        overdue=any(m.overdue for m in measures),
        case_ids=tuple(m.case_id for m in measures),
    )


def incidents_cell(incidents: Incidents) -> Cell:
    count = len(incidents.open_case_ids)
    if not count:
        return Cell((_("None"),))
    lines = [_("%(count)s open", count=count)]
    if incidents.late_case_ids:
        lines.append(_("%(count)s with an overdue task", count=len(incidents.late_case_ids)))
    return Cell(tuple(lines), overdue=incidents.overdue, case_ids=incidents.open_case_ids)


def overdue_names() -> dict[str, str]:
    return {
        "guideline": _("Guideline"),
        "training": _("Training"),
        "conversation": _("Security conversation"),
        "measure": _("Protective measure"),
        "incident": _("Incident"),
    }


def compliance_headings() -> tuple[str, ...]:
    return (
        _("Official"),
        _("Guideline offered"),
        _("Training"),
        _("Security conversation"),
        _("Next conversation"),
        _("Protective measures"),
        _("Open incidents"),
    )


def official_cell(row: ComplianceRow) -> Cell:
    details = " · ".join(t for t in (row.party, row.assignment) if t)
    return Cell((row.name, details) if details else (row.name,))


def compliance_cells(row: ComplianceRow, kinds: dict[str, str]) -> tuple[Cell, ...]:
    """The row's cells in ``compliance_headings`` order."""
    return (
        official_cell(row),
        guideline_cell(row.guideline),
        training_cell(row.training),
        conversation_cell(row.conversation),
        next_conversation_cell(row.conversation),
        measures_cell(row.measures, kinds),
        incidents_cell(row.incidents),
    )


# --- statistics --------------------------------------------------------------------------


def dimension_titles() -> dict[str, str]:
    return {
        "event_type": _("Near miss or incident"),
        "kind": _("Kind of incident"),
        "channel": _("How it reached the official"),
        "category": _("Category of official"),
        "party": _("Party"),
        "month": _("Month the incident happened"),
        "year": _("Year the incident happened"),
        "police": _("Reported to the police"),
    }


def category_names() -> dict[str, str]:
    return {
        Category.FULL_TIME.value: _("Full-time official"),
        Category.POLITICAL_STAFF.value: _("Political staff"),
        Category.LEISURE.value: _("Leisure politician"),
    }


def election_note(year: int) -> str | None:
    day = election_day(year)
    if day is None:
        return None
    return _("election year (election %(day)s)", day=long_day(day))


def row_label(
    dimension: str, key: str, options: dict[str, dict[str, str]], parties: dict[str, str]
) -> str:
    """The reader's name for one row of a statistics table."""
    if key == NOT_STATED:
        return _("Not stated")
    if dimension == "category":
        return category_names().get(key, key)
    if dimension == "party":
        return _("No party") if key == NO_PARTY else parties.get(key, key)
    if dimension == "month":
        return str(format_date(date(2000, int(key), 1), "LLLL")).capitalize()
    if dimension == "year":
        note = election_note(int(key))
        return f"{key} – {note}" if note else key
    if dimension == "police":
        return {
            "reported": _("Reported to the police"),
            "not_reported": _("Not reported, or not known"),
        }[key]
    return options.get(dimension, {}).get(key, key)


def number(value: float, digits: int = 1) -> str:
    """A decimal number the Swedish way: "3,5"."""
    pattern = "#,##0" + ("." + "#" * digits if digits else "")
    return str(format_decimal(value, format=pattern))


def percent(share: float) -> str:
    return str(format_percent(share, format="#,##0 %"))
