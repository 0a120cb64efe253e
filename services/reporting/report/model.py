"""What the quarterly report is made from and made of, as plain data.

`ReportInputs` is one consistent snapshot of what a report reads (`inputs.py` loads it);
`QuarterlyReport` is what `content.build_report` makes of it: sections made of tables,
charts, paragraphs and subheadings, every figure already formatted (`figures.py`), which
`render.py` turns into HTML or PDF. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

from services.reporting import kpis
from services.reporting.benchmarks.domain import BenchmarkTable
from services.reporting.facts import Facts
from services.reporting.followups import GradedAudit
from shared.calendar import Period

from .charts import bar_chart
from .figures import Figure

__all__ = [
    "Block",
    "Chart",
    "KpiRequest",
    "OpenFollowUp",
    "Paragraph",
    "QuarterlyReport",
    "ReportInputs",
    "Row",
    "RuleTally",
    "Section",
    "Subheading",
    "Table",
    "chart",
]


@dataclass(frozen=True)
class Row:
    header: str
    cells: Sequence[Figure]


@dataclass(frozen=True)
class Table:
    id: str
    caption: str
    columns: Sequence[str]  # the first names the row headers
    rows: Sequence[Row]
    note: str | None = None
    kind: str = "table"


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    svg: str
    kind: str = "chart"


def chart(*, chart_id: str, title: str, **options: Any) -> Chart:
    """A bar chart block (see `charts.bar_chart` for the options)."""
    return Chart(chart_id, title, bar_chart(chart_id=chart_id, title=title, **options))


@dataclass(frozen=True)
class Paragraph:
    text: str
    css_class: str = ""
    kind: str = "paragraph"


@dataclass(frozen=True)
class Subheading:
    text: str
    id: str
    kind: str = "subheading"


Block = Table | Chart | Paragraph | Subheading


@dataclass(frozen=True)
class Section:
    id: str
    heading: str
    blocks: Sequence[Block]


@dataclass(frozen=True)
class QuarterlyReport:
    tenant: str
    authority: str  # "Westshire County Council (E10000034)", or the code alone
    period: Period
    previous: Period
    title: str
    period_text: str
    as_at: date
    generated_on: date
    threshold: int
    sections: Sequence[Section]


@dataclass(frozen=True)
class KpiRequest:
    """One set of published KPI values the report shows: a period, a slice, and the KPI
    ids asked for by name (None: every KPI, as `GET /v1/kpis/values` lists them)."""

    period: Period
    filters: kpis.Filters = kpis.NO_FILTERS
    kpi_ids: tuple[str, ...] | None = None


@dataclass(frozen=True)
class OpenFollowUp:
    """One follow-up open at the quarter's end, as the report lists it: its rule, what it is
    about in words (`subjects.py`; None while its origin is unknown), team and dates."""

    rule: str
    origin: str
    about: str | None
    team: str | None
    opened_on: date
    due_date: date


class RuleTally(NamedTuple):
    """One rule's follow-ups in a quarter: opened and closed (on time) in it, open and overdue
    at its end, and (re-audit) closed in it with the grade improved."""

    opened: int = 0
    closed: int = 0
    on_time: int = 0
    open: int = 0
    overdue: int = 0
    improved: int = 0


@dataclass(frozen=True)
class ReportInputs:
    """One consistent snapshot of what the report is made from (see `inputs.py`).

    ``facts`` holds only what the sections list: survey responses of the quarter and the
    previous one; the quarter's compliments, "you said, we did" items, moderations, complaint
    receipts, closings and escalations; every ComplaintReceived of a complaint closed in the
    quarter; and every ConcernRaised, ConcernResolved and targeted audit of the concerns
    raised, resolved or open in the quarter. ``audits`` are the audits counted (latest
    grading, moderated grade) in the quarter or the previous one; ``closing_clocks`` the
    effective due date and working days of each of the quarter's closings (by fact key);
    ``followups`` the follow-ups' tally per rule (`RuleTally`), and ``followup_rules`` every
    rule the tenant has follow-ups of. ``kpi_values`` holds the published values of each
    `KpiRequest` that `content.kpi_requests` names.
    """

    tenant: str
    period: Period
    today: date
    facts: Facts
    followups: Mapping[str, RuleTally]
    audits: Mapping[str, GradedAudit] = field(default_factory=dict)
    closing_clocks: Mapping[str, tuple[date, int]] = field(default_factory=dict)  # key -> (due date, working days)
    followup_rules: Sequence[str] = ()
    kpi_values: Mapping[KpiRequest, Mapping[str, kpis.KpiValue]] = field(default_factory=dict)
    threshold: int = 5
    targets: Mapping[str, kpis.Target] = field(default_factory=dict)
    commentary: Mapping[str, str] = field(default_factory=dict)  # kpi id -> text, this period, whole authority
    commentary_on_slices: Mapping[tuple[str, str], str] = field(default_factory=dict)  # (kpi, filters) -> text
    you_said_we_did: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # fact key -> (said, did)
    # the benchmarking page: the tenant beside its comparators (`benchmarks.handlers.report_benchmarks`)
    benchmarks: BenchmarkTable | None = None
    overall_grade_rule: str = "worst"  # the authority's overall-grade rule (`grading.py`), as the audit service's
    question_wording: Mapping[str, str] = field(default_factory=dict)  # question id -> wording (`wording.py`)
    authority: str = ""  # the authority's name and code (`ReportingQueries.authority`); "": the code
    open_followups: Sequence[OpenFollowUp] = ()  # open at the quarter's end, most overdue first (at most 25)
    open_followups_total: int = 0  # how many were open then, of which ``open_followups`` are the first
    teams: Sequence[tuple[str, str]] = ()  # (team, service area) of the quarter (`activity.breakdown_teams`)
