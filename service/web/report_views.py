"""Reports: the compliance view (the law's evidence) and the incident statistics.

The compliance view and its CSV and PDF are the security department's
(``policy.can_see_compliance``). The statistics are shown to whom
``policy.statistics_scope`` allows, with small counts hidden by
``reports.statistics.disclose`` for everyone but the security department;
the security department may also look at them as others see them, before a
report leaves the department. Every view and every export is audited, with
what it covered and never a value.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, render_template, request, url_for
from sqlalchemy import select

from service.audit.service import record
from service.auth import policy
from service.db import utcnow
from service.definitions.catalog import latest_definition
from service.errors import N_, Forbidden
from service.people.models import Party
from service.reports.compliance import (
    CONVERSATION_MONTHS,
    DUE_SOON_DAYS,
    INTRODUCTION_DAYS,
    ComplianceReport,
    compliance_report,
)
from service.reports.disclosure import Figure
from service.reports.statistics import (
    ShownStatistics,
    ShownTable,
    disclose,
    election_day,
    incident_statistics,
)
from service.web import report_text as text
from service.web.report_pdf import PdfCell, TableDocument, render_table_pdf
from service.web.request_context import db, services, user
from service.web.translate import _, login_required

bp = Blueprint("reports", __name__)

# Characters that make a spreadsheet treat a cell as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _zone() -> ZoneInfo:
    return ZoneInfo(services().settings.timezone)


def csv_response(rows: list[list[str]], filename: str) -> Response:
    """Semicolon-separated UTF-8 with a byte-order mark: what Swedish Excel opens as typed."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    for row in rows:
        writer.writerow(["'" + c if c.startswith(FORMULA_START) else c for c in row])
    response = Response("\ufeff" + out.getvalue(), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- the compliance view ------------------------------------------------------------------


def _require_compliance() -> None:
    if not policy.can_see_compliance(user()):
        raise Forbidden(N_("Only the security department may see the compliance view."))


def _measure_kinds() -> dict[str, str]:
    session = db()
    definition = latest_definition(session, "protective_measure")
    if definition is None:
        return {}
    form = services().definitions.form(definition, "protective_measure_proposal")
    kind = form.field("kind")
    return dict(kind.options) if kind is not None else {}


def _report() -> ComplianceReport:
    _require_compliance()
    return compliance_report(db(), utcnow(), _zone())


def _audit_compliance(action: str, report: ComplianceReport, **details: Any) -> None:
    record(
        db(),
        user(),
        action,
        report="compliance",
        people=[row.person_id for row in report.rows],
        overdue=report.overdue_count,
        **details,
    )


def compliance_rules() -> list[str]:
    """How the view counts, in the reader's words (shown on the page and in the PDF)."""
    return [
        _(
            "The guideline, the personal security training and the first security conversation "
            "are due within %(days)s days of the official's registration.",
            days=INTRODUCTION_DAYS,
        ),
        _(
            "A security conversation is offered the day the security department sends a proposed "
            "time. A declined offer still counts as offered. The next offer is due %(months)s "
            "months after the last one.",
            months=CONVERSATION_MONTHS,
        ),
        _(
            "Training counts as offered when the introduction gives it to the official, or when a "
            "security conversation agrees on it."
        ),
        _(
            "A protective measure is overdue when its review date has passed without a review, or "
            "when one of its tasks is past its due time. An open incident is overdue when one of "
            "its tasks is."
        ),
        _("“Due soon”: due within %(days)s days.", days=DUE_SOON_DAYS),
    ]


@bp.route("/reports/compliance")
@login_required
def compliance() -> str:
    report = _report()
    only_overdue = request.args.get("show") == "overdue"
    kinds = _measure_kinds()
    rows = [
        (row, text.compliance_cells(row, kinds))
        for row in report.rows
        if row.overdue or not only_overdue
    ]
    _audit_compliance("report.viewed", report, format="html")
    return render_template(
        "reports_compliance.html",
        report=report,
        rows=rows,
        headings=text.compliance_headings(),
        overdue_names=text.overdue_names(),
        only_overdue=only_overdue,
        drawn=text.drawn_text(report.drawn_at),
        rules=compliance_rules(),
    )


def _compliance_filename(report: ComplianceReport, suffix: str) -> str:
    local = report.drawn_at.astimezone(_zone())
    return f"uppfoljning-riktlinjen-{local:%Y-%m-%d}.{suffix}"


@bp.route("/reports/compliance.csv")
@login_required
def compliance_csv() -> Response:
    report = _report()
    kinds = _measure_kinds()
    names = text.overdue_names()
    rows: list[list[str]] = [
        [_("Compliance with the guideline: full-time officials")],
        [_("Drawn"), text.drawn_text(report.drawn_at), _("by %(name)s", name=user().display_name)],
        [],
        [
            _("Official"),
            _("Party"),
            _("Assignment"),
            _("Registered"),
            _("Guideline"),
            _("Guideline offered"),
            _("Guideline acknowledged"),
            _("Guideline due by"),
            _("Training"),
            _("Training offered"),
            _("Training completed"),
            _("Training due by"),
            _("Conversation last offered"),
            _("Answer to the last offer"),
            _("Conversation last held"),
            _("Next offer due by"),
            _("Conversation under way"),
            _("Protective measures"),
            _("Open incidents"),
            _("Overdue items"),
        ],
    ]
    for row in report.rows:
        conversation = row.conversation
        last = conversation.last_offer
        training_due = row.training.answer_due or row.training.due
        rows.append(
            [
                row.name,
                row.party or "",
                row.assignment or "",
                text.iso_day(row.registered_on),
                text.guideline_state(row.guideline),
                text.iso_day(row.guideline.offered_on),
                text.iso_day(row.guideline.acknowledged_on),
                text.iso_day(row.guideline.due),
                text.training_state(row.training),
                text.iso_day(row.training.offered_on),
                text.iso_day(row.training.completed_on),
                text.iso_day(training_due),
                text.iso_day(last.offered_on if last else None),
                text.answer_text(last.answer) if last else _("Never offered"),
                text.iso_day(conversation.last_held_on),
                text.iso_day(conversation.next_due),
                text.under_way_text(conversation),
                " | ".join(text.measure_text(m, kinds) for m in row.measures),
                str(len(row.incidents.open_case_ids)),
                ", ".join(names[item] for item in row.overdue_items) or _("No"),
            ]
        )
    _audit_compliance("report.exported", report, format="csv")
    return csv_response(rows, _compliance_filename(report, "csv"))


@bp.route("/reports/compliance.pdf")
@login_required
def compliance_pdf() -> Response:
    report = _report()
    kinds = _measure_kinds()
    overdue_word = _("OVERDUE")
    rows = []
    for row in report.rows:
        cells = []
        for index, cell in enumerate(text.compliance_cells(row, kinds)):
            body = "\n".join(cell.lines)
            if cell.overdue:
                body = f"{overdue_word}: {body}"
            elif cell.due_soon:
                body = f"{_('Due soon')}: {body}"
            cells.append(PdfCell(body, emphasis=cell.overdue or index == 0))
        rows.append(cells)
    summary = _(
        "%(count)s full-time officials, %(overdue)s with overdue items.",
        count=len(report.rows),
        overdue=report.overdue_count,
    )
    document = TableDocument(
        title=_("Compliance with the guideline: full-time officials"),
        subtitle=_(
            "Drawn %(when)s by %(name)s.",
            when=text.drawn_text(report.drawn_at),
            name=user().display_name,
        )
        + " "
        + summary,
        headings=list(text.compliance_headings()),
        rows=rows,
        col_widths=[14, 14, 14, 16, 14, 17, 11],
        notes_heading=_("How the view counts"),
        notes=compliance_rules(),
        footer=_("Personal data about the city's officials. Keep it protected."),
        page_label=_("Page %(page)s of %(pages)s", page="{page}", pages="{pages}"),
    )
    _audit_compliance("report.exported", report, format="pdf")
    response = Response(render_table_pdf(document), mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{_compliance_filename(report, "pdf")}"'
    )
    return response


# --- statistics -------------------------------------------------------------------------


@dataclass(frozen=True)
class StatisticsRequest:
    scope: policy.StatisticsScope
    year: int
    exact: bool  # shown as the security department sees them
    years: list[int]


def _statistics_request(now: datetime) -> StatisticsRequest:
    scope = policy.statistics_scope(user())
    if scope is None:
        raise Forbidden(
            N_(
                "The statistics are for the security department, the party offices and the "
                "administrations' security contacts."
            )
        )
    this_year = now.astimezone(_zone()).year
    asked = request.args.get("year", "")
    year = int(asked) if asked.isdigit() and 1990 <= int(asked) <= this_year + 1 else this_year
    # Only the security department may see exact counts, and it may choose not to.
    exact = scope.exact and request.args.get("disclosure") != "protected"
    return StatisticsRequest(scope, year, exact, [])


def _statistics() -> tuple[StatisticsRequest, ShownStatistics]:
    now = utcnow()
    asked = _statistics_request(now)
    stats = incident_statistics(services(), db(), asked.scope, asked.year, now, _zone())
    years = sorted(set(stats.years) | {now.astimezone(_zone()).year}, reverse=True)
    asked = StatisticsRequest(asked.scope, asked.year, asked.exact, years)
    return asked, disclose(stats, asked.exact)


def _labels() -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Row names: the incident report's own option texts, and the parties."""
    session = db()
    options: dict[str, dict[str, str]] = {}
    definition = latest_definition(session, "incident")
    if definition is not None:
        form = services().definitions.form(definition, "incident_report")
        for name in ("kind", "channel", "event_type"):
            found = form.field(name)
            if found is not None:
                options[name] = dict(found.options)
    parties = {str(p.id): p.name for p in session.scalars(select(Party))}
    return options, parties


def figure_text(figure: Figure | None) -> str:
    """A count as it may be shown: the number, "<3" when small, "dold" when hidden to protect one."""
    if figure is None:
        return ""
    if figure.value is not None:
        return str(figure.value)
    return "<3" if figure.small else _("hidden")


def share_text(shown: ShownStatistics) -> str:
    year = shown.year
    if year.police_share is not None:
        return text.percent(year.police_share)
    return "–" if year.total.value == 0 else _("hidden")


@dataclass(frozen=True)
class ChartRow:
    label: str
    figure: Figure
    width: float  # 0..100: share of the longest bar
    marked: bool = False  # an election year, or an election month


@dataclass(frozen=True)
class Chart:
    dimension: str
    title: str
    rows: list[ChartRow]
    total: Figure | None


def _chart(
    table: ShownTable,
    year: int,
    options: dict[str, dict[str, str]],
    parties: dict[str, str],
) -> Chart:
    largest = max([f.value or 0 for _k, f in table.rows] + [1])
    election = election_day(year)
    rows = []
    for key, figure in table.rows:
        marked = (table.dimension == "year" and election_day(int(key)) is not None) or (
            table.dimension == "month" and election is not None and int(key) == election.month
        )
        label = text.row_label(table.dimension, key, options, parties)
        if table.dimension == "month" and marked and election is not None:
            label = f"{label} – " + _("election %(day)s", day=text.long_day(election))
        rows.append(ChartRow(label, figure, 100 * (figure.value or 0) / largest, marked))
    return Chart(table.dimension, text.dimension_titles()[table.dimension], rows, table.total)


def _audit_statistics(action: str, asked: StatisticsRequest, fmt: str) -> None:
    record(
        db(),
        user(),
        action,
        report="statistics",
        format=fmt,
        year=asked.year,
        exact=asked.exact,
        party=asked.scope.party_id,
    )


def _scope_name(scope: policy.StatisticsScope) -> str:
    if scope.party_id is None:
        return _("The whole city")
    party = db().get(Party, scope.party_id)
    return party.name if party is not None else str(scope.party_id)


def suppression_rules() -> list[str]:
    return [
        _("A count of 1 or 2 is shown as “<3” (fewer than 3): it could point at a person."),
        _(
            "So that it cannot be worked out from the total, another count in the same table is "
            "hidden too (“hidden”): the smallest one that makes it impossible."
        ),
        _(
            "If even that is not enough, the year's total is hidden in every table. Medians "
            "measured on fewer than 3 incidents are hidden."
        ),
    ]


@bp.route("/reports/statistics")
@login_required
def statistics() -> str:
    asked, shown = _statistics()
    options, parties = _labels()
    charts = [_chart(t, asked.year, options, parties) for t in shown.year.tables]
    police = _chart(shown.year.police, asked.year, options, parties)
    by_year = _chart(shown.by_year, asked.year, options, parties)
    _audit_statistics("report.viewed", asked, "html")
    return render_template(
        "reports_statistics.html",
        asked=asked,
        shown=shown,
        charts=charts,
        police=police,
        by_year=by_year,
        scope_name=_scope_name(asked.scope),
        election=text.election_note(asked.year),
        drawn=text.drawn_text(shown.drawn_at),
        figure_text=figure_text,
        share=share_text(shown),
        number=text.number,
        percent=text.percent,
        rules=suppression_rules(),
    )


@bp.route("/reports/statistics.csv")
@login_required
def statistics_csv() -> Response:
    asked, shown = _statistics()
    options, parties = _labels()
    year = shown.year
    rows: list[list[str]] = [
        [_("Incident statistics %(year)s", year=asked.year), _scope_name(asked.scope)],
        [_("Drawn"), text.drawn_text(shown.drawn_at)],
        [
            _("Counts"),
            _("exact (the security department)")
            if asked.exact
            else _("counts under 3 shown as <3; see the rules below"),
        ],
    ]
    election = text.election_note(asked.year)
    if election:
        rows.append([_("Election year"), election])
    rows += [[], [_("Table"), _("Row"), _("Count")]]
    rows.append([_("Key figures"), _("Incidents"), figure_text(year.total)])
    rows.append([_("Key figures"), _("Officials affected"), figure_text(year.officials)])
    rows.append([_("Key figures"), _("Share reported to the police"), share_text(shown)])
    for label, timing in (
        (_("Median days from report to first contact"), year.first_contact_days),
        (_("Median hours from report to assessment"), year.assessment_hours),
    ):
        value = text.number(timing.median) if timing.median is not None else ""
        rows.append([_("Key figures"), label, value])
        rows.append([_("Key figures"), _("measured in incidents"), figure_text(timing.measured)])
    for table in (*year.tables, year.police, shown.by_year):
        chart = _chart(table, asked.year, options, parties)
        for row in chart.rows:
            rows.append([chart.title, row.label, figure_text(row.figure)])
        if chart.total is not None:
            rows.append([chart.title, _("Total"), figure_text(chart.total)])
    if not asked.exact:
        rows.append([])
        rows += [[_("Rule"), rule] for rule in suppression_rules()]
    _audit_statistics("report.exported", asked, "csv")
    local = shown.drawn_at.astimezone(_zone())
    return csv_response(rows, f"statistik-handelser-{asked.year}-{local:%Y-%m-%d}.csv")


def report_links() -> list[tuple[str, str]]:
    """The reports the signed-in user may open, for the main menu: (address, name)."""
    me = user()
    links = []
    if policy.can_see_compliance(me):
        links.append((url_for("reports.compliance"), _("Compliance")))
    if policy.statistics_scope(me) is not None:
        links.append((url_for("reports.statistics"), _("Statistics")))
    return links


@bp.app_context_processor
def _globals() -> dict[str, Any]:
    return {"report_links": report_links}
