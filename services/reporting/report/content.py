"""What the quarterly QA report says: the panel's appendices, built from what `inputs.py`
reads for the quarter and the previous one.

Pure: no I/O. `build_report` takes everything it needs in `ReportInputs` (`model.py`) — the
rows of the two quarters that its sections list (and of the aggregates those rows belong
to), the follow-ups that matter to the quarter, and the published KPI values of every period
and slice it shows (`kpi_requests` says which: the loader asks reporting's KPI queries for
exactly those) — and returns a `QuarterlyReport`: sections (`sections/`, one module each)
made of tables, charts and paragraphs, every figure already formatted for publication
(`figures.py`). `render.py` turns it into HTML or PDF.

The report is a published output, so small-number suppression is always applied (see
`figures.py`). Only external compliments are in the figures; internal ones are stated apart,
as a count marked "not in statistics".

`inputs.py` reads everything of one report in one read-only snapshot, so its tables always
agree with each other even while new events arrive.
"""

from __future__ import annotations

from collections.abc import Callable

from .labels import long_date
from .model import KpiRequest, QuarterlyReport, ReportInputs, Section
from .sections.about import about_section
from .sections.audit import audit_section, audit_slices
from .sections.benchmarking import benchmarking_section
from .sections.complaints import complaint_slices, complaints_section
from .sections.feedback import feedback_section, feedback_slices
from .sections.good_practice import good_practice_section
from .sections.kpis import kpi_section, kpi_slices
from .sections.learning import learning_section
from .sections.quarter import ReportQuarter
from .sections.teams import team_section, team_slices
from .sections.workforce import workforce_section, workforce_slices

__all__ = ["build_report", "kpi_requests"]

# The report's sections in the order it prints them, and the slices they read in that order.
SECTIONS: tuple[Callable[[ReportQuarter], Section], ...] = (
    about_section,
    kpi_section,
    feedback_section,
    audit_section,
    complaints_section,
    workforce_section,
    team_section,
    learning_section,
    good_practice_section,
    benchmarking_section,
)
SLICES: tuple[Callable[[ReportQuarter], list[KpiRequest]], ...] = (
    kpi_slices,
    feedback_slices,
    audit_slices,
    complaint_slices,
    workforce_slices,
    team_slices,
)


def _check_quarter(inputs: ReportInputs) -> None:
    if inputs.period.kind != "quarter":
        raise ValueError(f"the quarterly report is for a financial quarter, not a {inputs.period.kind}")


def kpi_requests(inputs: ReportInputs) -> list[KpiRequest]:
    """The published KPI values `build_report` reads: first every KPI of the quarter and of
    the previous one; once ``inputs.kpi_values`` holds those, also the slices the sections
    show (which depend on them: the questions and categories present). A loader asks until
    nothing is missing."""
    _check_quarter(inputs)
    base = [KpiRequest(inputs.period), KpiRequest(inputs.period.previous())]
    if any(r not in inputs.kpi_values for r in base):
        return base
    quarter = ReportQuarter.of(inputs)
    return list(dict.fromkeys([*base, *(r for slices in SLICES for r in slices(quarter))]))


def build_report(inputs: ReportInputs) -> QuarterlyReport:
    """The quarterly report for ``inputs.period`` (a financial quarter; ValueError otherwise)."""
    _check_quarter(inputs)
    quarter = ReportQuarter.of(inputs)
    p = quarter.period
    return QuarterlyReport(
        tenant=inputs.tenant,
        authority=inputs.authority or f"authority {inputs.tenant}",
        period=p,
        previous=quarter.previous,
        title=f"Quarterly quality assurance report, {p.label}",
        period_text=f"{long_date(p.start)} to {long_date(p.end)}",
        as_at=quarter.end,
        generated_on=inputs.today,
        threshold=inputs.threshold,
        sections=[section(quarter) for section in SECTIONS],
    )
