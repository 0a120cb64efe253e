"""Complaints and compliments: complaints received and responded to, by category, by team,
by stage (with timeliness) and by outcome; then compliments (`compliments.py`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from services.reporting import kpis
from services.reporting.facts import ComplaintClosedFact, ComplaintReceivedFact, Facts
from services.reporting.followups import first_received, unique
from shared.calendar import Period
from shared.events import Outcome

from ..charts import Series
from ..figures import AVERAGE_DAYS, EN_DASH, Figure
from ..labels import words
from ..model import Block, KpiRequest, Row, Section, Subheading, Table, chart
from ..suppression import column_lines, hidden, protect, protect_columns, row_lines
from .compliments import compliment_blocks, compliment_slices
from .quarter import ReportQuarter
from .teams import team_figures, team_slices

__all__ = ["complaint_slices", "complaints_section"]

_OUTCOMES = (Outcome.UPHELD, Outcome.PARTIALLY_UPHELD, Outcome.NOT_UPHELD, Outcome.WITHDRAWN)
_OUTCOME_RATES = {
    Outcome.UPHELD: "complaints.upheld_rate",
    Outcome.PARTIALLY_UPHELD: "complaints.partially_upheld_rate",
    Outcome.NOT_UPHELD: "complaints.not_upheld_rate",
}
_TEAM_KPIS = (
    "complaints.received",
    "complaints.closed",
    "complaints.upheld_rate",
    "complaints.partially_upheld_rate",
    "complaints.within_timescale_rate",
)
_STAGE_KPIS = ("complaints.closed", "complaints.within_timescale_rate", "complaints.average_response_working_days")
_SUMMARY = (
    ("Complaints received", "complaints.received"),
    ("Responses (closings at any stage)", "complaints.closed"),
    ("Upheld", "complaints.upheld_rate"),
    ("Partially upheld", "complaints.partially_upheld_rate"),
    ("Not upheld", "complaints.not_upheld_rate"),
    ("Responded to within timescale", "complaints.within_timescale_rate"),
    ("Resolved at stage 1", "complaints.resolved_at_stage1_rate"),
    ("Escalated to stage 2", "complaints.escalation_rate"),
    ("Average response time", AVERAGE_DAYS),
    ("Review panels held within 30 working days of the request", "complaints.panel_within_timescale_rate"),
    ("Late requests for stage 2 (accepted)", "complaints.late_escalations"),
    ("Referred to the Ombudsman", "complaints.ombudsman_referrals"),
    ("Ombudsman decisions finding fault", "complaints.ombudsman_fault_rate"),
)


@dataclass(frozen=True)
class _Complaints:
    """Each complaint's first ComplaintReceived (by complaint id), the complaints received
    in the quarter, and the quarter's closings."""

    received: dict[str, ComplaintReceivedFact]
    received_now: list[ComplaintReceivedFact]
    closings: list[ComplaintClosedFact]

    @classmethod
    def of(cls, facts: Facts, period: Period) -> _Complaints:
        return cls(
            received=first_received(facts),
            received_now=[r for r in unique(facts.complaints_received) if period.contains(r.received_on)],
            closings=[c for c in unique(facts.complaints_closed) if period.contains(c.closed_on)],
        )

    def closings_received(self) -> list[tuple[ComplaintClosedFact, ComplaintReceivedFact]]:
        """The quarter's closings whose complaint's receipt is known, with that receipt."""
        return [(c, self.received[c.complaint_id]) for c in self.closings if c.complaint_id in self.received]


def _categories(q: ReportQuarter, complaints: _Complaints) -> list[str]:
    """Categories received in either quarter, or of a complaint closed in this one."""
    prefix = kpis.BY_CATEGORY
    return sorted(
        {k[len(prefix) :] for k in (*q.current, *q.before) if k.startswith(prefix)}
        | {r.category for _, r in complaints.closings_received()}
    )


def complaint_slices(q: ReportQuarter) -> list[KpiRequest]:
    """The slices this section reads: every category in both quarters, the per-team
    breakdown's (`team_slices`) and the compliments' (`compliment_slices`)."""
    complaints = _Complaints.of(q.inputs.facts, q.period)
    cat_ids = tuple(kpis.BY_CATEGORY + c for c in _categories(q, complaints))
    out = [KpiRequest(q.period, kpis.NO_FILTERS, cat_ids), KpiRequest(q.previous, kpis.NO_FILTERS, cat_ids)]
    return [*(out if cat_ids else []), *team_slices(q), *compliment_slices(q)]


def _upheld_share(q: ReportQuarter, complaints: _Complaints, category: str) -> Figure:
    """The share of this quarter's responses in a category (withdrawn ones left out) that
    upheld at least one point."""
    decided = [
        c for c, r in complaints.closings_received() if r.category == category and c.outcome != Outcome.WITHDRAWN.value
    ]
    some = sum(1 for c in decided if c.outcome in (Outcome.UPHELD.value, Outcome.PARTIALLY_UPHELD.value))
    return q.rate(some, len(decided))


def _by_category(q: ReportQuarter, complaints: _Complaints) -> list[Block]:
    """Received per category (the KPI), and how many of the quarter's responses upheld any point."""
    p, prev = q.period, q.previous
    categories = _categories(q, complaints)
    cat_ids = [kpis.BY_CATEGORY + c for c in categories]
    cat_now = q.values(p, kpi_ids=cat_ids) if cat_ids else {}
    cat_then = q.values(prev, kpi_ids=cat_ids) if cat_ids else {}
    # Each quarter's categories add up to its complaints received (shown): secondary suppression.
    now, then = protect_columns([[q.kpi(cat_now, k) for k in cat_ids], [q.kpi(cat_then, k) for k in cat_ids]])
    table = Table(
        "complaints-by-category",
        f"Complaints by category, {p.label}",
        ["Category", f"Received, {p.label}", f"Received, {prev.label}", "Upheld in full or in part"],
        [Row(words(cat), [now[i], then[i], _upheld_share(q, complaints, cat)]) for i, cat in enumerate(categories)],
        note="Upheld in full or in part: the share of this quarter's responses (withdrawn ones left out) "
        "that upheld at least one point.",
    )
    if not cat_ids:
        return [table]
    return [
        table,
        chart(
            chart_id="chart-complaints-category",
            title=f"Complaints received by category, {p.label} and {prev.label}",
            description="Horizontal bars: complaints received in each category, this quarter and the previous one.",
            categories=[words(c) for c in categories],
            series=[
                Series(p.label, [f.bar for f in now]),
                Series(prev.label, [f.bar for f in then]),
            ],
        ),
    ]


def _by_team(q: ReportQuarter, complaints: _Complaints) -> list[Block]:
    """The complaints KPIs of each team with complaints in the quarter: the per-team
    breakdown's figures (`team_figures`, the one rule of every by-team table, so this table
    and "Measures by team" show and hide the same cells); and the quarter's complaints by
    team and category."""
    p = q.period
    teams = list(q.inputs.teams)
    figures = team_figures(q)
    shown = [
        i
        for i in range(len(teams))
        if any(figures[k][i].suppressed or figures[k][i].value for k in ("complaints.received", "complaints.closed"))
    ]
    blocks: list[Block] = [
        Table(
            "complaints-by-team",
            f"Complaints by team, {p.label}",
            ["Team", "Received", "Responses", "Upheld", "Partially upheld", "Within timescale"],
            [Row(teams[i][0], [figures[k][i] for k in _TEAM_KPIS]) for i in shown],
        )
    ]
    hidden_teams = {teams[i][0] for i in shown if figures["complaints.received"][i].suppressed}
    cross = _team_category(q, complaints, hidden_teams)
    return [*blocks, *cross]


def _team_category(q: ReportQuarter, complaints: _Complaints, hidden_teams: set[str]) -> list[Block]:
    """The quarter's complaints received by team and category. Rows add up to each team's
    received, columns to each category's (both shown): secondary suppression along both; and
    a team whose received the per-team breakdown hides must not be its row's sum, so such a
    row with nothing suppressed has its smallest figure hidden first (then the rule spreads
    it along its row and column)."""
    received_now = complaints.received_now
    cross = Counter((r.team, r.category) for r in received_now)
    now_categories = sorted({r.category for r in received_now})
    if not now_categories:
        return []
    cross_teams = sorted({r.team for r in received_now})
    grid = [[q.count(cross[(team, c)]) for c in now_categories] for team in cross_teams]
    for row, team in zip(grid, cross_teams, strict=True):
        positive = [c for c, f in enumerate(row) if not f.suppressed and f.value]
        if team in hidden_teams and positive and not any(f.suppressed for f in row):
            smallest = min(positive, key=lambda c: (row[c].value or 0.0, c))
            row[smallest] = hidden()
    across = range(len(now_categories))
    grid = protect(grid, [*row_lines(len(grid), across), *column_lines(len(grid), across)])
    return [
        Table(
            "complaints-team-category",
            f"Complaints received by team and category, {q.period.label}",
            ["Team", *[words(c) for c in now_categories]],
            [Row(team, grid[i]) for i, team in enumerate(cross_teams)],
        )
    ]


def _stage_values(q: ReportQuarter, complaints: _Complaints, stage: int) -> dict[str, kpis.KpiValue]:
    """The closing KPIs (responses, within timescale, average working days) over one
    stage's closings in the quarter, by the same rules and publication as the KPI API:
    each closing's effective due date and working days are the read model's."""
    closings = [c for c in complaints.closings if c.stage == stage]
    clocks = [q.inputs.closing_clocks.get(c.key, (c.due_date, c.working_days_taken)) for c in closings]
    n = len(closings)
    within = sum(1 for c, (due, _) in zip(closings, clocks, strict=True) if c.closed_on <= due)
    days = sum(int(d) for _, d in clocks)
    raw = [
        kpis.count_value("complaints.closed", n),
        kpis.rate_value("complaints.within_timescale_rate", within, n),
        kpis.rate_value(AVERAGE_DAYS, days, n),
    ]
    published = kpis.apply_publication_rules(raw, detail=False, threshold=q.threshold, targets=q.inputs.targets)
    return {v.kpi: v for v in published}


def _by_stage(q: ReportQuarter, complaints: _Complaints) -> Table:
    p = q.period
    escalations = [e for e in unique(q.inputs.facts.complaints_escalated) if p.contains(e.escalated_on)]
    stages = sorted({c.stage for c in complaints.closings} | {1})
    grid = []
    for stage in stages:
        v = _stage_values(q, complaints, stage)
        escalated = sum(1 for e in escalations if e.from_stage == stage)
        grid.append([*[q.kpi(v, k) for k in _STAGE_KPIS], q.count(escalated)])
    # Responses add up to the quarter's, escalations to its escalations: secondary suppression.
    grid = protect(grid, column_lines(len(grid), (0, 3)))
    return Table(
        "complaints-by-stage",
        f"Complaint responses by stage, {p.label}",
        ["Stage", "Responses", "Within timescale", "Average response time", "Escalated to the next stage"],
        [Row(f"Stage {stage}", grid[i]) for i, stage in enumerate(stages)],
        note="Timescales: statutory children's complaints 10 working days at stage 1 (20 with an "
        "extension) and 25 at stage 2 (65 at most); the authority's own timescales for corporate and "
        "SEND complaints; stage 3, 20 working days after the review panel (50 after the request while "
        "no panel is recorded), with no extension. Working days count from receipt or escalation (or, "
        "where the authority so configures, from the agreed stage-2 statement of complaint).",
    )


def _outcome_row(q: ReportQuarter, outcome: Outcome, count: Figure) -> Row:
    # A share beside a suppressed count would give the count away.
    if outcome in _OUTCOME_RATES and not count.suppressed:
        return Row(words(outcome.value), [count, q.kpi(q.current, _OUTCOME_RATES[outcome])])
    return Row(words(outcome.value), [count, Figure(EN_DASH)])


def _by_outcome(q: ReportQuarter, complaints: _Complaints) -> Table:
    outcome_counts = Counter(c.outcome for c in complaints.closings)
    # The outcomes add up to the quarter's responses (shown): secondary suppression.
    (counts,) = protect_columns([[q.count(outcome_counts[o.value]) for o in _OUTCOMES]])
    return Table(
        "complaints-by-outcome",
        f"Complaint responses by outcome, {q.period.label}",
        ["Outcome", "Responses", "Share of responses (withdrawn left out)"],
        [_outcome_row(q, o, counts[i]) for i, o in enumerate(_OUTCOMES)],
    )


def complaints_section(q: ReportQuarter) -> Section:
    complaints = _Complaints.of(q.inputs.facts, q.period)
    blocks: list[Block] = [
        q.trend_table(
            "complaints-summary",
            f"Complaints, {q.period.label} and the previous quarter ({q.previous.label})",
            _SUMMARY,
        ),
        Subheading("By category", "complaints-category-heading"),
        *_by_category(q, complaints),
        Subheading("By team", "complaints-team-heading"),
        *_by_team(q, complaints),
        Subheading("By stage, outcome and timeliness", "complaints-stage-heading"),
        _by_stage(q, complaints),
        _by_outcome(q, complaints),
        Subheading("Compliments", "compliments-heading"),
        *compliment_blocks(q),
    ]
    return Section("complaints", "Complaints and compliments", blocks)
