"""The inbox, the task page, and who has a task: claim, give back, reassign."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from service.audit.service import record
from service.auth import policy
from service.cases.service import FormInvalid, complete_task, load_task_for_work
from service.db import utcnow
from service.errors import N_, Forbidden, InvalidInput
from service.people.models import Party, Role
from service.tasks import claims
from service.tasks.claims import TAKEN_BY, TaskTaken
from service.tasks.models import HumanTask, Priority, TaskStatus
from service.tasks.queries import (
    COUNT_CAP,
    LIST_LIMIT,
    InboxQuery,
    Show,
    Sort,
    inbox_parties,
    inbox_processes,
)
from service.tasks.queries import (
    inbox as read_inbox,
)
from service.web.form_view import form_view, prefill
from service.web.request_context import db, services, user
from service.web.translate import _, login_required

bp = Blueprint("tasks", __name__)


def priority_names() -> dict[int, str]:
    return {
        Priority.URGENT.value: _("Urgent"),
        Priority.HIGH.value: _("High"),
        Priority.NORMAL.value: _("Normal"),
    }


def _taken_page(taken: TaskTaken) -> tuple[str, int]:
    """409 naming who has the task: the general handler cannot say who."""
    return render_template(
        "error.html",
        title=_("Someone else has the task"),
        message=_(TAKEN_BY, name=taken.holder),
        status=409,
    ), 409


# -- the inbox -------------------------------------------------------------------


def _choice(args: MultiDict[str, str], name: str, allowed: set[str]) -> tuple[str | None, bool]:
    """The query parameter if it is one of ``allowed``; the bool says it was given but invalid."""
    value = args.get(name, "").strip()
    if not value:
        return None, False
    return (value, False) if value in allowed else (None, True)


def _inbox_query(
    args: MultiDict[str, str], processes: list[tuple[str, str]], party_ids: set[int]
) -> tuple[InboxQuery, bool]:
    """The filters from the URL. Values that are not offered are dropped (and said so)."""
    show, bad_show = _choice(args, "show", {s.value for s in Show})
    process, bad_process = _choice(args, "process", {p for p, _title in processes})
    party, bad_party = _choice(args, "party", {str(p) for p in party_ids})
    sort, bad_sort = _choice(args, "sort", {s.value for s in Sort})
    direction, bad_direction = _choice(args, "dir", {"asc", "desc"})
    query = InboxQuery(
        show=Show(show) if show else Show.OPEN,
        process_id=process,
        party_id=int(party) if party else None,
        overdue=args.get("overdue") == "1",
        sort=Sort(sort) if sort else Sort.DUE,
        descending=direction == "desc",
    )
    return query, any((bad_show, bad_process, bad_party, bad_sort, bad_direction))


def _parameters(query: InboxQuery, **changes: Any) -> dict[str, Any]:
    """The URL parameters of ``query`` with ``changes``: defaults left out, for short links."""
    params: dict[str, Any] = {
        "show": query.show.value if query.show is not Show.OPEN else None,
        "process": query.process_id,
        "party": query.party_id,
        "overdue": "1" if query.overdue else None,
        "sort": query.sort.value if query.sort is not Sort.DUE else None,
        "dir": "desc" if query.descending else None,
    }
    params.update(changes)
    return {k: v for k, v in params.items() if v is not None}


def _row_labels() -> dict[str, str]:
    """Words every row repeats, translated once per page rather than once per row."""
    return {
        "task": _("Task"),
        "case": _("Case"),
        "concerns": _("Concerns"),
        "party": _("Party"),
        "created": _("Task created"),
        "due": _("Due"),
        "priority": _("Priority"),
        "holder": _("Who has it"),
        "overdue": _("Overdue"),
        "you": _("You"),
        "nobody": _("Nobody yet"),
        "claim": _("Claim"),
        "give_back": _("Give back"),
        "reassign": _("Reassign"),
        "done": _("Done"),
    }


@bp.route("/inbox")
@login_required
def inbox() -> str:
    me = user()
    if not policy.can_see_inbox(me):
        raise Forbidden(N_("You have no inbox."))
    session = db()
    processes = inbox_processes(session)
    parties = inbox_parties(session, me)
    query, dropped = _inbox_query(request.args, processes, {p.id for p in parties})
    if dropped:
        flash(_("A filter had a value that is not on offer, so it was left out."), "info")
    now = utcnow()
    found = read_inbox(session, me, query, now)

    def link(**changes: Any) -> str:
        return url_for("tasks.inbox", **_parameters(query, **changes))

    def sort_link(key: str) -> str:
        # A second click on the sorted column turns the order around.
        descending = query.sort.value == key and not query.descending
        return link(sort=key if key != Sort.DUE.value else None, dir="desc" if descending else None)

    rows = (*found.mine, *found.group)
    return render_template(
        "inbox.html",
        found=found,
        labels=_row_labels(),
        me_id=me.id,
        reassignable={t.id for t in rows if policy.can_reassign_task(me, t)},
        count_cap=COUNT_CAP,
        query=query,
        processes=processes,
        parties=parties,
        # Every party's name (a handful of rows): a task's party may lie outside the filter's offer.
        party_names={p.id: p for p in session.scalars(select(Party))},
        priority_names=priority_names(),
        now=now,
        link=link,
        sort_link=sort_link,
        here=request.full_path.rstrip("?"),
        limit=LIST_LIMIT,
    )


# -- claim and give back ---------------------------------------------------------


def _back(default: str) -> str:
    """Where a claim or unclaim form asked to return: the inbox or a task page, nothing else."""
    target = request.form.get("next", "")
    parts = urlsplit(target)
    local = not parts.scheme and not parts.netloc and target.startswith("/")
    if local and (parts.path == url_for("tasks.inbox") or parts.path.startswith("/tasks/")):
        return target
    return default


@bp.route("/tasks/<int:task_id>/claim", methods=["POST"])
@login_required
def claim(task_id: int) -> Response | tuple[str, int]:
    me = user()
    try:
        took = claims.claim(db(), me, task_id)
    except TaskTaken as taken:
        return _taken_page(taken)
    if took:
        flash(_("The task is yours now. Your group sees that you have it."), "success")
    else:
        flash(_("You already have the task."), "info")
    return redirect(_back(url_for("tasks.task", task_id=task_id)))


@bp.route("/tasks/<int:task_id>/unclaim", methods=["POST"])
@login_required
def unclaim(task_id: int) -> Response | tuple[str, int]:
    me = user()
    try:
        gave_back = claims.unclaim(db(), me, task_id)
    except TaskTaken as taken:
        return _taken_page(taken)
    if gave_back:
        flash(_("The task is back with your group: anyone in it can take it."), "success")
    else:
        flash(_("The task was already with your group."), "info")
    return redirect(_back(url_for("tasks.inbox")))


# -- reassign (the security lead) --------------------------------------------------


@bp.route("/tasks/<int:task_id>/reassign", methods=["GET", "POST"])
@login_required
def reassign(task_id: int) -> str | Response | tuple[str, int]:
    me = user()
    session = db()
    task = claims.task_for_reassigning(session, me, task_id)
    people = claims.eligible_assignees(session, task)
    reasons = {code: _(text) for code, text in claims.REASSIGN_REASONS.items()}
    error = None
    chosen: dict[str, str] = {}
    if request.method == "POST":
        chosen = {
            "to_user": request.form.get("to_user", ""),
            "reason": request.form.get("reason", ""),
        }
        to_user = chosen["to_user"]
        try:
            if not to_user.isdigit():
                raise InvalidInput(N_("Choose whom to give the task to."))
            target = claims.reassign(session, me, task_id, int(to_user), chosen["reason"])
        except InvalidInput as invalid:
            error = _(invalid.message)
        else:
            flash(
                _("%(name)s has the task now and has been notified.", name=target.display_name),
                "success",
            )
            return redirect(url_for("cases.detail", instance_id=task.instance_id))
    page = render_template(
        "task_reassign.html",
        task=task,
        people=people,
        reasons=reasons,
        error=error,
        chosen=chosen,
    )
    return (page, 400) if error else page


# -- the task page -----------------------------------------------------------------


def _task_page(task: HumanTask, view: Any = None, status: int = 200) -> tuple[str, int]:
    me = user()
    return render_template(
        "task.html",
        task=task,
        view=view,
        workable=policy.can_work_task(me, task),
        may_claim=task.assignee_id is None and policy.can_claim_task(me, task),
        may_unclaim=task.assignee_id == me.id and task.role != Role.OFFICIAL.value,
        may_reassign=policy.can_reassign_task(me, task),
        priority_names=priority_names(),
        now=utcnow(),
    ), status


@bp.route("/tasks/<int:task_id>", methods=["GET", "POST"])
@login_required
def task(task_id: int) -> str | Response | tuple[str, int]:
    me = user()
    session = db()
    if request.method == "POST":
        try:
            human_task = load_task_for_work(session, me, task_id)
        except TaskTaken as taken:
            return _taken_page(taken)
    else:
        human_task = claims.load_task_for_viewing(session, me, task_id)
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
            return _task_page(human_task, view, 400)
        except TaskTaken as taken:
            return _taken_page(taken)
        flash(_("Thank you. The task is done and the case has moved on."), "success")
        return redirect(url_for("cases.detail", instance_id=human_task.instance_id))
    record(
        session, me, "task.viewed", instance_id=human_task.instance_id, human_task_id=human_task.id
    )
    if not policy.can_work_task(me, human_task):
        return _task_page(human_task)  # a colleague has it: who, not the form
    known = services().load_case(human_task.instance).data() if form else {}
    view = form_view(session, form, prefill(form, known)) if form else None
    return _task_page(human_task, view)


@bp.app_template_global("may_reassign_task")
def may_reassign_task(task: HumanTask) -> bool:
    """For the case page's waiting tasks: whether to offer "Tilldela om"."""
    return policy.can_reassign_task(user(), task) and task.status == TaskStatus.OPEN.value


@bp.app_template_global("may_see_task")
def may_see_task(task: HumanTask) -> bool:
    """For the case page: whether the reader may see who has the task (their group's)."""
    return policy.can_see_task(user(), task)
