"""How urgent a case's tasks are, decided from what the case knows (one rule, in one place)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.tasks.models import Priority

# Case variables that carry a risk level or an assessed severity: the
# risk_level decision table's answer (risk analyses), the security
# department's assessment of an incident, and the level a linked case
# inherited from the analysis that started it.
LEVEL_VARIABLES = ("risk_level", "severity", "origin_risk_level")
HIGH_LEVELS = frozenset({"high", "very_high"})  # "hög", "mycket hög"


def priority_for(data: Mapping[str, Any]) -> Priority:
    """The priority of every open task of a case with this data.

    - Akut (1): someone reported that the danger is going on now
      (``danger_ongoing`` is true, from the incident report form).
    - Hög (2): a risk level or severity of "high" or "very high"
      (``risk_level``, ``severity`` or ``origin_risk_level``).
    - Normal (3): everything else.

    Time is not part of the priority: a task's due date is its deadline
    timer's firing time (a boundary timer) or else its ``dueIn``; the inbox
    sorts and marks overdue by that on its own, so a near deadline shows as
    "due soon" and a passed one as "Försenad" without changing the priority.
    The rule is applied each time the case moves, so a later assessment
    raises (or lowers) the priority of the tasks still open.
    """
    if data.get("danger_ongoing") is True:
        return Priority.URGENT
    levels = (data.get(name) for name in LEVEL_VARIABLES)
    if any(isinstance(level, str) and level in HIGH_LEVELS for level in levels):
        return Priority.HIGH
    return Priority.NORMAL
