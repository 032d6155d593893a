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
    }


def template_globals() -> dict[str, Any]:
    return {"role_names": role_names(), "action_names": action_names(), "now": utcnow()}
