"""Incident statistics: the counts, who sees which, small counts hidden, the CSV, election years.

Incidents are reported and worked through the service layer for several
officials of both parties; the figures are read from the report module and
over HTTP as each role sees and exports them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy.orm import Session

from service.auth.policy import StatisticsScope
from service.cases.service import CaseStarter
from service.clock import OffsetClock
from service.context import Services
from service.definitions.catalog import latest_definition
from service.reports.disclosure import THRESHOLD, protect_table
from service.reports.statistics import (
    ShownStatistics,
    Statistics,
    Table,
    Timing,
    YearFigures,
    disclose,
    election_day,
    incident_statistics,
)
from tests import incident_data as answers
from tests.report_world import STOCKHOLM, World, read_csv, visible_text
from tests.web_client import Browser

Make = Callable[[str | None], Browser]
SUPPORT = {**answers.PARTY_SUPPORT, "contacted_on": "2026-12-02"}


def report(world: World, reporter: str, subject: str, **overrides: object) -> int:
    return world.start(reporter, "incident", subject, answers.report(**overrides))


@pytest.fixture
def world(services: Services, session: Session, clock: OffsetClock) -> Iterator[World]:
    """Ten incidents in 2026 (six FP, four GP), one in 2022 and one in 2025.

    FP: Anna (full time) five — three threats, two harassment; four near misses
    and one with harm; Bertil (leisure) one violent incident. GP: David (full
    time) two threats by letter, Cecilia (staff) one, Eva (leisure) one.
    """
    found = World(services, session, clock)
    found.move_to("2026-12-01 10:00")
    anna = [
        report(found, "anna", "Anna Andersson", occurred_on="2026-09-10"),
        report(found, "anna", "Anna Andersson", occurred_on="2026-09-12"),
        report(found, "anna", "Anna Andersson", occurred_on="2026-11-20", channel="email"),
        report(found, "anna", "Anna Andersson", kind="harassment", occurred_on="2026-11-21"),
        report(
            found,
            "anna",
            "Anna Andersson",
            kind="harassment",
            harm_occurred="yes",
            occurred_on="2026-11-22",
        ),
    ]
    report(
        found,
        "bertil",
        "Bertil Berg",
        kind="violence",
        channel="in_person",
        event_type="incident",
        harm_occurred="yes",
        occurred_on="2026-10-01",
    )
    for day in ("2026-03-03", "2026-04-04"):
        report(found, "david", "David Dahl", channel="letter", occurred_on=day)
    report(found, "cecilia", "Cecilia Carlsson", kind="harassment", channel="email")
    report(found, "kansli.gp", "Eva Ek", kind="damage", channel="at_home")
    report(found, "anna", "Anna Andersson", occurred_on="2022-09-01")
    report(found, "david", "David Dahl", occurred_on="2025-05-05")

    # Two hours after the reports: three of Anna's are assessed, two have had
    # the party office's first contact (the next day), one is closed as reported.
    found.move_to("2026-12-01 12:00")
    for case_id in anna[:3]:
        found.complete(case_id, "security_assessment", "sakerhet", {"severity": "low"})
    for case_id in anna[:2]:
        found.complete(case_id, "party_support", "kansli.fp", SUPPORT)
    found.complete(anna[0], "follow_up_close", "sakerhet", answers.CLOSE)
    found.move_to("2026-12-03 09:00")
    yield found


def figures(world: World, scope: StatisticsScope, exact: bool, year: int = 2026) -> ShownStatistics:
    world.session.expire_all()
    stats = incident_statistics(world.services, world.session, scope, year, world.now(), STOCKHOLM)
    return disclose(stats, exact)


def counts(shown: ShownStatistics, dimension: str) -> dict[str, int | str | None]:
    table = shown.table(dimension) if dimension != "police" else shown.year.police
    assert table is not None, dimension
    return {
        key: (figure.value if not figure.hidden else "<3" if figure.small else "hidden")
        for key, figure in table.rows
        if figure.value != 0
    }


CITY = StatisticsScope(party_id=None, exact=True)


def test_the_security_department_sees_exact_counts_per_category(world: World) -> None:
    shown = figures(world, CITY, exact=True)
    year = shown.year
    assert (year.total.value, year.officials.value) == (10, 5)
    assert counts(shown, "category") == {"full_time": 7, "political_staff": 1, "leisure": 2}
    assert counts(shown, "kind") == {"threat": 5, "harassment": 3, "violence": 1, "damage": 1}
    assert counts(shown, "channel") == {
        "social_media": 4,
        "email": 2,
        "in_person": 1,
        "letter": 2,
        "at_home": 1,
    }
    # Harm makes it an incident, whatever the reporter chose.
    assert counts(shown, "event_type") == {"near_miss": 8, "incident": 2}
    assert counts(shown, "month") == {"3": 1, "4": 1, "9": 2, "10": 1, "11": 5}
    fp, gp = (world.person(n).party_id for n in ("Anna Andersson", "David Dahl"))
    assert counts(shown, "party") == {str(fp): 6, str(gp): 4}
    assert counts(shown, "police") == {"reported": 1, "not_reported": 9}
    assert year.police_share == pytest.approx(0.1)
    assert (year.first_contact_days.median, year.first_contact_days.measured.value) == (1.0, 2)
    assert year.assessment_hours.median == pytest.approx(2.0, abs=0.01)
    assert year.assessment_hours.measured.value == 3
    assert [(key, f.value) for key, f in shown.by_year.rows] == [
        ("2022", 1),
        ("2025", 1),
        ("2026", 10),
    ]


def test_a_party_office_sees_its_own_party_with_small_counts_hidden(world: World) -> None:
    fp = world.person("Anna Andersson").party_id
    shown = figures(world, StatisticsScope(party_id=fp, exact=False), exact=False)
    assert shown.year.total.value == 6 and shown.year.officials.value is None  # two people
    assert shown.table("party") is None, "one party's own figures need no party table"
    # Bertil's one incident is "<3"; Anna's five would give it away (6 − 5): hidden too.
    assert counts(shown, "category") == {"full_time": "hidden", "leisure": "<3"}
    category = shown.table("category")
    assert category is not None and category.total is not None
    assert category.total.value == 6
    # Two small counts summing to 3 cannot be told apart: nothing more is hidden.
    assert counts(shown, "kind") == {"threat": 3, "harassment": "<3", "violence": "<3"}
    assert counts(shown, "police") == {"reported": "<3", "not_reported": "hidden"}
    assert shown.year.police_share is None
    # Medians on fewer than three incidents are hidden, on three shown.
    assert shown.year.first_contact_days.median is None
    assert shown.year.first_contact_days.measured.small
    assert shown.year.assessment_hours.median == pytest.approx(2.0, abs=0.01)
    assert [(k, f.value, f.small) for k, f in shown.by_year.rows] == [
        ("2022", None, True),
        ("2026", 6, False),
    ]
    # The security department's own figures for the same party are exact.
    exact = figures(world, StatisticsScope(party_id=fp, exact=True), exact=True)
    assert counts(exact, "category") == {"full_time": 5, "leisure": 1}


def hidden_values_possible(counts_: list[int], total: int) -> dict[int, set[int]]:
    """Every value each hidden small count could have, for a reader who knows the rules."""
    protected = protect_table(counts_, total, exact=False)
    shown = {i: f.value for i, f in enumerate(protected.rows) if f.value is not None}
    small = [i for i, f in enumerate(protected.rows) if f.hidden and f.small]
    other = [i for i, f in enumerate(protected.rows) if f.hidden and not f.small]
    cap = min([v for v in shown.values() if v] or [total])
    possible: dict[int, set[int]] = {i: set() for i in small}
    ranges = [range(1, 3)] * len(small) + [range(THRESHOLD, cap + 1)] * len(other)
    for values in itertools.product(*ranges):
        if sum(values) + sum(shown.values()) == total:
            for i, value in zip(small, values, strict=False):
                possible[i].add(value)
    return possible


def test_no_small_count_can_be_worked_out_from_the_total() -> None:
    """Exhaustively, for every table of three or four counts up to 6."""
    checked = 0
    for size in (2, 3, 4):
        for counts_ in itertools.product(range(7), repeat=size):
            total = sum(counts_)
            protected = protect_table(list(counts_), total, exact=False)
            if protected.total_must_hide or protected.total is None or protected.total.hidden:
                continue  # the total is hidden: nothing to subtract from
            for index, values in hidden_values_possible(list(counts_), total).items():
                assert len(values) >= 2, (counts_, index, values)
                checked += 1
            # Exactly one small count never stands hidden alone.
            hidden = [f for f in protected.rows if f.hidden]
            assert len(hidden) != 1, counts_
    assert checked > 1000


def test_the_rule_on_typical_rows() -> None:
    def shown(counts_: list[int], total: int) -> list[object]:
        result = protect_table(counts_, total, exact=False)
        return [f.value if not f.hidden else "<3" if f.small else "hidden" for f in result.rows]

    assert shown([7, 0, 2], 9) == ["hidden", 0, "<3"]
    assert shown([1, 4, 10], 15) == ["<3", "hidden", 10]
    assert shown([1, 3, 10], 14) == ["<3", "hidden", "hidden"], "1 + 3 = 4 would tell"
    assert shown([4, 5], 9) == [4, 5]
    assert protect_table([1, 3], 4, exact=False).total_must_hide
    assert protect_table([1, 2], 3, exact=True).rows[0].value == 1


def year_figures(year: int, rows: list[tuple[str, int]]) -> YearFigures:
    total = sum(c for _k, c in rows)
    return YearFigures(
        year=year,
        total=total,
        officials=total,
        tables=(
            Table("event_type", tuple(rows), total),
            Table("kind", (("threat", total),), total),
        ),
        police=Table("police", (("reported", 0), ("not_reported", total)), total),
        first_contact_days=Timing(None, 0),
        assessment_hours=Timing(None, 0),
    )


def test_a_total_that_would_give_a_count_away_is_hidden_everywhere_that_year() -> None:
    stats = Statistics(
        scope=StatisticsScope(None, exact=False),
        year=2026,
        years={
            2025: year_figures(2025, [("near_miss", 5), ("incident", 4)]),
            2026: year_figures(2026, [("near_miss", 3), ("incident", 1)]),
        },
        drawn_at=datetime(2026, 12, 3, 8, tzinfo=UTC),
    )
    shown = disclose(stats, exact=False)
    assert shown.year.total.hidden
    for table in (*shown.year.tables, shown.year.police):
        assert table.total is not None and table.total.hidden
        assert any(f.hidden and not f.small for _k, f in table.rows), table.dimension
    assert [(k, f.value) for k, f in shown.by_year.rows] == [("2025", 9), ("2026", None)]
    assert disclose(stats, exact=True).year.total.value == 4


def test_election_years_are_every_fourth_on_the_second_sunday_of_september() -> None:
    assert election_day(2018) == date(2018, 9, 9)
    assert election_day(2022) == date(2022, 9, 11)
    assert election_day(2026) == date(2026, 9, 13)
    assert election_day(2030) == date(2030, 9, 8)
    assert election_day(2014) == date(2014, 9, 14)
    assert election_day(2010) == date(2010, 9, 19), "the third Sunday until 2010"
    assert [y for y in range(2015, 2031) if election_day(y)] == [2018, 2022, 2026, 2030]


def test_the_page_marks_election_years_and_has_a_table_beside_each_chart(
    world: World, browser: Make
) -> None:
    page = browser("sakerhet").text("/reports/statistics?year=2026")
    text = visible_text(page)
    assert "Hela staden" in text
    assert "2026 – valår (val 13 september 2026)" in text
    assert "2022 – valår (val 11 september 2022)" in text
    assert "2025 – valår" not in text and "2025" in text
    assert "September – val 13 september 2026" in text
    assert "Händelser 10" in text and "Andel polisanmälda 10 % (1 av 10)" in text
    assert "Tid från rapport till bedömning (median) 2 timmar mätt i 3 händelser" in text
    assert "Särskilt arvoderad förtroendevald 7" in text
    # Every chart is an image with a title, beside a table with the same figures.
    charts = page.count('<svg class="chart" role="img"')
    assert charts == page.count('<table class="table report-numbers">') == 8
    assert "style=" not in page and "<script>" not in page, "strict CSP: no inline style or script"
    [viewed] = world.audit("report.viewed")
    assert viewed.details == {
        "report": "statistics",
        "format": "html",
        "year": 2026,
        "exact": True,
        "party": None,
    }


def test_who_sees_statistics_and_how(world: World, browser: Make) -> None:
    for username in ("anna", "david", "tib", "admin", "designer"):
        client = browser(username)
        assert client.get("/reports/statistics").status_code == 403, username
        assert client.get("/reports/statistics.csv").status_code == 403, username
        assert 'href="/reports/statistics"' not in client.text("/notifications")
    fp = visible_text(browser("kansli.fp").text("/reports/statistics?year=2026"))
    assert "Framstegspartiet" in fp and "Antal under 3 visas inte." in fp
    assert "Fritidspolitiker <3 färre än 3" in fp
    assert "Särskilt arvoderad förtroendevald dold" in fp
    assert "Gemenskapspartiet" not in fp
    # A party office cannot ask for exact counts.
    asked = visible_text(
        browser("kansli.fp").text("/reports/statistics?year=2026&disclosure=exact")
    )
    assert "Fritidspolitiker <3" in asked and "Fritidspolitiker 1" not in asked
    gp = visible_text(browser("kansli.gp").text("/reports/statistics?year=2026"))
    assert "Gemenskapspartiet" in gp and "Händelser 4" in gp
    # The administrations' security contacts see the whole city as the council does.
    city = visible_text(browser("namnd").text("/reports/statistics?year=2026"))
    assert "Hela staden" in city and "Händelser 10" in city
    assert "Politisk tjänsteperson <3" in city
    # The security department may look at them as others will.
    preview = visible_text(
        browser("sakerhet").text("/reports/statistics?year=2026&disclosure=protected")
    )
    assert "Politisk tjänsteperson <3" in preview and "Antal under 3 visas inte." in preview


def test_the_csv_follows_the_same_rule_and_is_audited(world: World, browser: Make) -> None:
    response = browser("kansli.fp").get("/reports/statistics.csv?year=2026")
    assert response.status_code == 200
    assert "statistik-handelser-2026-2026-12-03.csv" in response.headers["Content-Disposition"]
    table = read_csv(response.get_data())
    assert table[0] == ["Statistik över händelser 2026", "Framstegspartiet"]
    assert table[1][0] == "Uttaget" and table[1][1].startswith("3 december 2026 kl. 09:")
    assert ["Valår", "valår (val 13 september 2026)"] in table
    rows = {(r[0], r[1]): r[2] for r in table if len(r) == 3}
    assert rows[("Kategori", "Fritidspolitiker")] == "<3"
    assert rows[("Kategori", "Särskilt arvoderad förtroendevald")] == "dold"
    assert rows[("Kategori", "Totalt")] == "6"
    assert rows[("Polisanmäld", "Polisanmäld")] == "<3"
    assert rows[("Nyckeltal", "Andel polisanmälda")] == "dold"
    assert rows[("Nyckeltal", "Drabbade förtroendevalda och tjänstepersoner")] == "<3"
    assert rows[("År då händelsen inträffade", "2022 – valår (val 11 september 2022)")] == "<3"
    assert any(r and r[0] == "Regel" for r in table), "the rules travel with the figures"

    exact = read_csv(browser("sakerhet").get("/reports/statistics.csv?year=2026").get_data())
    exact_rows = {(r[0], r[1]): r[2] for r in exact if len(r) == 3}
    assert exact_rows[("Kategori", "Fritidspolitiker")] == "2"
    assert exact_rows[("Nyckeltal", "Andel polisanmälda")] == "10 %"
    assert exact_rows[("Nyckeltal", "Median, timmar från rapport till bedömning")] == "2"

    exports = world.audit("report.exported")
    fp = world.person("Anna Andersson").party_id
    assert [(e.details["exact"], e.details["party"]) for e in exports] == [
        (False, fp),
        (True, None),
    ]


def test_an_incident_started_by_an_alarm_is_counted_from_its_own_data(world: World) -> None:
    """No start form: the report is read from the case's data, as the alarm case gave it."""
    definition = latest_definition(world.session, "incident")
    assert definition is not None
    CaseStarter(world.services, world.session, None).start_about(
        definition,
        world.person("David Dahl"),
        {
            "danger_ongoing": False,
            "kind": "other",
            "event_type": "incident",
            "occurred_on": "2026-12-02",
            "location": "Hemma",
            "channel": "at_home",
            "description": "Larm: inbrottslarm gick.",
            "perpetrator_known": "unknown",
            "tied_to_assignment": "unsure",
            "police_contacted": True,
            "in_committee_activity": False,
        },
    )
    world.session.commit()
    shown = figures(world, CITY, exact=True)
    assert shown.year.total.value == 11
    assert counts(shown, "kind")["other"] == 1
    assert counts(shown, "channel")["at_home"] == 2
    assert counts(shown, "month")["12"] == 1
