"""Utlämnande: the security department releases a case with its secret answers masked."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import format_date, to_user_timezone
from werkzeug.wrappers import Response

from service.audit.service import record
from service.errors import InvalidInput
from service.secrecy.grounds import GROUNDS
from service.secrecy.release import (
    RELEASE,
    case_for_release,
    decide,
    decision_for,
    printed,
    release_fields,
)
from service.web.form_view import display_value, option_sources
from service.web.police_views import moment
from service.web.request_context import db, services, user
from service.web.translate import _, login_required

bp = Blueprint("release", __name__)


def full_day(value: datetime | None) -> str:
    """A day with its year, in Stockholm time: a released copy outlives "this year"."""
    if value is None:
        return "–"
    return str(format_date(to_user_timezone(value).date(), "d MMMM y"))


def _grounds() -> list[tuple[str, str]]:
    return [(ref, _(g.subject)) for ref, g in GROUNDS.items()]


@bp.route("/cases/<int:instance_id>/release", methods=["GET", "POST"])
@login_required
def release(instance_id: int) -> str | Response | tuple[str, int]:
    me, session = user(), db()
    instance = case_for_release(session, me, instance_id)
    fields = release_fields(services(), session, instance)
    chosen = {f.key: f.mark or RELEASE for f in fields}
    page = {
        "instance": instance,
        "fields": fields,
        "grounds": _grounds(),
        "release_value": RELEASE,
        "options": option_sources(session),
        "display_value": display_value,
    }
    if request.method == "POST":
        choices = {f.key: request.form.get(f.key, "") for f in fields}
        requester = request.form.get("requester", "")
        try:
            decision = decide(session, me, instance, fields, requester, choices)
        except InvalidInput as exc:
            session.rollback()
            chosen.update({k: v for k, v in choices.items() if v})
            return render_template(
                "release_form.html",
                error=_(exc.message),
                chosen=chosen,
                requester=requester,
                **page,
            ), 400
        return redirect(
            url_for("release.printout", instance_id=instance.id, decision_id=decision.id)
        )
    record(session, me, "case.viewed", instance_id=instance.id, page="release")
    return render_template("release_form.html", error=None, chosen=chosen, requester="", **page)


@bp.route("/cases/<int:instance_id>/releases/<int:decision_id>")
@login_required
def printout(instance_id: int, decision_id: int) -> str:
    me, session = user(), db()
    instance = case_for_release(session, me, instance_id)
    decision = decision_for(session, instance, decision_id)
    fields = release_fields(services(), session, instance)
    record(session, me, "case.release_printed", instance_id=instance.id, decision=decision.id)
    return render_template(
        "release_print.html",
        instance=instance,
        decision=decision,
        tasks=printed(fields, decision),
        grounds={ref: _(g.subject) for ref, g in GROUNDS.items()},
        full_day=full_day,
        labels={(f.task_id, f.name): f"{f.task_name}: {f.label}" for f in fields},
        decided=moment(decision.decided_at),
        options=option_sources(session),
        display_value=display_value,
    )
