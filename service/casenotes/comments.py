"""Comments on a case: written for one visibility level, read through the policy's filter."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.service import record
from service.auth import policy
from service.casenotes.models import CaseComment, NoteVisibility
from service.cases.models import ProcessInstance
from service.errors import N_, Forbidden, InvalidInput
from service.people.models import User

MAX_COMMENT_LENGTH = 5000


class NoteRefused(InvalidInput):
    """A comment or file the service will not keep; ``values`` fill the message's placeholders."""

    def __init__(self, message: str, field: str, **values: object) -> None:
        super().__init__(message)
        self.field = field
        self.values = values


def parse_visibility(user: User, raw: str | None) -> NoteVisibility:
    """The level the author chose, if it is one the policy lets them write."""
    allowed = policy.visible_note_levels(user)
    for level in allowed:
        if raw == level.value:
            return level
    raise NoteRefused(N_("Choose who may read it."), "visibility")


def clean_body(raw: str | None) -> str:
    body = (raw or "").replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").strip()
    if not body:
        raise NoteRefused(N_("Write something before you send the comment."), "body")
    if len(body) > MAX_COMMENT_LENGTH:
        raise NoteRefused(
            N_(
                "The comment is %(length)s characters long; at most %(max)s are allowed. "
                "Shorten it or split it into two comments."
            ),
            "body",
            length=len(body),
            max=MAX_COMMENT_LENGTH,
        )
    return body


def add_comment(
    session: Session,
    user: User,
    instance: ProcessInstance,
    body: str | None,
    visibility: str | None,
) -> CaseComment:
    """Keep a comment and audit it (its id and level: the text stays out of the trail)."""
    if not policy.can_comment(user, instance, session):
        raise Forbidden(N_("You may not comment on this case."))
    level = parse_visibility(user, visibility)
    comment = CaseComment(
        instance_id=instance.id, author_id=user.id, visibility=level.value, body=clean_body(body)
    )
    session.add(comment)
    session.flush()
    record(
        session,
        user,
        "comment.added",
        instance_id=instance.id,
        comment=comment.id,
        visibility=level.value,
    )
    return comment


def comments_visible_to(session: Session, user: User, instance_id: int) -> list[CaseComment]:
    """The case's comments this user may read, oldest first (none if they may not see the case)."""
    stmt = (
        select(CaseComment)
        .join(ProcessInstance, ProcessInstance.id == CaseComment.instance_id)
        .where(
            CaseComment.instance_id == instance_id,
            policy.visible_cases_filter(user),
            policy.note_visibility_filter(user, CaseComment.visibility),
        )
        .order_by(CaseComment.id)
    )
    return list(session.scalars(stmt))
