"""Report an incident (start a case), list cases, and the case page."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from service.audit.service import record
from service.auth import policy
from service.cases import queries
from service.cases.service import FormInvalid, needs_subject, start_case, startable_definition
from service.definitions.catalog import latest_definitions
from service.errors import N_, Forbidden, NotFound
from service.people.models import Person, Role
from service.web.casenote_views import case_page_context
from service.web.form_view import form_view
from service.web.request_context import db, services, user
from service.web.translate import login_required

bp = Blueprint("cases", __name__)

REPORT_PROCESS = "incident"


@bp.route("/report")
@login_required
def report() -> str | Response | tuple[str, int]:
    """Rapportera händelse: an official reports for themselves; others choose whom it concerns."""
    return choose(REPORT_PROCESS)


@bp.route("/start")
@login_required
def catalogue() -> str:
    """Everything this user may start, each with its one-line description."""
    me = user()
    definitions = [d for d in latest_definitions(db()) if policy.can_start_process(me, d)]
    if not definitions:
        raise Forbidden(N_("You may not start this process."))
    return render_template("start_catalogue.html", definitions=definitions)


@bp.route("/start/<process_id>", methods=["GET", "POST"])
@login_required
def choose(process_id: str) -> str | Response | tuple[str, int]:
    """Choose whom the case concerns (or, for a committee's own activity, start at once)."""
    me = user()
    definition = startable_definition(db(), me, process_id)
    if not needs_subject(definition):
        return _start_form(process_id, None)
    reporter_roles = (Role.PARTY_OFFICE, Role.SECURITY, Role.SECURITY_LEAD, Role.TIB)
    if me.person_id is not None and not me.has_role(*reporter_roles):
        return redirect(url_for("cases.start", process_id=process_id, person_id=me.person_id))
    query = request.args.get("q", "").strip()[:100]
    stmt = select(Person).where(policy.reportable_persons_filter(me)).order_by(Person.full_name)
    if query:
        stmt = stmt.where(Person.full_name.ilike(f"%{query}%"))
    persons = list(db().scalars(stmt.limit(100)))
    return render_template(
        "choose_person.html", persons=persons, query=query, me=me, definition=definition
    )


@bp.route("/start/<process_id>/<int:person_id>", methods=["GET", "POST"])
@login_required
def start(process_id: str, person_id: int) -> str | Response | tuple[str, int]:
    subject = db().get(Person, person_id)
    if subject is None:
        raise NotFound(N_("The person does not exist."))
    return _start_form(process_id, subject)


def _start_form(process_id: str, subject: Person | None) -> str | Response | tuple[str, int]:
    me = user()
    session = db()
    definition = startable_definition(session, me, process_id)
    if subject is not None and not policy.can_report_for(me, subject, session):
        raise Forbidden(N_("You may not start cases for this person."))
    parsed = services().definitions.parsed(definition)
    form = services().definitions.form(definition, parsed.start_form) if parsed.start_form else None
    page = {"definition": definition, "subject": subject, "instructions": parsed.start_instructions}
    if request.method == "POST":
        try:
            result = start_case(services(), session, me, process_id, subject, request.form)
        except FormInvalid as invalid:
            view = form_view(session, form, invalid.values, invalid.errors) if form else None
            return render_template("start.html", view=view, **page), 400
        return redirect(
            url_for(
                "cases.detail",
                instance_id=result.instance.id,
                reported=1,
                danger=1 if result.danger_ongoing else None,
            )
        )
    view = form_view(session, form) if form else None
    return render_template("start.html", view=view, **page)


@bp.route("/cases")
@login_required
def index() -> str:
    me = user()
    if not policy.can_see_case_list(me):
        raise Forbidden(N_("You are not allowed to see cases."))
    return render_template("cases.html", cases=queries.visible_cases(db(), me))


@bp.route("/cases/<int:instance_id>")
@login_required
def detail(instance_id: int) -> str:
    me = user()
    session = db()
    instance = queries.case_for_viewing(session, me, instance_id)
    record(session, me, "case.viewed", instance_id=instance.id)
    return render_template(
        "case.html",
        **case_page_context(session, me, instance),
        reported=request.args.get("reported") == "1",
        danger=request.args.get("danger") == "1",
    )
