"""Input bounds for every HTTP API: what a request may carry so that nothing it carries can
make PostgreSQL, the working-day calendar or Python's date arithmetic fail (a 5xx) — it is
refused with FastAPI's 422 instead, naming the field.

* Text never holds NUL (U+0000: PostgreSQL's text cannot store it) and has a maximum length.
* Integers that reach SQL fit the column or parameter type: int4 (`Int32`, versions, stage
  numbers, counts) or int8 (`Offset`).
* Dates and date-times lie within `FIRST_DATE`..`LAST_DATE`, inside the years the
  working-day calendar covers (`shared.calendar`) with a margin for the clocks that count
  working days forward from them.

The types are plain `Annotated` metadata (pydantic's `StringConstraints`, `annotated_types`
bounds, validators), so the same type serves a request model's field, a query parameter and
a path parameter, and the bounds show in the OpenAPI document where JSON Schema can say them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated

from annotated_types import Ge, Le
from pydantic import AfterValidator, AwareDatetime, StringConstraints

from shared import calendar

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
# Within the calendar's years (1872-2100 with the holidays package of the lock) with room for a
# statutory clock of months to run forward from the last date.
FIRST_DATE = date(1900, 1, 1)
LAST_DATE = date(2099, 12, 31)
assert calendar.HOLIDAY_FIRST_YEAR <= FIRST_DATE.year and LAST_DATE.year < calendar.HOLIDAY_LAST_YEAR

NO_NUL = r"^[^\x00]*$"
# The longest text any field takes (free text such as a complaint's summary is bounded lower).
MAX_TEXT = 10_000


def text(max_length: int = MAX_TEXT, min_length: int = 0) -> StringConstraints:
    """Metadata for text of at most `max_length` characters, without NUL:
    `Annotated[str, text(200, 1)]`."""
    return StringConstraints(min_length=min_length, max_length=max_length, pattern=NO_NUL)


# An identifier or short name in a path or query (ids, teams, owners, categories).
Name = Annotated[str, text(200, 1)]
# Free text where no lower bound is set by the model.
Text = Annotated[str, text()]

Int32 = Annotated[int, Ge(-(2**31)), Le(INT32_MAX)]
PositiveInt32 = Annotated[int, Ge(1), Le(INT32_MAX)]
# An OFFSET (bigint in SQL).
Offset = Annotated[int, Ge(0), Le(INT64_MAX)]


def _within_calendar(value: date) -> date:
    if not FIRST_DATE <= value <= LAST_DATE:
        raise ValueError(f"a date between {FIRST_DATE.isoformat()} and {LAST_DATE.isoformat()}")
    return value


_FIRST_INSTANT = datetime.combine(FIRST_DATE, time.min, UTC)
_LAST_INSTANT = datetime.combine(LAST_DATE, time.max, UTC)


def _instant_within_calendar(value: datetime) -> datetime:
    # Compared as instants: an aware date-time near year 1 or 9999 would overflow when
    # converted to London time or UTC later on.
    if value.tzinfo is not None and not _FIRST_INSTANT <= value <= _LAST_INSTANT:
        raise ValueError(f"a time between {FIRST_DATE.isoformat()} and {LAST_DATE.isoformat()}")
    if value.tzinfo is None and not FIRST_DATE <= value.date() <= LAST_DATE:
        raise ValueError(f"a time between {FIRST_DATE.isoformat()} and {LAST_DATE.isoformat()}")
    return value


CalendarDate = Annotated[date, AfterValidator(_within_calendar)]
AwareCalendarDateTime = Annotated[AwareDatetime, AfterValidator(_instant_within_calendar)]


def _in_calendar(value: date) -> date:
    if isinstance(value, datetime):
        return _instant_within_calendar(value)
    return _within_calendar(value)


# Metadata to add the bounds to an existing type: `Annotated[Identifier, NoNul]`,
# `Annotated[Timestamp, InCalendar]` (a date or a date-time).
NoNul = StringConstraints(pattern=NO_NUL)
InCalendar = AfterValidator(_in_calendar)
