"""Evidence files on a case: checked by content, stored under random names, read through policy."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import PurePosixPath, PureWindowsPath

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.service import record
from service.auth import policy
from service.casenotes import sniff
from service.casenotes.comments import NoteRefused, parse_visibility
from service.casenotes.models import Attachment
from service.casenotes.storage import AttachmentStore
from service.cases.models import ProcessInstance
from service.errors import N_, Forbidden, NotFound
from service.people.models import User

MAX_ATTACHMENT_BYTES = 15 * 1024 * 1024
MAX_DESCRIPTION_LENGTH = 500
MAX_NAME_LENGTH = 150
ALLOWED_KINDS_MESSAGE = N_(
    "Allowed are pictures (PNG, JPEG, GIF, WebP, HEIC), PDF documents, plain text files "
    "and e-mails saved as .eml files."
)

# Letters (å, ä, ö too), digits and a few harmless marks; everything else becomes "_".
_UNSAFE_NAME_CHARS = re.compile(r"[^\w .,()+\-]", re.UNICODE)


def attachments_visible_to(session: Session, user: User, instance_id: int) -> list[Attachment]:
    """The case's attachments this user may see, oldest first; none if they may not see the case.

    One query with the same filters as the case list and the download route,
    so a page, a printed summary and a download never disagree.
    """
    stmt = (
        select(Attachment)
        .join(ProcessInstance, ProcessInstance.id == Attachment.instance_id)
        .where(
            Attachment.instance_id == instance_id,
            policy.visible_cases_filter(user),
            policy.note_visibility_filter(user, Attachment.visibility),
        )
        .order_by(Attachment.id)
    )
    return list(session.scalars(stmt))


def clean_file_name(raw: str | None, kind: sniff.FileKind) -> str:
    """A display and download name from what the browser sent: no path, no control or markup
    characters, and an extension that says what the file really is."""
    name = raw or ""
    # Browsers on Windows have sent whole paths; keep the last part of either kind.
    name = PureWindowsPath(PurePosixPath(name).name).name
    name = unicodedata.normalize("NFC", name)
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE_NAME_CHARS.sub("_", name)
    name = re.sub(r"\s+", " ", name).strip(" .")
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    if f".{extension.lower()}" not in kind.extensions:
        stem = name  # keep what they had and add the true extension
        extension = kind.extensions[0].lstrip(".")
    stem = (stem or "bilaga")[: MAX_NAME_LENGTH - len(extension) - 1].rstrip(" .")
    return f"{stem or 'bilaga'}.{extension}"


def check_content(content: bytes) -> sniff.FileKind:
    if not content:
        raise NoteRefused(N_("The file is empty. Choose the file again."), "file")
    if len(content) > MAX_ATTACHMENT_BYTES:
        raise too_large()
    kind = sniff.detect(content)
    if kind is None:
        raise NoteRefused(
            N_("This kind of file cannot be added. %(allowed)s"),
            "file",
            allowed=ALLOWED_KINDS_MESSAGE,
        )
    return kind


def too_large() -> NoteRefused:
    return NoteRefused(
        N_(
            "The file is larger than %(max)s MB. Make it smaller, for example with a screenshot "
            "instead of the whole photo, or split a long PDF."
        ),
        "file",
        max=MAX_ATTACHMENT_BYTES // (1024 * 1024),
    )


def clean_description(raw: str | None) -> str | None:
    text = " ".join((raw or "").replace("\x00", "").split())
    if len(text) > MAX_DESCRIPTION_LENGTH:
        raise NoteRefused(
            N_("The description may be at most %(max)s characters. Shorten it."),
            "description",
            max=MAX_DESCRIPTION_LENGTH,
        )
    return text or None


def add_attachment(
    session: Session,
    store: AttachmentStore,
    user: User,
    instance: ProcessInstance,
    *,
    file_name: str | None,
    content: bytes,
    visibility: str | None,
    description: str | None,
) -> Attachment:
    """Keep an evidence file and its record, and commit: both exist together or neither does.

    The file is written first (atomically); if the database then refuses the
    row, the file is removed again.
    """
    if not policy.can_comment(user, instance, session):
        raise Forbidden(N_("You may not add files to this case."))
    level = parse_visibility(user, visibility)
    text = clean_description(description)
    kind = check_content(content)
    stored_name = store.save(content)
    try:
        attachment = Attachment(
            instance_id=instance.id,
            uploaded_by_id=user.id,
            visibility=level.value,
            stored_name=stored_name,
            original_name=clean_file_name(file_name, kind),
            media_type=kind.media_type,
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            description=text,
        )
        session.add(attachment)
        session.flush()
        # Ids, type and size only: a file's name can itself say who threatened whom.
        record(
            session,
            user,
            "attachment.added",
            instance_id=instance.id,
            attachment=attachment.id,
            media_type=kind.media_type,
            size=len(content),
            visibility=level.value,
        )
        session.commit()
    except BaseException:
        session.rollback()
        store.remove(stored_name)
        raise
    return attachment


def attachment_for_download(session: Session, user: User, attachment_id: int) -> Attachment:
    """The attachment if this user may have it; 404 otherwise, so its existence is not told."""
    attachment = session.get(Attachment, attachment_id)
    if attachment is None or not policy.can_download_attachment(user, attachment, session):
        raise NotFound(N_("The file does not exist, or you may not see it."))
    return attachment


def record_download(session: Session, user: User, attachment: Attachment) -> None:
    record(
        session,
        user,
        "attachment.downloaded",
        instance_id=attachment.instance_id,
        attachment=attachment.id,
    )
