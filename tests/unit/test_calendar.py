"""shared.calendar: London dates, working days in England, financial periods.

Every expected working-day deadline below was counted by hand on a paper calendar, never
computed with the code under test.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import holidays
import pytest
from dateutil.easter import EASTER_WESTERN, easter
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.bounds import FIRST_DATE, LAST_DATE
from shared.calendar import (
    LONDON,
    Period,
    WorkingCalendar,
    add_months,
    default_calendar,
    financial_year_start,
    london_date,
    parse_period,
    period_of,
    periods_between,
)

CAL = default_calendar()


# ------------------------------------------------------------------------- London dates


def test_london_zone() -> None:
    assert str(LONDON) == "Europe/London"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # BST: 23:30 UTC is 00:30 the next day in London.
        (datetime(2022, 7, 31, 23, 30, tzinfo=UTC), date(2022, 8, 1)),
        (datetime.fromisoformat("2022-07-31T23:30:00Z"), date(2022, 8, 1)),
        (datetime.fromisoformat("2022-07-31T22:59:59+00:00"), date(2022, 7, 31)),
        # GMT: 23:30 UTC is 23:30 in London, the same day.
        (datetime(2022, 12, 31, 23, 30, tzinfo=UTC), date(2022, 12, 31)),
        (datetime.fromisoformat("2022-12-31T23:30:00Z"), date(2022, 12, 31)),
        # Explicit offsets.
        (datetime.fromisoformat("2022-08-01T00:30:00+01:00"), date(2022, 8, 1)),
        (datetime.fromisoformat("2022-07-31T23:30:00-01:00"), date(2022, 8, 1)),
        (datetime.fromisoformat("2023-01-01T00:30:00+01:00"), date(2022, 12, 31)),
        (datetime.fromisoformat("2022-08-01T04:00:00+05:30"), date(2022, 7, 31)),
        (datetime(2022, 8, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))), date(2022, 8, 1)),
        # Around the clock changes (27 March and 30 October 2022, 01:00 UTC).
        (datetime.fromisoformat("2022-03-26T23:59:59+00:00"), date(2022, 3, 26)),
        (datetime.fromisoformat("2022-10-29T23:30:00+00:00"), date(2022, 10, 30)),
        (datetime.fromisoformat("2022-10-30T23:30:00+00:00"), date(2022, 10, 30)),
        # Already London time.
        (datetime(2022, 7, 31, 23, 30, tzinfo=LONDON), date(2022, 7, 31)),
        # Naive datetimes are London local time; dates are themselves.
        (datetime(2022, 7, 31, 23, 30), date(2022, 7, 31)),
        (date(2022, 7, 31), date(2022, 7, 31)),
    ],
)
def test_london_date(value: datetime | date, expected: date) -> None:
    result = london_date(value)
    assert result == expected
    assert type(result) is date


# ------------------------------------------------------------------------- working days


@pytest.mark.parametrize(
    "day",
    [
        date(2022, 6, 2),  # Spring bank holiday, moved for the Platinum Jubilee
        date(2022, 6, 3),  # Platinum Jubilee
        date(2022, 8, 29),  # Summer bank holiday
        date(2022, 9, 19),  # State funeral of Queen Elizabeth II
        date(2022, 12, 26),  # Boxing Day
        date(2022, 12, 27),  # Christmas Day (substitute, 25th was a Sunday)
        date(2023, 1, 2),  # New Year's Day (substitute)
        date(2023, 4, 7),  # Good Friday
        date(2023, 4, 10),  # Easter Monday
        date(2023, 5, 1),  # Early May bank holiday
        date(2023, 5, 8),  # Coronation of King Charles III
        date(2023, 12, 25),  # Christmas Day
        date(2022, 12, 24),  # Saturday
        date(2022, 12, 25),  # Sunday (and Christmas Day)
        date(2023, 4, 9),  # Easter Sunday
    ],
)
def test_not_working_days(day: date) -> None:
    assert not CAL.is_working_day(day)


@pytest.mark.parametrize(
    "day",
    [
        date(2022, 6, 1),
        date(2022, 6, 6),
        date(2022, 9, 16),
        date(2022, 9, 20),
        date(2022, 12, 23),
        date(2022, 12, 28),
        date(2023, 1, 3),
        date(2023, 4, 6),
        date(2023, 4, 11),
        date(2023, 5, 9),
    ],
)
def test_working_days(day: date) -> None:
    assert CAL.is_working_day(day)


# (start = day 0, n, the n-th working day after start) -- counted by hand.
HAND_COUNTED = [
    # 10: Mon 12 .. Fri 16 Sep are 1-5, Mon 19 Sep state funeral, Tue 20 .. Mon 26 are 6-10.
    (date(2022, 9, 9), 10, date(2022, 9, 26)),
    # 10: Wed 21 - Fri 23 Dec are 1-3; 26, 27 Dec and 2 Jan are holidays; Wed 28 - Fri 30
    # are 4-6; Tue 3 - Fri 6 Jan are 7-10.
    (date(2022, 12, 20), 10, date(2023, 1, 6)),
    # 20: Tue 28 Mar - Thu 6 Apr are 1-8; Good Friday 7 Apr and Easter Monday 10 Apr off;
    # Tue 11 Apr - Wed 26 Apr are 9-20.
    (date(2023, 3, 27), 20, date(2023, 4, 26)),
    # 25: Fri 21 - Fri 28 Apr are 1-6; Mon 1 May off; Tue 2 - Fri 5 May 7-10; Mon 8 May
    # (coronation) off; Tue 9 - Fri 26 May 11-24; Mon 29 May (spring bank holiday) off;
    # Tue 30 May is 25.
    (date(2023, 4, 20), 25, date(2023, 5, 30)),
    # 45 = nine weeks (Wed 20 Jul) plus the two jubilee days: Thu 21, Fri 22 Jul.
    (date(2022, 5, 18), 45, date(2022, 7, 22)),
    # 45 = nine weeks (Mon 22 May) plus Good Friday, Easter Monday, 1 May, 8 May: Fri 26 May.
    (date(2023, 3, 20), 45, date(2023, 5, 26)),
    # 65 = thirteen weeks (Thu 24 Nov) plus 29 Aug and 19 Sep: Fri 25, Mon 28 Nov.
    (date(2022, 8, 25), 65, date(2022, 11, 28)),
    # 65 = thirteen weeks (Mon 13 Feb) plus 26 Dec, 27 Dec, 2 Jan: Thu 16 Feb.
    (date(2022, 11, 14), 65, date(2023, 2, 16)),
    # Day 0 need not be a working day.
    (date(2022, 12, 24), 1, date(2022, 12, 28)),  # Saturday before Christmas
    (date(2022, 9, 18), 1, date(2022, 9, 20)),  # Sunday before the state funeral
    (date(2023, 4, 7), 1, date(2023, 4, 11)),  # Good Friday
    (date(2022, 9, 16), 1, date(2022, 9, 20)),  # Friday before the state funeral
    (date(2022, 9, 19), 0, date(2022, 9, 19)),  # n == 0 is day 0 itself, working or not
    (date(2022, 9, 20), 0, date(2022, 9, 20)),
]


@pytest.mark.parametrize(("start", "n", "due"), HAND_COUNTED)
def test_add_working_days_hand_counted(start: date, n: int, due: date) -> None:
    assert CAL.add_working_days(start, n) == due
    assert CAL.working_days_between(start, due) == n


def test_add_working_days_rejects_negative() -> None:
    with pytest.raises(ValueError, match="n must be >= 0"):
        CAL.add_working_days(date(2022, 9, 9), -1)


def test_add_working_days_uses_london_date_of_a_timestamp() -> None:
    # Received 2022-07-31T23:30Z = Monday 1 August (BST); 10 working days later is Mon 15 Aug.
    received = datetime(2022, 7, 31, 23, 30, tzinfo=UTC)
    assert CAL.add_working_days(received, 0) == date(2022, 8, 1)
    assert CAL.add_working_days(received, 10) == date(2022, 8, 15)
    assert CAL.is_working_day(received)  # Monday 1 August, not Sunday 31 July


def test_working_days_between() -> None:
    # Fri 23 Dec 2022 -> Wed 28 Dec: 24, 25 weekend, 26, 27 holidays, 28 is the only one.
    assert CAL.working_days_between(date(2022, 12, 23), date(2022, 12, 28)) == 1
    assert CAL.working_days_between(date(2022, 12, 23), date(2022, 12, 27)) == 0
    # The start is not counted, the end is.
    assert CAL.working_days_between(date(2022, 9, 12), date(2022, 9, 13)) == 1
    # Same day and backwards: 0.
    assert CAL.working_days_between(date(2022, 9, 12), date(2022, 9, 12)) == 0
    assert CAL.working_days_between(date(2022, 9, 26), date(2022, 9, 9)) == 0
    # Calendar year 2023 in England: 260 weekdays less 9 bank holidays on weekdays.
    assert CAL.working_days_between(date(2022, 12, 31), date(2023, 12, 31)) == 251


def test_closures() -> None:
    cal = WorkingCalendar(closures=[date(2022, 9, 26), date(2022, 12, 29)])
    assert not cal.is_working_day(date(2022, 9, 26))
    assert cal.is_working_day(date(2022, 9, 27))
    # 10 from Fri 9 Sep: the 26th is closed too, so Tue 27 Sep.
    assert cal.add_working_days(date(2022, 9, 9), 10) == date(2022, 9, 27)
    # Fri 23 Dec -> Fri 30 Dec: only 28 and 30 remain.
    assert cal.working_days_between(date(2022, 12, 23), date(2022, 12, 30)) == 2
    # The shared default calendar is unaffected.
    assert CAL.is_working_day(date(2022, 9, 26))
    assert default_calendar() is CAL


def test_closures_accept_any_iterable() -> None:
    cal = WorkingCalendar(closures=(d for d in [date(2023, 6, 1)]))
    assert not cal.is_working_day(date(2023, 6, 1))
    assert cal.add_working_days(date(2023, 5, 31), 1) == date(2023, 6, 2)


def test_dates_outside_the_precomputed_years_extend_the_table() -> None:
    cal = WorkingCalendar(closures=[date(2031, 1, 2), date(2010, 6, 1)], first_year=2022, last_year=2022)
    # Diamond Jubilee: Mon 4 Jun 2012 (moved spring bank holiday) and Tue 5 Jun 2012.
    assert cal.add_working_days(date(2012, 6, 1), 1) == date(2012, 6, 6)
    # Fri 22 Dec 2045: Christmas Mon 25, Boxing Day Tue 26.
    assert cal.add_working_days(date(2045, 12, 22), 1) == date(2045, 12, 27)
    # Closures outside the first table apply once it is extended.
    assert not cal.is_working_day(date(2031, 1, 2))
    assert not cal.is_working_day(date(2010, 6, 1))
    # Across the first table's end: Fri 30 Dec 2022 -> Tue 3 Jan 2023 (2 Jan is a holiday).
    fresh = WorkingCalendar(first_year=2022, last_year=2022)
    assert fresh.add_working_days(date(2022, 12, 30), 1) == date(2023, 1, 3)
    assert fresh.working_days_between(date(2022, 12, 30), date(2023, 1, 3)) == 1
    # A long run far past the table.
    far = fresh.add_working_days(date(2022, 12, 30), 5000)
    assert fresh.working_days_between(date(2022, 12, 30), far) == 5000
    assert fresh.is_working_day(far)


def test_dates_the_holidays_package_does_not_cover_are_refused() -> None:
    with pytest.raises(ValueError, match="outside"):
        CAL.is_working_day(date(2150, 1, 4))
    with pytest.raises(ValueError, match="outside"):
        CAL.working_days_between(date(1800, 1, 1), date(2022, 1, 1))
    with pytest.raises(ValueError, match="first_year"):
        WorkingCalendar(first_year=2030, last_year=2020)


def test_matches_the_holidays_package_day_by_day() -> None:
    england = holidays.country_holidays("GB", subdiv="ENG", years=range(2015, 2041))
    day = date(2015, 1, 1)
    while day <= date(2040, 12, 31):
        expected = day.weekday() < 5 and day not in england and (day.month, day.day) not in {(12, 25), (12, 26)}
        assert CAL.is_working_day(day) is expected, day
        day += timedelta(days=1)


def test_christmas_boxing_day_and_good_friday_are_the_packages_every_year() -> None:
    """The calendar once added Christmas Day, Boxing Day and Good Friday by hand on top of
    the holidays package; the package has each on its own day (Good Friday: two days before
    Western Easter, from dateutil) in every year a request may carry (shared.bounds), and
    none of them is a working day."""
    years = range(FIRST_DATE.year, LAST_DATE.year + 1)
    assert (years.start, years.stop - 1) == (1900, 2099)
    england = holidays.country_holidays("GB", subdiv="ENG", years=years)
    for year in years:
        for day, name in (
            (date(year, 12, 25), "Christmas Day"),
            (date(year, 12, 26), "Boxing Day"),
            (easter(year, EASTER_WESTERN) - timedelta(days=2), "Good Friday"),
        ):
            assert name in england.get_list(day), f"{day}: {england.get_list(day)}"
            assert not CAL.is_working_day(day), day


def test_working_days_are_the_packages_weekdays_every_year() -> None:
    """Day by day over the years a request may carry: a working day is a weekday that is
    not an England holiday of the package (with the test above: the same days as when the
    three were added by hand)."""
    england = holidays.country_holidays("GB", subdiv="ENG", years=range(FIRST_DATE.year, LAST_DATE.year + 1))
    cal = WorkingCalendar(first_year=FIRST_DATE.year, last_year=LAST_DATE.year)
    day = FIRST_DATE
    while day <= LAST_DATE:
        assert cal.is_working_day(day) is (day.weekday() < 5 and day not in england), day
        day += timedelta(days=1)


_ENGLAND = holidays.country_holidays("GB", subdiv="ENG", years=range(1995, 2081))


def _brute_force(start: date, n: int, closures: frozenset[date]) -> date:
    day, left = start, n
    while left:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in _ENGLAND and day not in closures:
            left -= 1
    return day


_CLOSURES = frozenset({date(2022, 9, 26), date(2024, 7, 1), date(2030, 1, 2)})
_CLOSED_CAL = WorkingCalendar(closures=_CLOSURES)


@settings(max_examples=300, deadline=None, database=None)
@given(
    d=st.dates(min_value=date(2000, 1, 1), max_value=date(2079, 1, 1)),
    n=st.integers(min_value=1, max_value=200),
    with_closures=st.booleans(),
)
def test_property_add_and_count_agree(d: date, n: int, with_closures: bool) -> None:
    cal = _CLOSED_CAL if with_closures else CAL
    due = cal.add_working_days(d, n)
    assert cal.is_working_day(due)
    assert due > d
    assert cal.working_days_between(d, due) == n
    assert cal.working_days_between(d, due - timedelta(days=1)) == n - 1
    assert due == _brute_force(d, n, _CLOSURES if with_closures else frozenset())


# ---------------------------------------------------------------------- financial periods


def test_financial_year_start() -> None:
    assert financial_year_start(date(2023, 2, 1)) == 2022
    assert financial_year_start(date(2023, 3, 31)) == 2022
    assert financial_year_start(date(2023, 4, 1)) == 2023
    assert financial_year_start(date(2022, 12, 31)) == 2022


@pytest.mark.parametrize(
    ("text", "kind", "start", "end"),
    [
        ("2022-23", "year", date(2022, 4, 1), date(2023, 3, 31)),
        ("2023-24", "year", date(2023, 4, 1), date(2024, 3, 31)),
        ("1999-00", "year", date(1999, 4, 1), date(2000, 3, 31)),
        ("2022-23-Q1", "quarter", date(2022, 4, 1), date(2022, 6, 30)),
        ("2022-23-Q2", "quarter", date(2022, 7, 1), date(2022, 9, 30)),
        ("2022-23-Q3", "quarter", date(2022, 10, 1), date(2022, 12, 31)),
        ("2022-23-Q4", "quarter", date(2023, 1, 1), date(2023, 3, 31)),
        ("2022-07", "month", date(2022, 7, 1), date(2022, 7, 31)),
        ("2022-12", "month", date(2022, 12, 1), date(2022, 12, 31)),
        ("2024-02", "month", date(2024, 2, 1), date(2024, 2, 29)),
        ("2023-02", "month", date(2023, 2, 1), date(2023, 2, 28)),
        # Ambiguous in principle: the financial-year reading wins.
        ("2011-12", "year", date(2011, 4, 1), date(2012, 3, 31)),
        ("2011-11", "month", date(2011, 11, 1), date(2011, 11, 30)),
        (" 2022-23 ", "year", date(2022, 4, 1), date(2023, 3, 31)),
    ],
)
def test_parse_period_accepts(text: str, kind: str, start: date, end: date) -> None:
    period = parse_period(text)
    assert (period.kind, period.start, period.end) == (kind, start, end)
    assert str(period) == period.label == text.strip()
    assert parse_period(period.label) == period


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2022-24", "period '2022-24' is not a financial year: expected 2022-23"),
        ("2022-13", "13 is not a month 01-12"),
        ("2022-00", "00 is not a month 01-12"),
        ("2022-24-Q1", "not a financial quarter: expected 2022-23-Q1"),
        ("2022-23-Q5", "quarters are Q1 to Q4"),
        ("2022-23-Q0", "quarters are Q1 to Q4"),
        ("2022-7", "not a recognised period"),
        ("22-23", "not a recognised period"),
        ("2022/23", "not a recognised period"),
        ("2022-23-q1", "not a recognised period"),
        ("", "not a recognised period"),
        ("2022-2023", "not a recognised period"),
    ],
)
def test_parse_period_rejects(text: str, reason: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_period(text)
    assert reason in str(excinfo.value)


def test_period_of() -> None:
    d = date(2023, 2, 1)
    assert period_of(d, "month") == parse_period("2023-02")
    assert period_of(d, "quarter") == parse_period("2022-23-Q4")
    assert period_of(d, "year") == parse_period("2022-23")
    assert period_of(date(2023, 4, 1), "quarter").label == "2023-24-Q1"
    assert period_of(date(2022, 9, 30), "quarter").label == "2022-23-Q2"
    assert period_of(date(2022, 10, 1), "quarter").label == "2022-23-Q3"
    assert period_of(date(2022, 12, 31), "quarter").label == "2022-23-Q3"
    assert period_of(date(2023, 3, 31), "year").label == "2022-23"
    with pytest.raises(ValueError, match="kind"):
        period_of(d, "week")


def test_period_contains() -> None:
    q4 = parse_period("2022-23-Q4")
    assert q4.contains(date(2023, 1, 1))
    assert q4.contains(date(2023, 3, 31))
    assert not q4.contains(date(2022, 12, 31))
    assert not q4.contains(date(2023, 4, 1))
    # A timestamp counts by its London date: 2022-12-31T23:30Z is still 31 December (GMT).
    assert not q4.contains(datetime(2022, 12, 31, 23, 30, tzinfo=UTC))
    assert parse_period("2022-08").contains(datetime(2022, 7, 31, 23, 30, tzinfo=UTC))


@pytest.mark.parametrize(
    ("label", "following"),
    [
        ("2022-23-Q4", "2023-24-Q1"),  # across the financial-year boundary
        ("2022-23-Q3", "2022-23-Q4"),  # across the calendar-year boundary
        ("2022-23-Q1", "2022-23-Q2"),
        ("2022-23", "2023-24"),
        ("1999-00", "2000-01"),
        ("2023-03", "2023-04"),
        ("2022-12", "2023-01"),
    ],
)
def test_period_next_and_previous(label: str, following: str) -> None:
    period, after = parse_period(label), parse_period(following)
    assert period.next() == after
    assert after.previous() == period
    assert after.start == period.end + timedelta(days=1)


def test_periods_order_by_start() -> None:
    labels = ["2023-24-Q1", "2022-23-Q2", "2022-23-Q4"]
    assert [str(p) for p in sorted(parse_period(t) for t in labels)] == [
        "2022-23-Q2",
        "2022-23-Q4",
        "2023-24-Q1",
    ]


def test_periods_between() -> None:
    quarters = periods_between(parse_period("2022-23-Q3"), parse_period("2023-24-Q2"))
    assert [str(p) for p in quarters] == ["2022-23-Q3", "2022-23-Q4", "2023-24-Q1", "2023-24-Q2"]
    months = periods_between(parse_period("2022-11"), parse_period("2023-02"))
    assert [str(p) for p in months] == ["2022-11", "2022-12", "2023-01", "2023-02"]
    years = periods_between(parse_period("2021-22"), parse_period("2023-24"))
    assert [str(p) for p in years] == ["2021-22", "2022-23", "2023-24"]
    one = parse_period("2022-23-Q1")
    assert periods_between(one, one) == [one]


def test_periods_between_rejects() -> None:
    with pytest.raises(ValueError, match="different kinds"):
        periods_between(parse_period("2022-23"), parse_period("2022-23-Q4"))
    with pytest.raises(ValueError, match="before"):
        periods_between(parse_period("2023-01"), parse_period("2022-12"))


def test_period_rejects_unknown_kind() -> None:
    with pytest.raises(ValueError, match="kind"):
        Period(date(2022, 1, 1), date(2022, 1, 7), "week", "2022-W01")


# -------------------------------------------------------------------------------- months


@pytest.mark.parametrize(
    ("d", "n", "expected"),
    [
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2023, 3, 31), -1, date(2023, 2, 28)),
        (date(2022, 8, 31), 1, date(2022, 9, 30)),
        (date(2022, 11, 30), 3, date(2023, 2, 28)),
        (date(2023, 1, 31), -13, date(2021, 12, 31)),
        (date(2023, 5, 15), -12, date(2022, 5, 15)),
        (date(2022, 10, 15), 3, date(2023, 1, 15)),
        (date(2022, 7, 31), 12, date(2023, 7, 31)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2023, 1, 31), 0, date(2023, 1, 31)),
    ],
)
def test_add_months(d: date, n: int, expected: date) -> None:
    assert add_months(d, n) == expected
