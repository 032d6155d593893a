"""Office hours and Swedish holidays: the one place deadlines in working time are computed.

Holidays come from the maintained ``holidays`` package, never from a hand-typed list, so
Easter-dependent and moving days stay right year after year. Midsummer eve, Christmas Eve
and New Year's Eve are not public holidays in law, but Swedish workplaces close on them;
the package lists them in its DE_FACTO category, and ``closed_eves`` decides whether they
count as closed.

All arithmetic on wall-clock times happens in the office's local zone (Europe/Stockholm),
and durations are measured between UTC instants, so daylight-saving changes neither
shift the opening hours nor stretch or shrink a working hour.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from holidays.constants import DE_FACTO
from holidays.countries.sweden import Sweden

STOCKHOLM = ZoneInfo("Europe/Stockholm")
MONDAY_TO_FRIDAY = frozenset({0, 1, 2, 3, 4})
# The interface speaks Swedish and English; the package calls its English "en_US".
_HOLIDAY_LANGUAGES = {"sv": "sv", "en": "en_US"}
_HOURS_RE = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}
_WEEKDAY_NUMBERS = {str(number) for number in range(7)}


@lru_cache(maxsize=128)
def _closed_days(year: int, closed_eves: bool, language: str) -> dict[date, str]:
    """Holiday names by date for one year; cached because every deadline asks per day."""
    # include_sundays=False: Sundays are weekend days already, and naming each one
    # "Söndag" would make holiday_name useless for display.
    days = dict(Sweden(years=year, include_sundays=False, language=language))
    if closed_eves:
        eves = Sweden(years=year, categories=(DE_FACTO,), language=language)
        for day, name in eves.items():
            days[day] = f"{days[day]}; {name}" if day in days else name
    return days


@dataclass(frozen=True)
class WorkCalendar:
    timezone: ZoneInfo = STOCKHOLM
    day_start: time = time(8, 0)
    day_end: time = time(17, 0)
    workdays: frozenset[int] = MONDAY_TO_FRIDAY  # Monday=0
    closed_eves: bool = True  # midsommarafton, julafton, nyårsafton

    def __post_init__(self) -> None:
        if self.day_start.tzinfo is not None or self.day_end.tzinfo is not None:
            raise ValueError("day_start and day_end are local wall-clock times without tzinfo")
        if self.day_start >= self.day_end:
            raise ValueError(f"day_start {self.day_start} must be before day_end {self.day_end}")
        if not self.workdays or not self.workdays <= set(range(7)):
            raise ValueError("workdays must be a non-empty set of weekday numbers 0-6")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> WorkCalendar:
        """Read TRYGG_OFFICE_HOURS, TRYGG_WORKDAYS and TRYGG_CLOSED_EVES; blank means default."""
        calendar = cls()
        hours = environ.get("TRYGG_OFFICE_HOURS", "").strip()
        day_start, day_end = (
            _parse_hours(hours) if hours else (calendar.day_start, calendar.day_end)
        )
        workdays_text = environ.get("TRYGG_WORKDAYS", "").strip()
        workdays = _parse_workdays(workdays_text) if workdays_text else calendar.workdays
        eves = environ.get("TRYGG_CLOSED_EVES", "").strip().lower()
        if eves and eves not in _TRUE | _FALSE:
            raise ValueError(f"TRYGG_CLOSED_EVES must be 1 or 0, got {eves!r}")
        closed_eves = eves in _TRUE if eves else calendar.closed_eves
        return cls(day_start=day_start, day_end=day_end, workdays=workdays, closed_eves=closed_eves)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.workdays and day not in _closed_days(
            day.year, self.closed_eves, "sv"
        )

    def is_office_hours(self, moment: datetime) -> bool:
        local = self._local(moment)
        return self.is_working_day(local.date()) and self.day_start <= local.time() < self.day_end

    def next_office_start(self, moment: datetime) -> datetime:
        """``moment`` itself (in UTC) if within office hours, else when the office next opens."""
        local = self._local(moment)
        day = local.date()
        if self.is_working_day(day) and local.time() < self.day_end:
            if local.time() >= self.day_start:
                return local.astimezone(UTC)
            return self._at(day, self.day_start)
        return self._at(self._next_working_day(day), self.day_start)

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """Count ``hours`` of office time from ``start``; a deadline may land on closing time."""
        if not math.isfinite(hours) or hours < 0:
            raise ValueError(f"hours must be a finite number >= 0, got {hours}")
        remaining = timedelta(hours=hours)
        cursor = self.next_office_start(start)
        while True:
            closing = self._at(cursor.astimezone(self.timezone).date(), self.day_end)
            if remaining <= closing - cursor:
                return cursor + remaining
            remaining -= closing - cursor
            cursor = self.next_office_start(closing)

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """Same local time of day on the ``days``-th following working day."""
        if days < 0:
            raise ValueError(f"days must be >= 0, got {days}")
        # Counting from the next office start clamps the time of day into office hours.
        begin = self.next_office_start(start).astimezone(self.timezone)
        day = begin.date()
        for _ in range(days):
            day = self._next_working_day(day)
        return self._at(day, begin.time())

    def holiday_name(self, day: date, language: str = "sv") -> str | None:
        """The holiday (or closed eve) that closes ``day``, for display; None otherwise."""
        if language not in _HOLIDAY_LANGUAGES:
            raise ValueError(f"language must be one of {sorted(_HOLIDAY_LANGUAGES)}")
        names = _closed_days(day.year, self.closed_eves, _HOLIDAY_LANGUAGES[language])
        return names.get(day)

    def _local(self, moment: datetime) -> datetime:
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"naive datetime {moment.isoformat()} refused: give a timezone")
        return moment.astimezone(self.timezone)

    def _at(self, day: date, wall: time) -> datetime:
        # Combining with the zone picks the offset valid on that date (CET or CEST).
        return datetime.combine(day, wall, tzinfo=self.timezone).astimezone(UTC)

    def _next_working_day(self, day: date) -> date:
        # Terminates: workdays is non-empty and holidays never cover a weekday for long.
        day += timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day


def _parse_hours(text: str) -> tuple[time, time]:
    match = _HOURS_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"TRYGG_OFFICE_HOURS must look like 08:00-17:00, got {text!r}")
    try:
        start = time(int(match[1]), int(match[2]))
        end = time(int(match[3]), int(match[4]))
    except ValueError as error:
        raise ValueError(
            f"TRYGG_OFFICE_HOURS has an impossible time in {text!r}: {error}"
        ) from None
    if start >= end:
        raise ValueError(f"TRYGG_OFFICE_HOURS must start before it ends, got {text!r}")
    return start, end


def _parse_workdays(text: str) -> frozenset[int]:
    parts = [part.strip() for part in text.split(",")]
    if not all(part in _WEEKDAY_NUMBERS for part in parts):
        raise ValueError(
            f"TRYGG_WORKDAYS must be comma-separated weekday numbers 0-6 (Monday=0), got {text!r}"
        )
    return frozenset(int(part) for part in parts)
