"""Working-time deadlines: office hours, Swedish holidays, closed eves and daylight saving."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

import pytest

from service.workcalendar import STOCKHOLM, WorkCalendar

CALENDAR = WorkCalendar()
OPEN_EVES = WorkCalendar(closed_eves=False)


def local(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=STOCKHOLM)


def test_ordinary_weekday_within_office_hours() -> None:
    tuesday = local(2025, 3, 4, 10)
    assert CALENDAR.is_working_day(tuesday.date())
    assert CALENDAR.is_office_hours(tuesday)
    assert CALENDAR.next_office_start(tuesday) == tuesday
    assert CALENDAR.add_working_hours(tuesday, 2) == local(2025, 3, 4, 12)
    assert CALENDAR.add_working_hours(tuesday, 0.5) == local(2025, 3, 4, 10, 30)
    assert CALENDAR.add_working_days(tuesday, 1) == local(2025, 3, 5, 10)
    assert CALENDAR.holiday_name(tuesday.date()) is None


def test_results_are_utc_whatever_the_input_zone() -> None:
    result = CALENDAR.add_working_hours(datetime(2025, 3, 4, 9, 0, tzinfo=UTC), 1)
    assert result.tzinfo is UTC
    assert result == datetime(2025, 3, 4, 10, 0, tzinfo=UTC)  # 11:00 CET
    assert CALENDAR.next_office_start(local(2025, 3, 4, 10)).tzinfo is UTC


def test_office_hours_include_opening_but_not_closing_time() -> None:
    assert CALENDAR.is_office_hours(local(2025, 3, 4, 8))
    assert not CALENDAR.is_office_hours(local(2025, 3, 4, 7, 59))
    assert not CALENDAR.is_office_hours(local(2025, 3, 4, 17))


def test_after_hours_counts_from_the_next_morning() -> None:
    evening = local(2025, 3, 4, 18, 30)
    assert not CALENDAR.is_office_hours(evening)
    assert CALENDAR.next_office_start(evening) == local(2025, 3, 5, 8)
    assert CALENDAR.next_office_start(local(2025, 3, 5, 6)) == local(2025, 3, 5, 8)
    assert CALENDAR.add_working_hours(evening, 1) == local(2025, 3, 5, 9)
    assert CALENDAR.add_working_days(evening, 1) == local(2025, 3, 6, 8)
    assert CALENDAR.add_working_days(evening, 0) == local(2025, 3, 5, 8)


def test_friday_afternoon_runs_into_monday() -> None:
    friday = local(2025, 3, 7, 16)
    assert CALENDAR.add_working_hours(friday, 4) == local(2025, 3, 10, 11)
    assert CALENDAR.add_working_hours(friday, 1) == local(2025, 3, 7, 17)  # close of business
    assert CALENDAR.add_working_days(friday, 1) == local(2025, 3, 10, 16)
    assert CALENDAR.next_office_start(local(2025, 3, 8, 12)) == local(2025, 3, 10, 8)
    # One hour on Friday and a whole nine-hour Monday end at Monday's closing time.
    assert CALENDAR.add_working_hours(friday, 1 + 9) == local(2025, 3, 10, 17)
    assert CALENDAR.add_working_hours(friday, 1 + 9 + 0.5) == local(2025, 3, 11, 8, 30)


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2025, 4, 18), "Långfredagen"),
        (date(2025, 4, 21), "Annandag påsk"),
        (date(2025, 5, 1), "Första maj"),
        (date(2025, 5, 29), "Kristi himmelsfärdsdag"),
        (date(2025, 6, 6), "Nationaldagen"),
        (date(2025, 6, 21), "Midsommardagen"),
        (date(2025, 12, 25), "Juldagen"),
        (date(2025, 12, 26), "Annandag jul"),
        (date(2026, 1, 1), "Nyårsdagen"),
        (date(2026, 1, 6), "Trettondedag jul"),
    ],
)
def test_public_holidays_are_closed_whatever_the_eves_setting(day: date, name: str) -> None:
    for calendar in (CALENDAR, OPEN_EVES):
        assert not calendar.is_working_day(day)
        assert calendar.holiday_name(day) == name


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2025, 6, 20), "Midsommarafton"),
        (date(2025, 12, 24), "Julafton"),
        (date(2025, 12, 31), "Nyårsafton"),
    ],
)
def test_eves_are_closed_by_default_and_configurable(day: date, name: str) -> None:
    assert not CALENDAR.is_working_day(day)
    assert CALENDAR.holiday_name(day) == name
    assert OPEN_EVES.is_working_day(day)
    assert OPEN_EVES.holiday_name(day) is None


def test_other_eves_and_bridge_days_stay_open() -> None:
    # Maundy Thursday, Walpurgis night and the Friday after Ascension are ordinary days.
    for day in (date(2025, 4, 17), date(2025, 4, 30), date(2025, 5, 30)):
        assert CALENDAR.is_working_day(day)
        assert CALENDAR.holiday_name(day) is None


def test_easter_skips_good_friday_to_easter_monday() -> None:
    maundy_thursday = local(2025, 4, 17, 16)
    assert CALENDAR.add_working_hours(maundy_thursday, 4) == local(2025, 4, 22, 11)
    assert CALENDAR.add_working_days(maundy_thursday, 1) == local(2025, 4, 22, 16)
    assert CALENDAR.next_office_start(local(2025, 4, 18, 10)) == local(2025, 4, 22, 8)


def test_ascension_day() -> None:
    assert CALENDAR.add_working_hours(local(2025, 5, 28, 16), 4) == local(2025, 5, 30, 11)


def test_national_day() -> None:
    assert CALENDAR.add_working_days(local(2025, 6, 5, 9), 1) == local(2025, 6, 9, 9)


def test_midsummer_with_closed_and_open_eve() -> None:
    thursday = local(2025, 6, 19, 16)
    assert CALENDAR.add_working_hours(thursday, 4) == local(2025, 6, 23, 11)
    assert OPEN_EVES.add_working_hours(thursday, 4) == local(2025, 6, 20, 11)


def test_christmas_with_closed_and_open_eve() -> None:
    tuesday = local(2025, 12, 23, 16)
    assert CALENDAR.add_working_hours(tuesday, 4) == local(2025, 12, 29, 11)
    assert OPEN_EVES.add_working_hours(tuesday, 4) == local(2025, 12, 24, 11)
    assert OPEN_EVES.add_working_days(tuesday, 2) == local(2025, 12, 29, 16)


def test_new_years_eve_with_closed_and_open_eve() -> None:
    tuesday = local(2025, 12, 30, 10)
    assert CALENDAR.add_working_days(tuesday, 1) == local(2026, 1, 2, 10)
    assert OPEN_EVES.add_working_days(tuesday, 1) == local(2025, 12, 31, 10)
    assert CALENDAR.add_working_days(tuesday, 3) == local(2026, 1, 7, 10)  # past Epiphany


def test_holiday_names_in_english() -> None:
    assert CALENDAR.holiday_name(date(2025, 12, 25), language="en") == "Christmas Day"
    assert CALENDAR.holiday_name(date(2025, 12, 24), language="en") == "Christmas Eve"
    with pytest.raises(ValueError, match="language"):
        CALENDAR.holiday_name(date(2025, 12, 25), language="de")


def test_spring_forward_week() -> None:
    # Summer time starts 2025-03-30 (Sunday): Friday is UTC+1, Monday UTC+2.
    friday = local(2025, 3, 28, 16)
    assert friday.utcoffset() == timedelta(hours=1)
    monday_11 = CALENDAR.add_working_hours(friday, 4)
    assert monday_11 == datetime(2025, 3, 31, 9, 0, tzinfo=UTC)
    assert monday_11.astimezone(STOCKHOLM).time() == time(11)
    assert CALENDAR.add_working_days(local(2025, 3, 28, 10), 1) == datetime(
        2025, 3, 31, 8, 0, tzinfo=UTC
    )


def test_fall_back_week() -> None:
    # Summer time ends 2025-10-26 (Sunday): Friday is UTC+2, Monday UTC+1.
    friday = local(2025, 10, 24, 16)
    assert CALENDAR.add_working_hours(friday, 4) == datetime(2025, 10, 27, 10, 0, tzinfo=UTC)
    assert CALENDAR.add_working_days(local(2025, 10, 24, 10), 1) == datetime(
        2025, 10, 27, 9, 0, tzinfo=UTC
    )
    assert CALENDAR.next_office_start(datetime(2025, 10, 26, 23, 0, tzinfo=UTC)) == datetime(
        2025, 10, 27, 7, 0, tzinfo=UTC
    )


def test_hours_are_real_hours_on_the_night_the_clocks_change() -> None:
    # A round-the-clock desk loses the 02:00-03:00 hour that does not exist that night.
    always_open = WorkCalendar(
        day_start=time(0, 0), day_end=time(23, 59), workdays=frozenset(range(7))
    )
    midnight = datetime(2025, 3, 29, 23, 0, tzinfo=UTC)  # 2025-03-30 00:00 CET
    assert always_open.add_working_hours(midnight, 3) == local(2025, 3, 30, 4)


@pytest.mark.parametrize(
    "call",
    [
        lambda moment: CALENDAR.is_office_hours(moment),
        lambda moment: CALENDAR.next_office_start(moment),
        lambda moment: CALENDAR.add_working_hours(moment, 1),
        lambda moment: CALENDAR.add_working_days(moment, 1),
    ],
)
def test_naive_datetimes_are_refused(call: Callable[[datetime], object]) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        call(datetime(2025, 3, 4, 10))


@pytest.mark.parametrize("hours", [-1, float("nan"), float("inf")])
def test_impossible_hours_are_refused(hours: float) -> None:
    with pytest.raises(ValueError, match="hours must be"):
        CALENDAR.add_working_hours(local(2025, 3, 4, 10), hours)


def test_negative_days_are_refused() -> None:
    with pytest.raises(ValueError, match="days must be"):
        CALENDAR.add_working_days(local(2025, 3, 4, 10), -1)


def test_constructor_checks_its_fields() -> None:
    with pytest.raises(ValueError, match="before day_end"):
        WorkCalendar(day_start=time(17), day_end=time(8))
    with pytest.raises(ValueError, match="workdays"):
        WorkCalendar(workdays=frozenset())
    with pytest.raises(ValueError, match="workdays"):
        WorkCalendar(workdays=frozenset({7}))


def test_from_env_defaults() -> None:
    assert WorkCalendar.from_env({}) == WorkCalendar()
    blank = {"TRYGG_OFFICE_HOURS": "", "TRYGG_WORKDAYS": " ", "TRYGG_CLOSED_EVES": ""}
    assert WorkCalendar.from_env(blank) == WorkCalendar()


def test_from_env_reads_all_settings() -> None:
    calendar = WorkCalendar.from_env(
        {
            "TRYGG_OFFICE_HOURS": " 7:30 - 16:15 ",
            "TRYGG_WORKDAYS": "0, 1,2,3",
            "TRYGG_CLOSED_EVES": "0",
        }
    )
    assert calendar == WorkCalendar(
        day_start=time(7, 30),
        day_end=time(16, 15),
        workdays=frozenset({0, 1, 2, 3}),
        closed_eves=False,
    )
    assert WorkCalendar.from_env({"TRYGG_CLOSED_EVES": "TRUE"}).closed_eves


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"TRYGG_OFFICE_HOURS": "8-17"}, "TRYGG_OFFICE_HOURS must look like 08:00-17:00"),
        ({"TRYGG_OFFICE_HOURS": "08:00"}, "TRYGG_OFFICE_HOURS must look like 08:00-17:00"),
        ({"TRYGG_OFFICE_HOURS": "08:00-25:00"}, "TRYGG_OFFICE_HOURS has an impossible time"),
        ({"TRYGG_OFFICE_HOURS": "08:75-17:00"}, "TRYGG_OFFICE_HOURS has an impossible time"),
        ({"TRYGG_OFFICE_HOURS": "17:00-08:00"}, "TRYGG_OFFICE_HOURS must start before it ends"),
        ({"TRYGG_WORKDAYS": "mon,tue"}, "TRYGG_WORKDAYS must be comma-separated weekday"),
        ({"TRYGG_WORKDAYS": "0,7"}, "TRYGG_WORKDAYS must be comma-separated weekday"),
        ({"TRYGG_WORKDAYS": "0,,1"}, "TRYGG_WORKDAYS must be comma-separated weekday"),
        ({"TRYGG_CLOSED_EVES": "maybe"}, "TRYGG_CLOSED_EVES must be 1 or 0"),
    ],
)
def test_from_env_rejects_bad_values_clearly(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WorkCalendar.from_env(environ)
