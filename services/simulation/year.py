"""`plan_year`: the whole simulated year as a `Plan`, from a seed. Pure: no I/O, no clock
(the caller says up to which day, when the year is not over yet).

The year is always planned whole and then cut to the slice asked for, so that a month's
slice is exactly that month of the year's plan.
"""

from __future__ import annotations

from datetime import date

from services.simulation.audits import plan_audits
from services.simulation.authority import COUNTY, AnnualVolumes
from services.simulation.casework import plan_casework
from services.simulation.complaints import plan_complaints
from services.simulation.feedback import plan_feedback, plan_surveys
from services.simulation.inspections import plan_learning
from services.simulation.plan import Plan, SimulatedYear
from services.simulation.workforce import plan_staff_survey, plan_workforce
from shared.calendar import WorkingCalendar, default_calendar, parse_period

# A county's year at full size: about 18,000 casework events and 6,000 API calls, which
# the simulator sends in about a minute on a laptop (`--scale 0.25` for a quicker look).
DEFAULT_SCALE = 1.0


def plan_year(
    year: str = "2022-23",
    seed: int = 1,
    *,
    scale: float = DEFAULT_SCALE,
    period: str | None = None,
    until: date | None = None,
    volumes: AnnualVolumes = COUNTY,
    calendar: WorkingCalendar | None = None,
) -> Plan:
    """The simulated financial year `year` for `seed` at `scale` (1 = a county's volumes).

    `period` (a month or quarter of that year, e.g. `2022-07` or `2022-23-Q2`) keeps only
    that part; `until` cuts everything after that day (a year still running)."""
    if not 0 < scale <= 10:
        raise ValueError(f"scale must be above 0 and at most 10, got {scale}")
    context = SimulatedYear(year, seed, scale, calendar or default_calendar())
    stories = [
        *plan_audits(context, volumes),
        *plan_learning(context),
        *plan_complaints(context, volumes),
        *plan_feedback(context, volumes),
        *plan_workforce(context),
    ]
    stories.sort(key=lambda s: (s.starts, s.key))
    plan = Plan(
        year=context.fy.label,
        seed=seed,
        scale=scale,
        first_day=context.fy.start,
        last_day=context.fy.end,
        setup=(*plan_surveys(context), *plan_staff_survey(context)),
        stories=tuple(stories),
        casework=tuple(plan_casework(context, volumes)),
    )
    first, last = context.fy.start, context.fy.end
    if period is not None:
        part = parse_period(period)
        if not (context.fy.start <= part.start and part.end <= context.fy.end):
            raise ValueError(f"period {period} is not inside the financial year {context.fy.label}")
        first, last = part.start, part.end
    if until is not None:
        if until < first:
            raise ValueError(f"nothing to simulate: {first.isoformat()} is after {until.isoformat()}")
        last = min(last, until)
    return plan.within(first, last)  # also cuts off what happens after the year's end
