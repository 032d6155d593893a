"""The inbox and the task page."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from service.audit.service import record
from service.auth import policy
from service.cases.service import FormInvalid, complete_task, load_task_for_work
from service.errors import N_, Forbidden
from service.tasks.models import TaskStatus
from service.tasks.queries import open_tasks_for
from service.web.form_view import form_view, prefill
from service.web.request_context import db, services, user
from service.web.translate import _, login_required

bp = Blueprint("tasks", __name__)


@bp.route("/inbox")
@login_required
def inbox() -> str:
    me = user()
    if not policy.can_see_inbox(me):
        raise Forbidden(N_("You have no inbox."))
    tasks = open_tasks_for(db(), me)
    mine = [t for t in tasks if t.assignee_id == me.id]
    group = [t for t in tasks if t.assignee_id != me.id]
    return render_template("inbox.html", mine=mine, group=group)


@bp.route("/tasks/<int:task_id>", methods=["GET", "POST"])
@login_required
def task(task_id: int) -> str | Response | tuple[str, int]:
    me = user()
    session = db()
    human_task = load_task_for_work(session, me, task_id)
    definition = human_task.instance.definition
    form = (
        services().definitions.form(definition, human_task.form_id) if human_task.form_id else None
    )
    if human_task.status != TaskStatus.OPEN.value:
        return render_template(
            "task_done.html", task=human_task
        ), 409 if request.method == "POST" else 200
    if request.method == "POST":
        try:
            complete_task(services(), session, me, task_id, request.form)
        except FormInvalid as invalid:
            view = form_view(session, form, invalid.values, invalid.errors) if form else None
            return render_template("task.html", task=human_task, view=view), 400
        flash(_("Thank you. The task is done and the case has moved on."), "success")
        return redirect(url_for("cases.detail", instance_id=human_task.instance_id))
    record(
        session, me, "task.viewed", instance_id=human_task.instance_id, human_task_id=human_task.id
    )
    known = services().load_case(human_task.instance).data() if form else {}
    view = form_view(session, form, prefill(form, known)) if form else None
    return render_template("task.html", task=human_task, view=view)
