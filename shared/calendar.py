"""The calendar of an English local authority: London dates, working days, financial periods.

Pure: no I/O and no import of other project modules. See DOMAIN.md, "Calendar" and
"Precise readings".

* All day arithmetic uses the Europe/London calendar date of a timestamp
  (:func:`london_date`); every function here that takes a ``date`` also accepts a
  ``datetime`` and uses its London date.
* A **working day** is any day but Saturday, Sunday, an England public holiday or a closure
  day the authority configures. The public holidays are the ``holidays`` package's, country
  GB, subdivision ENG: the bank holidays with their substitute days, the common-law holidays
  Good Friday and Christmas Day (on their own day every year), Boxing Day, and one-off days
  such as 19 September 2022 and 8 May 2023. The closures are the authority's own: no
  package can know them.
* "Within N working days of D": the deadline is the N-th working day after D; D is day 0.
* The **financial year** runs 1 April - 31 March (``2022-23``); quarters Q1 Apr-Jun,
  Q2 Jul-Sep, Q3 Oct-Dec, Q4 Jan-Mar (``2022-23-Q4`` is Jan-Mar 2023); months ``2022-07``.
"""

from __future__ import annotations

import calendar as _stdcalendar
import functools
import re
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays

__all__ = [
    "HOLIDAY_FIRST_YEAR",
    "HOLIDAY_LAST_YEAR",
    "LONDON",
    "Period",
    "WorkingCalendar",
    "add_months",
    "default_calendar",
    "financial_year_start",
    "london_date",
    "parse_period",
    "period_of",
    "periods_between",
]

LONDON = ZoneInfo("Europe/London")


def london_date(value: datetime | date) -> date:
    """The Europe/London calendar date of ``value``.

    An aware datetime is converted to London time first (``2022-07-31T23:30:00Z`` is
    1 August 2022, BST); a naive datetime is taken as London local time already; a date is
    returned unchanged.
    """
    if isinstance(value, datetime):
        if value.tzinfo is not None and value.utcoffset() is not None:
            return value.astimezone(LONDON).date()
        return value.date()
    if isinstance(value, date):
        return value
    raise TypeError(f"expected a date or datetime, got {type(value).__name__}")


def _as_date(value: date) -> date:
    # datetime is a subclass of date: use its London date, never its raw .toordinal().
    if isinstance(value, datetime):
        return london_date(value)
    return value


# --------------------------------------------------------------------------- working days


def _holiday_years() -> tuple[int, int]:
    """The years the ``holidays`` package knows England's bank holidays for."""
    probe = holidays.country_holidays("GB", subdiv="ENG")
    start = int(getattr(probe, "start_year", 1872))
    end = int(getattr(probe, "end_year", 2100))
    return start, end


# The first and last years working days are known for (1872-2100 with the holidays package
# of the lock).
HOLIDAY_FIRST_YEAR, HOLIDAY_LAST_YEAR = _holiday_years()
_EXTEND_BY_YEARS = 10


@dataclass(frozen=True)
class _Table:
    first_year: int
    last_year: int
    lo: int  # ordinal of 1 January first_year
    hi: int  # ordinal of 31 December last_year
    days: list[int]  # sorted ordinals of the working days in [lo, hi]; never mutated


class WorkingCalendar:
    """Working days in England, with the authority's own closure days.

    The working days of ``first_year``..``last_year`` are precomputed as a sorted array of
    ordinals, so every query is a binary search (O(log n)). A date outside those years
    extends the table (thread-safely) as far as the ``holidays`` package knows England's bank
    holidays (1872-2100); beyond that a ``ValueError`` is raised rather than a wrong answer.
    """

    def __init__(self, closures: Iterable[date] = (), first_year: int = 2015, last_year: int = 2040) -> None:
        if first_year > last_year:
            raise ValueError(f"first_year {first_year} is after last_year {last_year}")
        self._check_years(first_year, last_year)
        self._closures: frozenset[int] = frozenset(_as_date(c).toordinal() for c in closures)
        self._lock = threading.Lock()
        self._table = _Table(
            first_year,
            last_year,
            date(first_year, 1, 1).toordinal(),
            date(last_year, 12, 31).toordinal(),
            self._working_days(first_year, last_year),
        )

    # -- table building

    @staticmethod
    def _check_years(first_year: int, last_year: int) -> None:
        if first_year < HOLIDAY_FIRST_YEAR or last_year > HOLIDAY_LAST_YEAR:
            raise ValueError(
                f"working days are only known for {HOLIDAY_FIRST_YEAR}-{HOLIDAY_LAST_YEAR} "
                f"(the years the holidays package covers England's bank holidays); "
                f"asked for {first_year}-{last_year}"
            )

    def _working_days(self, first_year: int, last_year: int) -> list[int]:
        closed = set(self._closures)
        years = range(first_year, last_year + 1)
        closed.update(d.toordinal() for d in holidays.country_holidays("GB", subdiv="ENG", years=years))
        lo = date(first_year, 1, 1).toordinal()
        hi = date(last_year, 12, 31).toordinal()
        # date.fromordinal(o).weekday() == (o - 1) % 7 (ordinal 1 is Monday 1 January 1).
        return [o for o in range(lo, hi + 1) if (o - 1) % 7 < 5 and o not in closed]

    def _extend(self, first_year: int, last_year: int) -> _Table:
        """Return a table covering at least ``first_year``..``last_year``."""
        with self._lock:
            table = self._table
            if table.first_year <= first_year and last_year <= table.last_year:
                return table
            new_first = min(table.first_year, first_year)
            new_last = max(table.last_year, last_year)
            self._check_years(new_first, new_last)
            before = self._working_days(new_first, table.first_year - 1) if new_first < table.first_year else []
            after = self._working_days(table.last_year + 1, new_last) if new_last > table.last_year else []
            table = _Table(
                new_first,
                new_last,
                date(new_first, 1, 1).toordinal(),
                date(new_last, 12, 31).toordinal(),
                before + table.days + after,
            )
            self._table = table  # one atomic swap: readers see the old or the new table
            return table

    def _covering(self, *ordinals: int) -> _Table:
        """The table, extended if need be so that it covers every one of ``ordinals``."""
        table = self._table
        lo, hi = min(ordinals), max(ordinals)
        if table.lo <= lo and hi <= table.hi:
            return table
        first, last = date.fromordinal(lo).year, date.fromordinal(hi).year
        if first < HOLIDAY_FIRST_YEAR or last > HOLIDAY_LAST_YEAR:
            outside = date.fromordinal(lo if first < HOLIDAY_FIRST_YEAR else hi)
            raise ValueError(
                f"{outside.isoformat()} is outside {HOLIDAY_FIRST_YEAR}-{HOLIDAY_LAST_YEAR}, "
                f"the years the holidays package covers England's bank holidays"
            )
        # Extend by whole chunks of years so that a run of nearby dates extends once.
        if first < table.first_year:
            first = min(first, max(table.first_year - _EXTEND_BY_YEARS, HOLIDAY_FIRST_YEAR))
        if last > table.last_year:
            last = max(last, min(table.last_year + _EXTEND_BY_YEARS, HOLIDAY_LAST_YEAR))
        return self._extend(first, last)

    # -- queries

    def is_working_day(self, d: date) -> bool:
        o = _as_date(d).toordinal()
        days = self._covering(o).days
        i = bisect_left(days, o)
        return i < len(days) and days[i] == o

    def add_working_days(self, d: date, n: int) -> date:
        """The ``n``-th working day after ``d`` (``d`` is day 0 and need not be a working day).

        ``n == 0`` returns ``d`` itself; ``n`` must not be negative.
        """
        if n < 0:
            raise ValueError(f"n must be >= 0 working days, got {n}")
        d = _as_date(d)
        if n == 0:
            return d
        o = d.toordinal()
        table = self._covering(o)
        while True:
            i = bisect_right(table.days, o) + n - 1
            if i < len(table.days):
                return date.fromordinal(table.days[i])
            # Not enough working days left in the table: extend it by about the shortfall
            # (at least 250 working days a year) and try again.
            if table.last_year >= HOLIDAY_LAST_YEAR:
                raise ValueError(
                    f"{n} working days after {d.isoformat()} is past {HOLIDAY_LAST_YEAR}, "
                    f"the last year the holidays package covers England's bank holidays"
                )
            short = i - len(table.days) + 1
            years = max(_EXTEND_BY_YEARS, short // 250 + 1)
            table = self._extend(table.first_year, min(table.last_year + years, HOLIDAY_LAST_YEAR))

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end``; 0 when ``end <= start``."""
        s = _as_date(start).toordinal()
        e = _as_date(end).toordinal()
        if e <= s:
            return 0
        days = self._covering(s, e).days
        return bisect_right(days, e) - bisect_right(days, s)


@functools.cache
def default_calendar() -> WorkingCalendar:
    """The shared calendar with no authority closures."""
    return WorkingCalendar()


# --------------------------------------------------------------------- financial periods

_KINDS = ("month", "quarter", "year")


@dataclass(frozen=True, order=True)
class Period:
    """A month, financial quarter or financial year; ``start`` and ``end`` are inclusive.

    Build one with :func:`parse_period` or :func:`period_of`. Periods order by start date.
    """

    start: date
    end: date
    kind: str
    label: str

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"period kind must be one of {', '.join(_KINDS)}, got {self.kind!r}")
        if self.end < self.start:
            raise ValueError(f"period {self.label!r} ends before it starts")

    def contains(self, d: date) -> bool:
        return self.start <= _as_date(d) <= self.end

    def next(self) -> Period:
        return period_of(self.end + timedelta(days=1), self.kind)

    def previous(self) -> Period:
        return period_of(self.start - timedelta(days=1), self.kind)

    def __str__(self) -> str:
        return self.label


def financial_year_start(d: date) -> int:
    """The year in which the financial year containing ``d`` starts (2023-02-01 -> 2022)."""
    d = _as_date(d)
    return d.year if d.month >= 4 else d.year - 1


def _fy_label(start_year: int) -> str:
    return f"{start_year:04d}-{(start_year + 1) % 100:02d}"


def _month(year: int, month: int) -> Period:
    last = _stdcalendar.monthrange(year, month)[1]
    return Period(date(year, month, 1), date(year, month, last), "month", f"{year:04d}-{month:02d}")


def _quarter(fy: int, q: int) -> Period:
    # Q1 Apr-Jun, Q2 Jul-Sep, Q3 Oct-Dec of year fy; Q4 Jan-Mar of fy + 1.
    first_month = 3 * q + 1 if q < 4 else 1
    year = fy if q < 4 else fy + 1
    last_month = first_month + 2
    last = _stdcalendar.monthrange(year, last_month)[1]
    return Period(date(year, first_month, 1), date(year, last_month, last), "quarter", f"{_fy_label(fy)}-Q{q}")


def _year(fy: int) -> Period:
    return Period(date(fy, 4, 1), date(fy + 1, 3, 31), "year", _fy_label(fy))


def period_of(d: date, kind: str) -> Period:
    """The month, financial quarter or financial year (``kind``) containing ``d``."""
    d = _as_date(d)
    if kind == "month":
        return _month(d.year, d.month)
    fy = financial_year_start(d)
    if kind == "quarter":
        return _quarter(fy, (d.month - 4) % 12 // 3 + 1)
    if kind == "year":
        return _year(fy)
    raise ValueError(f"period kind must be one of {', '.join(_KINDS)}, got {kind!r}")


_PERIOD_RE = re.compile(r"([0-9]{4})-([0-9]{2})(?:-Q([0-9]))?")


def parse_period(text: str) -> Period:
    """Parse ``YYYY-YY-Qn`` (financial quarter), ``YYYY-YY`` (financial year) or ``YYYY-MM``.

    In a quarter or year, ``YY`` must be the last two digits of the year after ``YYYY``
    (``2022-23``; ``2022-24`` is an error). ``YYYY-NN`` without a quarter is read as follows:
    if ``NN == (YYYY + 1) % 100`` it is the financial year, otherwise if ``NN`` is 01..12 it
    is that month, otherwise it is an error. So ``2022-23`` is a financial year and
    ``2022-12`` is December 2022. The two readings only collide for ``YYYY`` 2000-2011 (and
    2100-2111), where the financial-year reading wins: ``2011-12`` is the financial year
    2011-12, never December 2011.

    Raises ``ValueError`` with the reason.
    """
    m = _PERIOD_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if m is None:
        raise ValueError(
            f"period {text!r} is not a recognised period: expected YYYY-MM (a month), "
            f"YYYY-YY (a financial year) or YYYY-YY-Qn (a financial quarter)"
        )
    year, two, quarter = int(m.group(1)), int(m.group(2)), m.group(3)
    expected = _fy_label(year)
    if quarter is not None:
        if two != (year + 1) % 100:
            raise ValueError(f"period {text!r} is not a financial quarter: expected {expected}-Q{quarter}")
        q = int(quarter)
        if not 1 <= q <= 4:
            raise ValueError(f"period {text!r} has no quarter Q{q}: quarters are Q1 to Q4")
        return _quarter(year, q)
    if two == (year + 1) % 100:
        return _year(year)
    if 1 <= two <= 12:
        return _month(year, two)
    raise ValueError(
        f"period {text!r} is not a financial year: expected {expected}; nor a month: {two:02d} is not a month 01-12"
    )


def periods_between(first: Period, last: Period) -> list[Period]:
    """The periods from ``first`` to ``last`` inclusive, oldest first (same kind required)."""
    if first.kind != last.kind:
        raise ValueError(f"periods {first.label} and {last.label} are of different kinds ({first.kind}, {last.kind})")
    if last.start < first.start:
        raise ValueError(f"period {last.label} is before {first.label}")
    out = [first]
    while out[-1].end < last.end:
        out.append(out[-1].next())
    return out


def add_months(d: date, n: int) -> date:
    """``d`` plus ``n`` calendar months (``n`` may be negative), clamped to the month's end.

    2023-01-31 + 1 -> 2023-02-28; 2024-01-31 + 1 -> 2024-02-29; 2023-03-31 - 1 -> 2023-02-28.
    """
    d = _as_date(d)
    year, month0 = divmod(d.year * 12 + d.month - 1 + n, 12)
    month = month0 + 1
    if not 1 <= year <= 9999:
        raise ValueError(f"{d.isoformat()} plus {n} months is outside the supported dates")
    return date(year, month, min(d.day, _stdcalendar.monthrange(year, month)[1]))
