"""Dates and times as the interface shows them: Swedish words, Stockholm time, English on request."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

from flask import Flask, session

from service.clock import OffsetClock
from service.web.dates import day, when
from tests.test_incident_routine import report_incident
from tests.web_client import Browser

NOW = datetime(2027, 3, 10, 12, 0, tzinfo=UTC)  # 13:00 in Stockholm (winter time)


@contextmanager
def language(app: Flask, lang: str) -> Iterator[None]:
    with app.test_request_context("/"):
        session["lang"] = lang
        yield


def at_now(clock: OffsetClock) -> None:
    clock.advance(NOW - clock.now())


def test_moments_in_swedish_and_stockholm_time(app: Flask, clock: OffsetClock) -> None:
    at_now(clock)
    with language(app, "sv"):
        assert when(NOW) == "i dag kl. 13:00"
        assert when(NOW - timedelta(days=1)) == "i går kl. 13:00"
        assert when(NOW + timedelta(days=1)) == "i morgon kl. 13:00"
        # 23:30 UTC on 9 March is already 00:30 on 10 March in Stockholm: "today".
        assert when(datetime(2027, 3, 9, 23, 30, tzinfo=UTC)) == "i dag kl. 00:30"
        assert when(datetime(2027, 5, 4, 8, 15, tzinfo=UTC)) == "4 maj kl. 10:15"  # summer time
        assert when(datetime(2026, 12, 24, 14, 0, tzinfo=UTC)) == "24 december 2026 kl. 15:00"
        assert when(datetime(2027, 5, 4, 8, 15, tzinfo=UTC), weekday=True) == (
            "tisdag 4 maj kl. 10:15"
        )
        # Naive values from the database are UTC.
        assert when(datetime(2027, 5, 4, 8, 15)) == "4 maj kl. 10:15"
        assert when(None) == "–"


def test_moments_in_english(app: Flask, clock: OffsetClock) -> None:
    at_now(clock)
    with language(app, "en"):
        assert when(NOW) == "today at 13:00"
        assert when(datetime(2026, 12, 24, 14, 0, tzinfo=UTC)) == "24 December 2026 at 15:00"
        assert day("2027-06-06", weekday=True) == "Sunday 6 June"


def test_calendar_days_from_dates_and_form_answers(app: Flask, clock: OffsetClock) -> None:
    at_now(clock)
    with language(app, "sv"):
        assert day(date(2027, 6, 6)) == "6 juni"
        assert day("2026-11-26") == "26 november 2026"
        assert day("2027-06-06", weekday=True) == "söndag 6 juni"
        assert day(datetime(2027, 3, 9, 23, 30, tzinfo=UTC)) == "10 mars"
        assert day("i morgon") == "i morgon", "text that is no date is shown as written"
        assert day("") == "–" and day(None) == "–"


def test_pages_show_no_machine_dates(browser: Callable[[str | None], Browser]) -> None:
    anna = browser("anna")
    case_id = report_incident(anna, occurred_on="2025-11-26")
    page = browser("sakerhet").text(f"/cases/{case_id}")
    assert "26 november 2025" in page, "a date answer is shown in words"
    assert "2025-11-26" not in page
    assert "i dag kl." in page
    for url in ("/", f"/cases/{case_id}"):
        text = anna.text(url)
        assert not re.search(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d", text), url
