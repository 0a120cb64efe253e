"""Teams: every KPI that has a team, per team (issue 14, item 10), a table per service area
whose columns are its teams and rows the KPIs.

The teams are the quarter's (`activity.breakdown_teams`, `inputs.teams`: activity in the
quarter, or social workers in post at its end), the dashboard's for the same period. Each
figure is the KPI's published value for the team (small numbers suppressed), and each KPI's
figures across the teams carry secondary suppression: the teams of a service area add up to
the area's figure, and all teams to the authority's (the KPI table), so one suppressed team
alone in a line would be recoverable; the team on the fewest cases beside it reads
"suppressed" too (`suppression.kpi_line`, the one rule of every by-team table:
`kpis.protect_teams`). The complaints section's table by team shows these same figures.
Concerns have no team, so their KPI is not here.
Pure: no I/O."""

from __future__ import annotations

from services.reporting import kpis

from ..figures import Figure
from ..labels import area_label, sorted_areas
from ..model import Block, KpiRequest, Paragraph, Row, Section, Table
from ..suppression import kpi_line
from .quarter import ReportQuarter

__all__ = ["TEAM_KPIS", "team_breakdown", "team_figures", "team_section", "team_slices"]

TEAM_KPIS = tuple(kpis.team_kpi_ids())


def _filters(team: str, area: str) -> kpis.Filters:
    return kpis.Filters(service_area=area, team=team)


def team_slices(q: ReportQuarter) -> list[KpiRequest]:
    """The slices this section reads: every KPI that has a team, for each team, this quarter."""
    return [KpiRequest(q.period, _filters(t, a), TEAM_KPIS) for t, a in q.inputs.teams]


def team_breakdown(q: ReportQuarter) -> kpis.Breakdown:
    """The quarter's per-team breakdown: per KPI that has a team, its published value for each
    of ``inputs.teams`` (not yet protected)."""
    teams = list(q.inputs.teams)
    values = [q.values(q.period, _filters(t, a), TEAM_KPIS) for t, a in teams]
    return kpis.team_breakdown(teams, {k: [v[k] for v in values] for k in TEAM_KPIS})


def team_figures(q: ReportQuarter) -> dict[str, list[Figure]]:
    """Per KPI that has a team, its figure for each of ``inputs.teams``, protected: what this
    section shows, and what any other table of a team's figure shows (the workforce section,
    complaints by team, commentary on a team's figure), so that no table shows a figure
    another hides."""
    teams = list(q.inputs.teams)
    breakdown = team_breakdown(q)
    return {k: kpi_line(breakdown.values[k], teams, q.threshold) for k in TEAM_KPIS}


def team_section(q: ReportQuarter) -> Section:
    teams = list(q.inputs.teams)
    figures = team_figures(q)
    blocks: list[Block] = [
        Paragraph(
            "Every measure that has a team, for each team with activity in the quarter. Small numbers are "
            "suppressed, and where a team's figure is suppressed the smallest figure beside it reads "
            "\u201csuppressed\u201d too, so that it cannot be worked out from the service area's or the "
            "authority's total. Concerns have no team, so their measure is not here."
        )
    ]
    for area in sorted_areas(a for _, a in teams):
        columns = [i for i, (_, a) in enumerate(teams) if a == area]
        blocks.append(
            Table(
                f"teams-{area.replace('_', '-')}",
                f"Measures by team, {area_label(area)}, {q.period.label}",
                ["Measure", *(teams[i][0] for i in columns)],
                [Row(kpis.definition_of(k).title, [figures[k][i] for i in columns]) for k in TEAM_KPIS],
            )
        )
    if not teams:
        blocks.append(Paragraph(f"No team had activity in {q.period.label}."))
    return Section("teams", "Measures by team", blocks)
