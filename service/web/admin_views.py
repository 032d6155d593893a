"""Administration of background jobs: the ones that keep failing, and a retry button."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from sqlalchemy import ColumnElement, and_, case, or_, select
from werkzeug.wrappers import Response

from service.audit.service import record
from service.db import utcnow
from service.errors import N_, Conflict, Forbidden, NotFound
from service.jobs.models import Job, JobStatus
from service.jobs.queue import retry, wake_workers
from service.people.models import Role, User
from service.web.request_context import db, user
from service.web.translate import _, login_required

bp = Blueprint("admin", __name__)

LIST_LIMIT = 500


def _admin() -> User:
    me = user()
    if Role.ADMIN not in me.roles:
        raise Forbidden(N_("This page is for administrators."))
    return me


def _troubled() -> ColumnElement[bool]:
    """Dead jobs, and queued ones that have failed at least once."""
    return or_(
        Job.status == JobStatus.DEAD.value,
        and_(Job.status == JobStatus.QUEUED.value, Job.attempts > 0),
    )


@bp.route("/administration/jobs")
@login_required
def jobs() -> str:
    _admin()
    dead_first = case((Job.status == JobStatus.DEAD.value, 0), else_=1)
    rows = list(
        db().scalars(
            select(Job)
            .where(_troubled())
            .order_by(dead_first, Job.created_at.desc(), Job.id.desc())
            .limit(LIST_LIMIT)
        )
    )
    return render_template("admin_jobs.html", jobs=rows, limit=LIST_LIMIT)


@bp.route("/administration/jobs/<int:job_id>/retry", methods=["POST"])
@login_required
def retry_job(job_id: int) -> Response:
    me = _admin()
    session = db()
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(N_("The job does not exist."))
    if job.status == JobStatus.DONE.value:
        raise Conflict(N_("The job has already been done."))
    retry(job, utcnow())
    wake_workers(session)
    record(session, me, "job.retried", job=job.id)
    flash(_("The job is queued again and will run shortly."), "success")
    return redirect(url_for("admin.jobs"))
