"""My notifications: the list, following one (the link the e-mails carry) and the unread count."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from service.auth import policy
from service.cases.models import ProcessInstance
from service.db import utcnow
from service.errors import N_, NotFound
from service.notify.messages import headline
from service.notify.models import Notification
from service.people.models import User
from service.tasks.models import HumanTask, TaskStatus
from service.web.request_context import db, user
from service.web.translate import _, login_required

log = logging.getLogger(__name__)

bp = Blueprint("notify", __name__)

LIST_LIMIT = 100


@dataclass(frozen=True)
class NotificationItem:
    note: Notification
    headline: str
    target: str | None  # where following it leads: the task, the case, or nowhere any more
    target_kind: str | None  # "task" | "case"


def _targets(
    session: Session, me: User, notes: list[Notification]
) -> dict[int, tuple[str, str] | None]:
    """Each notification's link, decided by the policy: three queries for the whole list."""
    task_ids = {n.human_task_id for n in notes if n.human_task_id is not None}
    instance_ids = {n.instance_id for n in notes if n.instance_id is not None}
    tasks = (
        {t.id: t for t in session.scalars(select(HumanTask).where(HumanTask.id.in_(task_ids)))}
        if task_ids
        else {}
    )
    viewable = (
        set(
            session.scalars(
                select(ProcessInstance.id).where(
                    ProcessInstance.id.in_(instance_ids), policy.visible_cases_filter(me)
                )
            )
        )
        if instance_ids
        else set()
    )
    found: dict[int, tuple[str, str] | None] = {}
    for note in notes:
        task = tasks.get(note.human_task_id) if note.human_task_id is not None else None
        if (
            task is not None
            and task.status == TaskStatus.OPEN.value
            and policy.can_work_task(me, task)
        ):
            found[note.id] = ("task", url_for("tasks.task", task_id=task.id))
        elif note.instance_id is not None and note.instance_id in viewable:
            found[note.id] = ("case", url_for("cases.detail", instance_id=note.instance_id))
        else:
            found[note.id] = None
    return found


def _own(session: Session, me: User, notification_id: int) -> Notification:
    note = session.get(Notification, notification_id)
    if note is None or note.user_id != me.id:
        # Someone else's notification does not exist for me.
        raise NotFound(N_("The notification does not exist."))
    return note


@bp.route("/notifications")
@login_required
def index() -> str:
    me = user()
    session = db()
    notes = list(
        session.scalars(
            select(Notification)
            .where(Notification.user_id == me.id)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(LIST_LIMIT)
        )
    )
    targets = _targets(session, me, notes)
    items = []
    for note in notes:
        target = targets[note.id]
        items.append(
            NotificationItem(
                note=note,
                headline=_(headline(note.topic)),
                target=target[1] if target else None,
                target_kind=target[0] if target else None,
            )
        )
    return render_template(
        "notifications.html",
        items=items,
        unread=sum(1 for n in notes if n.read_at is None),
        limit=LIST_LIMIT,
    )


@bp.route("/notifications/<int:notification_id>")
@login_required
def follow(notification_id: int) -> Response:
    """Mark it read and go where it points (the link in the e-mail)."""
    me = user()
    session = db()
    note = _own(session, me, notification_id)
    if note.read_at is None:
        note.read_at = utcnow()
    target = _targets(session, me, [note])[note.id]
    if target is None:
        flash(_("What this notification was about is no longer yours to open."), "info")
        return redirect(url_for("notify.index"))
    return redirect(target[1])


@bp.route("/notifications/read-all", methods=["POST"])
@login_required
def read_all() -> Response:
    me = user()
    db().execute(
        update(Notification)
        .where(Notification.user_id == me.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    flash(_("All notifications are marked as read."), "success")
    return redirect(url_for("notify.index"))


def unread_count(session: Session, user_id: int) -> int:
    """One COUNT on the (user_id, read_at) index."""
    return int(
        session.scalar(
            select(func.count(Notification.id)).where(
                Notification.user_id == user_id, Notification.read_at.is_(None)
            )
        )
        or 0
    )


@bp.app_context_processor
def unread_notifications() -> dict[str, Any]:
    """The header's unread count, counted only when a page's header asks for it."""

    def count() -> int | None:
        if not current_user.is_authenticated:
            return None
        try:
            return unread_count(db(), int(current_user.get_id()))
        except OperationalError:
            # The database is away: the page (perhaps the error page saying so) still renders.
            log.warning("unread notification count unavailable")
            return None

    return {"unread_notification_count": count}
