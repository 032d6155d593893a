"""Dates and times as people read them: "i dag kl. 14:30", "5 mars 2026".

Every date and time the interface shows goes through the ``when`` (a moment)
and ``day`` (a calendar day) template filters: in the user's language
(Swedish unless they chose English) and in Stockholm time (Settings.timezone,
which Flask-Babel converts stored UTC moments into). A frightened reader
should not have to decode "2026-03-05T13:30:00+00:00".
"""

from __future__ import annotations

from datetime import date, datetime

from flask import Flask
from flask_babel import format_date, format_datetime, get_locale, to_user_timezone

from service.db import utcnow
from service.web.translate import _


def _language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else "sv"


def _day_pattern(value: date, *, weekday: bool, today: date) -> str:
    pattern = "d MMMM" if value.year == today.year else "d MMMM y"
    return f"EEEE {pattern}" if weekday else pattern


def _time_pattern() -> str:
    return "'at' HH:mm" if _language() == "en" else "'kl.' HH:mm"


def _local_today() -> date:
    return to_user_timezone(utcnow()).date()  # type: ignore[no-any-return]


def when(value: datetime | None, weekday: bool = False) -> str:
    """A moment in Stockholm time: "i dag kl. 14:30", "5 mars kl. 09:00", "3 maj 2025 kl. 10:15"."""
    if value is None:
        return "–"
    local = to_user_timezone(value)
    today = _local_today()
    time_text = str(format_datetime(local, "HH:mm", rebase=False))
    # Only the phrase that applies is translated: this runs for every row of a list.
    offset = (local.date() - today).days
    if offset == 0:
        return str(_("today at %(time)s", time=time_text))
    if offset == -1:
        return str(_("yesterday at %(time)s", time=time_text))
    if offset == 1:
        return str(_("tomorrow at %(time)s", time=time_text))
    pattern = f"{_day_pattern(local.date(), weekday=weekday, today=today)} {_time_pattern()}"
    return str(format_datetime(local, pattern, rebase=False))


def day(value: date | datetime | str | None, weekday: bool = False) -> str:
    """A calendar day: "5 mars", "torsdag 5 mars 2026". Takes ISO date text from form answers too."""
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        try:
            calendar_day = date.fromisoformat(value)
        except ValueError:
            return value  # not a date after all: show what was written
    elif isinstance(value, datetime):
        calendar_day = to_user_timezone(value).date()
    else:
        calendar_day = value
    pattern = _day_pattern(calendar_day, weekday=weekday, today=_local_today())
    return str(format_date(calendar_day, pattern))


def register_date_filters(app: Flask) -> None:
    app.add_template_filter(when, "when")
    app.add_template_filter(day, "day")
