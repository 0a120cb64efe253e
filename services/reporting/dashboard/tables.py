"""The dashboard's tables (issue 14, items 10 and 11): what each of its panels shows, as the
report's `Table` model, so that `report/export.py` writes them as CSV and XLSX exactly as it
writes the report's, and the breakdowns the page draws carry secondary suppression.

`DashboardData` is what the page shows for one period and slice, read the way its panels read
it (`load`): the KPI values of `GET /v1/kpis/values` (published, or unsuppressed with
`reporting:detail`), every KPI that has a team per team of the period (`ReportingQueries.by_team`,
as `GET /v1/dashboard/teams`), the open follow-ups (`GET /v1/followups?status=open`) and the
managers' commentary. `dashboard_tables` turns it into tables:

* `kpis` — every KPI tile: value, RAG and commentary;
* `complaints-by-category` — complaints received by category, a breakdown of the complaints
  received (a tile): secondary suppression (`report/suppression.py`);
* `complaints-by-team` — complaints received per team of the service area: the per-team
  breakdown's cells (`kpis.protect_teams`, as `kpis-by-team` and the report), teams with none
  left out;
* `audit-grades` — each overall grade's share of audits and its number;
* `audit-areas` — each audit area's good-or-better rate, lowest first (what drives "requires
  improvement");
* `feedback-questions` — positive answers by question (question wording where known);
* `workforce-health-check` — the staff health-check survey's positive answers by question;
* `workforce-leavers` — social workers leaving by reason (each count under the count rule;
  no total of them is on the page, so no secondary suppression);
* `kpis-by-team` — every KPI that has a team, per team of the service area (secondary
  suppression along every team of the period and each area's: `kpis.protect_teams`);
* `followups-by-origin`, `followups-open` — the open follow-ups by origin, and each one.

Figures are formatted and suppressed by `report/figures.py`, as in the report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from services.reporting import kpis, store
from services.reporting.followups import FollowUp
from services.reporting.handlers import ReportingQueries
from services.reporting.report.figures import EN_DASH, Figure, count_figure, kpi_figure, rag_figure, text
from services.reporting.report.labels import area_label, commentary_filters, question_label, slice_label, words
from services.reporting.report.model import Row, Table
from services.reporting.report.suppression import kpi_line, protect_columns
from services.reporting.wording import question_wording
from shared.calendar import Period

__all__ = [
    "DASHBOARD_TABLES",
    "DashboardData",
    "complaints_by_team",
    "dashboard_tables",
    "leavers_by_reason",
    "protected_counts",
    "received_by_category",
]

DASHBOARD_TABLES = (
    "kpis",
    "complaints-by-category",
    "complaints-by-team",
    "audit-grades",
    "audit-areas",
    "feedback-questions",
    "workforce-health-check",
    "workforce-leavers",
    "kpis-by-team",
    "followups-by-origin",
    "followups-open",
)
_REASONS = {
    "management": "Management",
    "training_development": "Training and development",
    "workload": "Workload",
    "pay": "Pay",
    "career": "Career",
    "personal": "Personal",
    "retired": "Retired",
    "other": "Other",
}
_GRADES = (
    ("audit.good_or_better_rate", "Outstanding or good"),
    ("audit.requires_improvement_rate", "Requires improvement"),
    ("audit.inadequate_rate", "Inadequate"),
)


@dataclass(frozen=True)
class DashboardData:
    """What the dashboard shows for one period and slice (see the module's docstring)."""

    period: Period
    filters: kpis.Filters
    today: date
    threshold: int
    values: Sequence[kpis.KpiValue]
    followups: Sequence[FollowUp] = ()
    commentary: Mapping[str, str] = field(default_factory=dict)
    wording: Mapping[str, str] = field(default_factory=dict)  # question id -> wording, where known
    leavers: Mapping[str, int] = field(default_factory=dict)  # leaving reason -> social workers who left
    # every KPI that has a team (complaints.received at least), per team of the period, whatever
    # the service area: (team, service area) pairs, and per KPI the published values in their
    # order, not yet protected (`ReportingQueries.by_team`); the tables show the area's teams
    teams: Sequence[tuple[str, str]] = ()
    team_values: Mapping[str, Sequence[kpis.KpiValue]] = field(default_factory=dict)


def protected_counts(values: Sequence[kpis.KpiValue], threshold: int) -> list[Figure]:
    """Published counts that add up to a total the dashboard shows, as figures with secondary
    suppression: one suppressed alone is joined by the next smallest."""
    (figures,) = protect_columns([[kpi_figure(v, threshold) for v in values]])
    return figures


def complaints_by_team(
    teams: Sequence[tuple[str, str]], received: Sequence[kpis.KpiValue], service_area: str | None
) -> list[tuple[str, kpis.KpiValue]]:
    """complaints.received per team of the service area, from the per-team breakdown's line
    (every team of the period, published), protected by the one rule (`kpis.protect_teams`;
    nothing to do for `reporting:detail`, whose values carry no suppression): (team, value),
    teams with none left out."""
    shown = kpis.protect_teams(received, teams)
    return [
        (t, v)
        for (t, a), v in zip(teams, shown, strict=True)
        if service_area in (None, a) and (v.suppressed or v.value)
    ]


async def leavers_by_reason(conn: Any, tenant: str, period: Period, filters: kpis.Filters) -> dict[str, int]:
    """Social workers (either contract) whose leave, ending a spell, is dated in the period,
    per leaving reason, in the slice of the record they left (as `workforce.turnover_rate`
    reads leavers)."""
    rows = await conn.fetch(
        f"""SELECT reason, count(*) AS n FROM {store.SCHEMA}.staff_left
            WHERE tenant = $1 AND d_counted AND left_on BETWEEN $2 AND $3
              AND d_role IN ('social_worker', 'senior', 'manager')
              AND ($4::text IS NULL OR d_service_area = $4) AND ($5::text IS NULL OR d_team = $5)
            GROUP BY reason""",
        tenant,
        period.start,
        period.end,
        filters.service_area,
        filters.team,
    )
    return {r["reason"]: int(r["n"]) for r in rows}


def received_by_category(values: Sequence[kpis.KpiValue], threshold: int) -> list[tuple[str, Figure]]:
    """The complaints.by_category.<category> values of a slice as (category, figure), with
    secondary suppression: the categories add up to complaints.received, a tile."""
    members = [v for v in values if v.kpi.startswith(kpis.BY_CATEGORY)]
    figures = protected_counts(members, threshold)
    return [(v.kpi[len(kpis.BY_CATEGORY) :], f) for v, f in zip(members, figures, strict=True)]


def _count(n: float | None) -> Figure:
    return Figure(EN_DASH) if n is None else Figure(f"{int(n):,}", float(n))


def _kpi_title(kpi_id: str) -> str:
    try:
        return kpis.definition_of(kpi_id).title
    except ValueError:
        return kpi_id


def _kpis(data: DashboardData) -> Table:
    rows = []
    for v in data.values:
        if kpis.is_family_member(v.kpi):
            continue
        figure = kpi_figure(v, data.threshold)
        rows.append(Row(_kpi_title(v.kpi), [figure, rag_figure(figure.rag), text(data.commentary.get(v.kpi, ""))]))
    return Table(
        "kpis",
        f"Key performance indicators, {slice_label(data.filters)}, {data.period.label}",
        ["KPI", "Value", "RAG", "Commentary"],
        rows,
    )


def _by_category(data: DashboardData) -> Table:
    return Table(
        "complaints-by-category",
        f"Complaints received by category, {slice_label(data.filters)}, {data.period.label}",
        ["Category", "Complaints received"],
        [Row(words(c), [f]) for c, f in received_by_category(data.values, data.threshold)],
    )


def _by_team(data: DashboardData) -> Table:
    """The per-team breakdown's complaints received (the figures `kpis-by-team` shows), for the
    teams of the service area with any."""
    received = data.team_values.get("complaints.received", [])
    figures = kpi_line(received, data.teams, data.threshold) if received else []
    rows = [
        Row(t, [f])
        for (t, a), f in zip(data.teams, figures, strict=True)
        if data.filters.service_area in (None, a) and (f.suppressed or f.value)
    ]
    return Table(
        "complaints-by-team",
        f"Complaints received by team, {_about(area_label(data.filters.service_area), data.filters)}, "
        f"{data.period.label}",
        ["Team", "Complaints received"],
        rows,
    )


def _about(label: str, filters: kpis.Filters) -> str:
    return f"{label}, complaints about {words(filters.category).lower()}" if filters.category else label


def _grades(data: DashboardData) -> Table:
    values = {v.kpi: v for v in data.values}
    rows = []
    for kpi_id, title in _GRADES:
        v = values.get(kpi_id)
        share = kpi_figure(v, data.threshold)
        rows.append(Row(title, [share, share if share.value is None else _count(v.numerator if v else None)]))
    return Table(
        "audit-grades",
        f"Overall audit grades (after moderation), {slice_label(data.filters)}, {data.period.label}",
        ["Grade", "Share of audits", "Audits"],
        rows,
    )


def _audit_areas(data: DashboardData) -> Table:
    """Each area's good-or-better rate, lowest first (as the page's chart); areas with no
    figure to show last, by name."""
    found = []
    for v in data.values:
        if v.kpi.startswith(kpis.AREA_GOOD):
            share = kpi_figure(v, data.threshold)
            counts = [share, share] if share.value is None else [_count(v.numerator), _count(v.denominator)]
            found.append((share.value, words(v.kpi[len(kpis.AREA_GOOD) :]), [share, *counts]))
    found.sort(key=lambda f: (f[0] is None, f[0] or 0.0, f[1]))
    return Table(
        "audit-areas",
        f"Audit areas graded good or better, {slice_label(data.filters)}, {data.period.label} (lowest first)",
        ["Area", "Good or better", "Audits good or better in the area", "Audits that graded the area"],
        [Row(name, cells) for _, name, cells in found],
        note="The auditor's area grades. The overall grade is the worst area grade, so the areas at the top "
        "are the ones that most often make an audit require improvement.",
    )


def _questions(data: DashboardData) -> Table:
    rows = []
    for v in data.values:
        if not v.kpi.startswith(kpis.POSITIVE_RATE):
            continue
        share = kpi_figure(v, data.threshold)
        counts = [share, share] if share.value is None else [_count(v.numerator), _count(v.denominator)]
        rows.append(Row(question_label(v.kpi[len(kpis.POSITIVE_RATE) :], data.wording), [share, *counts]))
    return Table(
        "feedback-questions",
        f"Positive answers by survey question, {slice_label(data.filters)}, {data.period.label}",
        ["Question", "Positive answers", "Positive (yes, 4 or 5)", "Answered"],
        rows,
        note="Positive means yes, or 4 or 5 on a 1 to 5 scale, out of everyone who answered the question.",
    )


def _health_check(data: DashboardData) -> Table:
    rows = []
    for v in data.values:
        if not v.kpi.startswith(kpis.SURVEY_POSITIVE_RATE):
            continue
        share = kpi_figure(v, data.threshold)
        counts = [share, share] if share.value is None else [_count(v.numerator), _count(v.denominator)]
        rows.append(Row(v.kpi[len(kpis.SURVEY_POSITIVE_RATE) :], [share, *counts]))
    return Table(
        "workforce-health-check",
        f"Staff health check: positive answers by question, {slice_label(data.filters)}, {data.period.label}",
        ["Question id", "Positive answers", "Positive (yes, 4 or 5)", "Answered"],
        rows,
    )


def _leavers(data: DashboardData) -> Table:
    return Table(
        "workforce-leavers",
        f"Social workers leaving, by reason, {slice_label(data.filters)}, {data.period.label}",
        ["Reason", "Leavers"],
        [Row(_REASONS.get(r, words(r)), [count_figure(n, data.threshold)]) for r, n in sorted(data.leavers.items())],
    )


def _followups_by_origin(data: DashboardData) -> Table:
    open_by, overdue_by = Counter[str](), Counter[str]()
    for f in data.followups:
        open_by[f.origin] += 1
        overdue_by[f.origin] += f.status(data.today) == "overdue"
    origins = sorted(open_by, key=lambda o: (-open_by[o], o))
    return Table(
        "followups-by-origin",
        f"Open follow-ups by origin, {slice_label(data.filters)}, on {data.today.isoformat()}",
        ["Origin", "Open (overdue included)", "Overdue"],
        [Row(words(o), [_count(open_by[o]), _count(overdue_by[o])]) for o in origins],
    )


def _followup_row(f: FollowUp, today: date) -> Row:
    overdue = (today - f.due_date).days if f.status(today) == "overdue" else 0
    status = f"Overdue by {overdue} day{'' if overdue == 1 else 's'}" if overdue else "Open"
    return Row(
        words(f.rule),
        [
            text(status),
            text(f"{words(f.origin)} {f.origin_id}"),
            text(f.team or EN_DASH),
            text(area_label(f.service_area) if f.service_area else EN_DASH),
            text(f.opened_on.isoformat()),
            text(f.due_date.isoformat()),
        ],
    )


def _followups_open(data: DashboardData) -> Table:
    ordered = sorted(data.followups, key=lambda f: (f.due_date, f.opened_on, f.followup_id))
    return Table(
        "followups-open",
        f"Open follow-ups, {slice_label(data.filters)}, on {data.today.isoformat()}, most overdue first",
        ["Follow-up", "Status", "Origin", "Team", "Service area", "Opened", "Due"],
        [_followup_row(f, data.today) for f in ordered],
    )


def _kpis_by_team(data: DashboardData) -> Table:
    """Every KPI that has a team, per team of the slice's service area (its team filter
    aside), with secondary suppression along every team of the period and each area's."""
    rows = []
    for kpi_id, line in data.team_values.items():
        figures = kpi_line(line, data.teams, data.threshold)
        title = _kpi_title(kpi_id)
        rows += [
            Row(title, [text(t), text(area_label(a)), f])
            for (t, a), f in zip(data.teams, figures, strict=True)
            if data.filters.service_area in (None, a)
        ]
    place = _about(area_label(data.filters.service_area), data.filters)
    return Table(
        "kpis-by-team",
        f"Key performance indicators by team, {place}, {data.period.label}",
        ["KPI", "Team", "Service area", "Value"],
        rows,
        note="Every KPI that has a team (concerns have none). Where a team's figure is suppressed, the figure "
        "on the fewest cases beside it reads “suppressed” too, so that neither can be worked out from "
        "the total.",
    )


_BUILDERS = {
    "kpis": _kpis,
    "complaints-by-category": _by_category,
    "complaints-by-team": _by_team,
    "audit-grades": _grades,
    "audit-areas": _audit_areas,
    "feedback-questions": _questions,
    "workforce-health-check": _health_check,
    "workforce-leavers": _leavers,
    "kpis-by-team": _kpis_by_team,
    "followups-by-origin": _followups_by_origin,
    "followups-open": _followups_open,
}


def dashboard_tables(data: DashboardData, only: str | None = None) -> list[Table]:
    """The dashboard's tables in the page's order (only the one named ``only``, if given)."""
    return [_BUILDERS[t](data) for t in DASHBOARD_TABLES if only is None or t == only]


async def load(
    queries: ReportingQueries,
    tenant: str,
    period: Period,
    filters: kpis.Filters,
    *,
    detail: bool,
    only: str | None = None,
) -> DashboardData:
    """What the dashboard shows for the period and slice, read as its panels read it (the
    per-team KPIs only when ``only`` is None or names a by-team table: a query per team)."""
    today = queries.clock()
    values = await queries.values(tenant, period, filters, detail=detail)
    async with queries.reads.acquire() as conn:  # the read replica where there is one
        commentary = await store.commentary(
            conn, tenant, period.label, commentary_filters(filters.service_area, filters.team)
        )
        wording = await question_wording(conn, tenant, period.start, period.end)
        leavers = await leavers_by_reason(conn, tenant, period, filters)
    team_kpis = {None: None, "kpis-by-team": None, "complaints-by-team": ["complaints.received"]}
    teams: list[tuple[str, str]] = []
    team_values: dict[str, list[kpis.KpiValue]] = {}
    if only in team_kpis:
        teams, team_values = await queries.by_team(
            tenant, period, filters.category, detail=detail, kpi_ids=team_kpis[only]
        )
    followups = await queries.followups(tenant, status="open", filters=filters, limit=5000)
    return DashboardData(
        period=period,
        filters=filters,
        today=today,
        threshold=queries.threshold(tenant),
        values=values,
        followups=followups,
        commentary=commentary,
        wording=wording,
        leavers=leavers,
        teams=teams,
        team_values=team_values,
    )
