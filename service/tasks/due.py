"""Due dates from the BPMN's ISO 8601 durations (dueIn)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


def parse_duration(text: str) -> timedelta | None:
    match = _DURATION.match(text.strip())
    if not match or text.strip() in {"P", "PT"}:
        return None
    parts = {k: int(v) for k, v in match.groupdict().items() if v}
    return timedelta(**parts)


def due_from(start: datetime, due_in: str | None) -> datetime | None:
    if not due_in:
        return None
    delta = parse_duration(due_in)
    return start + delta if delta is not None else None
