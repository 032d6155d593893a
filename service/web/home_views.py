"""Start pages per role: the official's report button first; others go to their inbox."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_babel import to_user_timezone
from sqlalchemy import select
from werkzeug.wrappers import Response

from service.auth import policy
from service.cases.official_overview import official_overview
from service.cases.yearly import PROCESS_ID as CONVERSATION
from service.db import utcnow
from service.definitions.catalog import latest_definitions
from service.errors import N_, Forbidden
from service.people.models import Organisation, Party, Role, User
from service.web.request_context import db, user
from service.web.translate import login_required

bp = Blueprint("home", __name__)


@bp.route("/")
@login_required
def index() -> str | Response:
    me = user()
    if Role.OFFICIAL in me.roles:
        other_starts = [
            d
            for d in latest_definitions(db())
            if d.process_id != "incident" and policy.can_start_process(me, d)
        ]
        return render_template(
            "home_official.html",
            overview=official_overview(db(), me),
            today=to_user_timezone(utcnow()).date(),
            other_starts=other_starts,
            conversation_startable=any(d.process_id == CONVERSATION for d in other_starts),
        )
    if me.has_role(Role.PARTY_OFFICE, Role.SECURITY, Role.SECURITY_LEAD, Role.TIB, Role.COMMITTEE):
        return redirect(url_for("tasks.inbox"))
    if Role.DESIGNER in me.roles:
        return redirect(url_for("designer.processes"))
    if Role.ADMIN in me.roles:
        return redirect(url_for("home.administration"))
    return render_template("no_role.html")


@bp.route("/administration")
@login_required
def administration() -> str:
    if Role.ADMIN not in user().roles:
        raise Forbidden(N_("This page is for administrators."))
    session = db()
    return render_template(
        "administration.html",
        users=list(session.scalars(select(User).order_by(User.username))),
        parties=list(session.scalars(select(Party).order_by(Party.name))),
        organisations=list(session.scalars(select(Organisation).order_by(Organisation.name))),
    )
