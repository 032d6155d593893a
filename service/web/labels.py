"""Names the interface shows for roles and audit actions, through the catalog."""

from __future__ import annotations

from typing import Any

from service.db import utcnow
from service.web.translate import _


def role_names() -> dict[str, str]:
    return {
        "official": _("Elected official"),
        "party_office": _("Party office"),
        "security": _("Security department"),
        "security_lead": _("Security lead"),
        "tib": _("Official on standby (TiB)"),
        "committee": _("Administration or company"),
        "designer": _("Process designer"),
        "admin": _("Administrator"),
    }


def action_names() -> dict[str, str]:
    return {
        "case.started": _("Case started"),
        "case.viewed": _("Case viewed"),
        "case.error": _("Stopped by an error in the process"),
        "task.viewed": _("Task opened"),
        "task.completed": _("Task done"),
        "task.claimed": _("Task claimed"),
        "task.unclaimed": _("Task given back to the group"),
        "task.reassigned": _("Task reassigned"),
        "comment.added": _("Comment written"),
        "attachment.added": _("File added"),
        "attachment.downloaded": _("File downloaded"),
        "case.linked": _("A linked case was started"),
        "case.diagram_viewed": _("Process map viewed"),
        "case.exported": _("Case data exported"),
        "case.legal_hold_set": _("Legal hold set"),
        "case.legal_hold_lifted": _("Legal hold lifted"),
        "case.released": _("Release decided (secret answers masked)"),
        "case.release_printed": _("Released copy shown"),
        "case.disposed": _("Case disposed of under its retention rule"),
        "privacy.subject_viewed": _("Personal data looked up"),
        "privacy.subject_access": _("Extract of personal data taken out"),
        "privacy.erased": _("Personal data erased"),
        "records.disposed": _("Records disposed of"),
        "case.migrated": _("Moved to another version of the process"),
        "case.migration_reverted": _("Move to another version undone"),
    }


def template_globals() -> dict[str, Any]:
    return {"role_names": role_names(), "action_names": action_names(), "now": utcnow()}
