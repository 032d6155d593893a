"""Underlag för polisanmälan: a printable page and a PDF with what the police need.

Both render the same sections (built here from service.cases.police_summary),
so the page and the PDF never disagree. Every export is audited with its
format; no answer is ever logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import Blueprint, Response, render_template, url_for
from flask_babel import format_date, format_datetime

from service.audit.service import record
from service.auth import policy
from service.casenotes.models import Attachment
from service.cases import queries
from service.cases.models import ProcessInstance
from service.cases.police_summary import Answer, PoliceSummary, gather
from service.db import utcnow
from service.errors import N_, Forbidden, NotFound
from service.people.models import Category, Person
from service.web.form_view import display_value, option_sources
from service.web.police_pdf import PdfDocument, render_pdf
from service.web.request_context import db, services, user
from service.web.translate import _, login_required

bp = Blueprint("police", __name__)


@dataclass(frozen=True)
class Row:
    label: str
    text: str
    long: bool = False  # free text: keep its line breaks


@dataclass(frozen=True)
class Section:
    heading: str
    rows: tuple[Row, ...]


def _category(person: Person) -> str:
    return {
        Category.FULL_TIME.value: _("Full-time official"),
        Category.LEISURE.value: _("Leisure politician"),
        Category.POLITICAL_STAFF.value: _("Political staff"),
    }.get(person.category, person.category)


def _is_elected(person: Person | None) -> bool:
    return person is None or person.category != Category.POLITICAL_STAFF.value


def full_day(value: str) -> str:
    """A calendar day with its year, always: a document outlives "this year"."""
    try:
        return str(format_date(date.fromisoformat(value), "d MMMM y"))
    except ValueError:
        return value  # not a date after all: show what was written


def moment(value: datetime) -> str:
    """A moment in Stockholm time, absolute ("27 november 2026 14:30"), for a printed page."""
    return str(format_datetime(value, "d MMMM y HH:mm"))


class _Reader:
    """Turns the summary's answers into the text a reader sees (labels, Ja/Nej, dates)."""

    def __init__(self, summary: PoliceSummary) -> None:
        self.summary = summary
        self.options = option_sources(db())

    def answer(self, name: str) -> Answer | None:
        return self.summary.get(name)

    def text(self, name: str) -> str | None:
        found = self.answer(name)
        if found is None:
            return None
        definition = found.form.field(name)
        if definition is not None and definition.format == "date":
            return full_day(str(found.value))
        return display_value(found.form, name, found.value, self.options)

    def row(self, label: str, name: str, *, long: bool = False, missing: str | None = None) -> Row:
        shown = self.text(name)
        return Row(label, shown if shown is not None else (missing or _("Not stated")), long)


def _kinds(reader: _Reader) -> str:
    """The kind of incident and any other kinds that happened at the same time."""
    kind = reader.answer("kind")
    more = reader.answer("additional_kinds")
    texts = [display_value(kind.form, "kind", kind.value, reader.options)] if kind else []
    if more is not None and isinstance(more.value, list):
        extra = [v for v in more.value if kind is None or v != kind.value]
        if extra:
            texts.append(display_value(more.form, "additional_kinds", extra, reader.options))
    return ", ".join(texts) if texts else _("Not stated")


def _attachment_text(attachment: Attachment) -> str:
    size_kb = max(1, round(attachment.size / 1024))
    parts = [
        attachment.media_type,
        _("%(size)s kB", size=size_kb),
        _("added %(when)s", when=moment(attachment.created_at)),
        f"SHA-256 {attachment.sha256}",
    ]
    text = ", ".join(parts)
    return f"{attachment.description}\n{text}" if attachment.description else text


def protection_request(summary: PoliceSummary, subject: Person | None) -> list[str]:
    """The injured party's request for access protection and secrecy, as paragraphs."""
    who = (
        _("The injured party is an elected official.")
        if _is_elected(subject)
        else _("The injured party is a political staff member.")
    )
    paragraphs = [who]
    tied = summary.get("tied_to_assignment")
    if tied is not None and tied.value == "yes":
        paragraphs.append(_("The offence is connected to the political assignment."))
        if _is_elected(subject):
            paragraphs.append(
                _(
                    "An offence against someone because of their elected office is an "
                    "aggravating circumstance (chapter 29, section 2 of the Swedish Penal Code)."
                )
            )
    elif tied is not None and tied.value == "unsure":
        paragraphs.append(_("The offence may be connected to the political assignment."))
    paragraphs.append(
        _(
            "The injured party requests that the report be access-protected, and that their "
            "personal data (home address, telephone numbers and other contact details) be kept "
            "secret and not disclosed to the suspect or to anyone else."
        )
    )
    paragraphs.append(
        _(
            "Contact the injured party by work telephone or through the city's security "
            "department, not at home."
        )
    )
    return paragraphs


def summary_sections(summary: PoliceSummary, subject: Person | None) -> list[Section]:
    reader = _Reader(summary)
    party = subject.party.name if subject is not None and subject.party else None
    assignment = subject.assignment if subject is not None else None
    person = [
        Row(_("Name"), subject.full_name if subject is not None else _("Not stated")),
        Row(
            _("Assignment"),
            " – ".join(
                t for t in (assignment, _category(subject) if subject is not None else None) if t
            )
            or _("Not stated"),
        ),
        Row(_("Party"), party or _("Not stated")),
        Row(
            _("Case number in Trygg i uppdraget"),
            ", ".join(str(case_id) for case_id in sorted(summary.source_ids))
            or str(summary.instance.id),
        ),
    ]
    happened = [Row(_("Kind of incident"), _kinds(reader))]
    happened.append(reader.row(_("Description"), "description", long=True))
    if reader.answer("harm_occurred") is not None:
        happened.append(reader.row(_("Was anyone harmed?"), "harm_occurred"))
    if reader.answer("sexual_nature") is not None:
        happened.append(reader.row(_("Of a sexual nature?"), "sexual_nature"))
    perpetrator = [
        reader.row(
            _("What is known about the perpetrator"),
            "perpetrator_description",
            long=True,
            missing=reader.text("perpetrator_known"),
        )
    ]
    if reader.answer("perpetrator_count") is not None:
        perpetrator.append(reader.row(_("How many"), "perpetrator_count"))
    evidence = [reader.row(_("Evidence described"), "evidence", long=True)]
    evidence += [
        Row(attachment.original_name, _attachment_text(attachment), long=True)
        for attachment in summary.attachments
    ]
    if not summary.attachments:
        evidence.append(Row(_("Files in the case"), _("No files have been added to the case.")))
    sections = [
        Section(_("The injured party"), tuple(person)),
        Section(_("What happened"), tuple(happened)),
        Section(
            _("When"),
            (
                reader.row(_("Date"), "occurred_on"),
                reader.row(_("Time"), "occurred_time", missing=_("Not known")),
            ),
        ),
        Section(
            _("Where"),
            (
                reader.row(_("Place"), "location"),
                reader.row(_("How it reached the injured party"), "channel"),
            ),
        ),
        Section(
            _("Exact words"),
            (reader.row(_("What was said or written, word for word"), "exact_words", long=True),),
        ),
        Section(_("Perpetrator"), tuple(perpetrator)),
        Section(
            _("Witnesses"),
            (
                reader.row(
                    _("Who saw or heard it"), "witnesses", long=True, missing=_("None known")
                ),
            ),
        ),
        Section(_("Evidence"), tuple(evidence)),
    ]
    if reader.answer("police_case_number") is not None:
        sections.append(
            Section(
                _("Police report"),
                (
                    reader.row(_("Filed on"), "filed_on"),
                    reader.row(_("Police case number"), "police_case_number"),
                    reader.row(_("Police unit"), "police_unit"),
                ),
            )
        )
    return sections


def _load(instance_id: int) -> tuple[ProcessInstance, PoliceSummary]:
    me = user()
    session = db()
    instance = queries.case_for_viewing(session, me, instance_id)
    if not policy.can_export_police_summary(me, instance, session):
        raise Forbidden(
            N_(
                "Only the official concerned, their party office and the security department may "
                "take out the summary for the police."
            )
        )
    summary = gather(services(), session, me, instance)
    if not summary.has_content:
        raise NotFound(
            N_(
                "There is nothing to summarise yet: fill in the details for the police report in "
                "the case first."
            )
        )
    return instance, summary


def _audit(instance: ProcessInstance, summary: PoliceSummary, fmt: str) -> None:
    # Which cases and fields went out, never their values.
    record(
        db(),
        user(),
        "case.exported",
        instance_id=instance.id,
        format=fmt,
        document="police_summary",
        cases=summary.source_ids,
        fields=sorted(summary.answers),
        attachments=[a.id for a in summary.attachments],
    )


def _context(instance: ProcessInstance, summary: PoliceSummary) -> dict[str, Any]:
    return {
        "instance": instance,
        "sections": summary_sections(summary, instance.subject),
        "request_paragraphs": protection_request(summary, instance.subject),
        "prepared": moment(utcnow()),
    }


@bp.route("/cases/<int:instance_id>/police-summary")
@login_required
def page(instance_id: int) -> str:
    instance, summary = _load(instance_id)
    _audit(instance, summary, "html")
    return render_template("police_summary.html", **_context(instance, summary))


@bp.route("/cases/<int:instance_id>/police-summary.pdf")
@login_required
def pdf(instance_id: int) -> Response:
    instance, summary = _load(instance_id)
    _audit(instance, summary, "pdf")
    context = _context(instance, summary)
    document = PdfDocument(
        title=_("Summary for a police report"),
        subtitle=_("Case %(id)s · prepared %(when)s", id=instance.id, when=context["prepared"]),
        request_heading=_("Request for access protection and secrecy"),
        request_paragraphs=context["request_paragraphs"],
        sections=[(s.heading, [(r.label, r.text) for r in s.rows]) for s in context["sections"]],
        footer=_("Sensitive personal data. Keep it protected and share it only with the police."),
        page_label=_("Page %(page)s of %(pages)s", page="{page}", pages="{pages}"),
    )
    response = Response(render_pdf(document), mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'inline; filename="underlag-polisanmalan-{instance.id}.pdf"'
    )
    return response


def summary_link(instance: ProcessInstance) -> str | None:
    """The summary's address for the case page, when this user may take it out and it has data."""
    me = user()
    if instance.process_id not in policy.POLICE_SUMMARY_PROCESSES:
        return None
    session = db()
    if not policy.can_export_police_summary(me, instance, session):
        return None
    if not gather(services(), session, me, instance).has_content:
        return None
    return url_for("police.page", instance_id=instance.id)


@bp.app_context_processor
def _globals() -> dict[str, Any]:
    return {"police_summary_link": summary_link}
