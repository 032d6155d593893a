"""The case page's story (summary and timeline), comments, and evidence files in and out."""

from __future__ import annotations

import logging
import unicodedata
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from flask_babel import format_decimal
from flask_wtf.csrf import CSRFError, validate_csrf
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response as BaseResponse
from wtforms import ValidationError  # type: ignore[import-untyped]

from service.audit.service import record
from service.auth import policy
from service.casenotes import sniff
from service.casenotes.attachments import (
    MAX_ATTACHMENT_BYTES,
    MAX_DESCRIPTION_LENGTH,
    add_attachment,
    attachment_for_download,
    record_download,
    too_large,
)
from service.casenotes.comments import MAX_COMMENT_LENGTH, NoteRefused, add_comment
from service.casenotes.models import NoteVisibility
from service.casenotes.storage import AttachmentStore
from service.casenotes.timeline import build_story, visible_history
from service.cases import queries
from service.cases.models import ProcessInstance
from service.errors import N_, DomainError, Forbidden, NotFound
from service.people.models import User
from service.tasks.queries import tasks_of_case
from service.web.form_view import display_value, option_sources
from service.web.request_context import db, services, user
from service.web.translate import _, login_required

log = logging.getLogger(__name__)

bp = Blueprint("casenotes", __name__)

# The whole upload request: the file plus the form's few small fields.
UPLOAD_REQUEST_LIMIT = MAX_ATTACHMENT_BYTES + 256 * 1024
# Up to this size a refused upload is read to its end so the browser sees the answer.
DRAIN_LIMIT = 2 * UPLOAD_REQUEST_LIMIT


class AttachmentUnavailable(DomainError):
    status = 503


def visibility_labels() -> dict[str, str]:
    return {
        NoteVisibility.CASE.value: _("Everyone in the case"),
        NoteVisibility.SECURITY_AND_PARTY.value: _("The security department and the party office"),
        NoteVisibility.SECURITY.value: _("The security department only"),
    }


def kind_labels() -> dict[str, str]:
    return {kind.media_type: _(kind.label) for kind in sniff.KINDS}


def file_size(size: int) -> str:
    """Bytes as a person reads them ("340 kB", "2,4 MB"), in their language."""
    if size < 1024 * 1024:
        return f"{format_decimal(max(1, round(size / 1024)))} kB"
    return f"{format_decimal(round(size / (1024 * 1024), 1))} MB"


def case_page_context(session: Session, me: User, instance: ProcessInstance) -> dict[str, Any]:
    """Everything case.html shows, filtered for ``me`` (who may already see the case)."""
    tasks = tasks_of_case(session, instance.id)
    forms = {}
    for task in tasks:
        if task.form_id and task.form_id not in forms:
            forms[task.form_id] = services().definitions.form(instance.definition, task.form_id)
    workable = {t.id for t in tasks if t.status == "open" and policy.can_work_task(me, t)}
    levels = policy.visible_note_levels(me)
    story = build_story(services(), session, me, instance, tasks)
    return {
        "instance": instance,
        "tasks": tasks,
        "forms": forms,
        "workable": workable,
        "history": visible_history(
            queries.history(session, instance.id), me, {a.id for a in story.attachments}
        ),
        "links": queries.linked_cases(session, me, instance.id),
        "options": option_sources(session),
        "display_value": display_value,
        "story": story,
        "file_size": file_size,
        "may_comment": policy.can_comment(me, instance, session),
        # Narrowest first: the default choice is the most private one.
        "note_levels": [level.value for level in reversed(levels)],
        "visibility_labels": visibility_labels(),
        "kind_labels": kind_labels(),
        "max_comment_length": MAX_COMMENT_LENGTH,
        "max_description_length": MAX_DESCRIPTION_LENGTH,
        "max_attachment_mb": MAX_ATTACHMENT_BYTES // (1024 * 1024),
        "max_attachment_bytes": MAX_ATTACHMENT_BYTES,
        "too_large_message": _refusal_text(too_large()),
        "accept_types": ",".join(
            [k.media_type for k in sniff.KINDS] + [e for k in sniff.KINDS for e in k.extensions]
        ),
    }


def _case_page_with_error(
    instance: ProcessInstance, status: int, **form_state: Any
) -> tuple[str, int]:
    """The case page again, the refused input kept and the reason beside it."""
    me, session = user(), db()
    # The page shows the case again: that is a read like any other.
    record(session, me, "case.viewed", instance_id=instance.id)
    context = case_page_context(session, me, instance)
    return render_template("case.html", **context, **form_state), status


def _drain_refused_body() -> None:
    """Read and drop a too-large upload that is still arriving, up to a bound.

    A server that answers while the browser is still sending, and then closes,
    shows many browsers a reset connection instead of the page saying why.
    """
    length = request.content_length
    if length is None or length > DRAIN_LIMIT:
        return
    stream = request.environ.get("wsgi.input")
    remaining = length
    while stream is not None and remaining > 0:
        chunk = stream.read(min(64 * 1024, remaining))
        if not chunk:
            return
        remaining -= len(chunk)


def _refusal_text(refused: NoteRefused) -> str:
    values = {k: _(v) if isinstance(v, str) else v for k, v in refused.values.items()}
    return _(refused.message, **values)


@bp.route("/cases/<int:instance_id>/comments", methods=["POST"])
@login_required
def comment(instance_id: int) -> BaseResponse | tuple[str, int]:
    me, session = user(), db()
    instance = queries.case_for_viewing(session, me, instance_id)
    body = request.form.get("body", "")
    visibility = request.form.get("visibility")
    try:
        added = add_comment(session, me, instance, body, visibility)
    except NoteRefused as refused:
        return _case_page_with_error(
            instance,
            400,
            comment_error=_refusal_text(refused),
            comment_error_field=refused.field,
            comment_draft=body,
            comment_visibility=visibility,
        )
    return redirect(url_for("cases.detail", instance_id=instance.id, _anchor=f"comment-{added.id}"))


@bp.route("/cases/<int:instance_id>/attachments", methods=["POST"])
@login_required
def upload(instance_id: int) -> BaseResponse | tuple[str, int]:
    """Add an evidence file. Exempt from the global CSRF hook (it reads the body under the
    app-wide 2 MB limit); the token is checked here, after this route's own limit is set."""
    me, session = user(), db()
    instance = queries.case_for_viewing(session, me, instance_id)
    if not policy.can_comment(me, instance, session):
        raise Forbidden(N_("You may not add files to this case."))
    request.max_content_length = UPLOAD_REQUEST_LIMIT
    try:
        form, files = request.form, request.files
    except RequestEntityTooLarge:
        _drain_refused_body()
        return _case_page_with_error(
            instance, 413, attachment_error=_refusal_text(too_large()), attachment_field="file"
        )
    try:
        validate_csrf(form.get("csrf_token"))
    except ValidationError as exc:
        raise CSRFError(str(exc)) from exc
    upload_file = files.get("file")
    visibility, description = form.get("visibility"), form.get("description", "")
    kept = {"attachment_visibility": visibility, "attachment_description": description}
    if upload_file is None or not upload_file.filename:
        return _case_page_with_error(
            instance,
            400,
            attachment_error=_("Choose a file to add."),
            attachment_field="file",
            **kept,
        )
    content = upload_file.stream.read(MAX_ATTACHMENT_BYTES + 1)
    try:
        added = add_attachment(
            session,
            AttachmentStore(services().settings.attachments_dir),
            me,
            instance,
            file_name=upload_file.filename,
            content=content,
            visibility=visibility,
            description=description,
        )
    except NoteRefused as refused:
        status = 413 if len(content) > MAX_ATTACHMENT_BYTES else 400
        return _case_page_with_error(
            instance,
            status,
            attachment_error=_refusal_text(refused),
            attachment_field=refused.field,
            **kept,
        )
    return redirect(
        url_for("cases.detail", instance_id=instance.id, _anchor=f"attachment-{added.id}")
    )


def download_name(name: str) -> dict[str, str]:
    """Content-Disposition parameters: an ASCII name for old clients, the real one (RFC 6266)."""
    try:
        name.encode("ascii")
    except UnicodeEncodeError:
        simple = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
        return {"filename": simple or "bilaga", "filename*": f"UTF-8''{quote(name, safe='')}"}
    return {"filename": name}


@bp.route("/cases/<int:instance_id>/attachments/<int:attachment_id>")
@login_required
def download(instance_id: int, attachment_id: int) -> Response:
    me, session = user(), db()
    attachment = attachment_for_download(session, me, attachment_id)
    if attachment.instance_id != instance_id:
        raise NotFound(N_("The file does not exist, or you may not see it."))
    store = AttachmentStore(services().settings.attachments_dir)
    content = store.read_verified(attachment.stored_name, attachment.sha256)
    if content is None:
        # Missing or altered on disk: never hand out something other than what was added.
        log.error("attachment %s is missing or does not match its checksum", attachment.id)
        raise AttachmentUnavailable(
            N_(
                "The file cannot be opened right now. It has been reported to the "
                "administrator; try again later."
            )
        )
    record_download(session, me, attachment)
    response = Response(content, mimetype=attachment.media_type)
    response.headers.set(
        "Content-Disposition", "attachment", **download_name(attachment.original_name)
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Opened in the browser anyway, the file may run nothing and reach nothing.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "no-store, private"
    return response


@bp.record_once
def _check_csrf_in_upload_view(state: BlueprintSetupState) -> None:
    csrf = state.app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(upload)
