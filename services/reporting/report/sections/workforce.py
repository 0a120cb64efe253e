"""The social work workforce (issue 15; DOMAIN.md "Workforce"): stability, turnover, agency
workers, vacancies and caseloads, for the authority and per team; why social workers left;
and the staff health-check survey's positive answers by question. Every figure is published
(small numbers suppressed: a team of four does not show who left)."""

from __future__ import annotations

from collections import Counter

from services.reporting import kpis

from ..labels import area_label, sorted_areas
from ..model import Block, KpiRequest, Paragraph, Row, Section, Subheading, Table
from ..suppression import protect_columns
from .quarter import PREVIOUS_QUARTER, THIS_QUARTER, ReportQuarter
from .teams import team_figures

__all__ = ["workforce_section", "workforce_slices"]

MEASURES = (
    ("Stability (employed social workers in post 12 months earlier)", "workforce.stability_rate"),
    ("Turnover (FTE of employed social workers who left)", "workforce.turnover_rate"),
    ("Agency social workers (share of FTE)", "workforce.agency_rate"),
    ("Vacancy rate (share of FTE)", "workforce.vacancy_rate"),
    ("Average caseload (cases per FTE)", "workforce.average_caseload"),
)
IDS = tuple(kpi for _, kpi in MEASURES)
REASONS = {
    "management": "Management",
    "training_development": "Training and development",
    "workload": "Workload",
    "pay": "Pay",
    "career": "Career",
    "personal": "Personal",
    "retired": "Retired",
    "other": "Other",
}


def _teams(q: ReportQuarter) -> list[str]:
    """Teams with social workers in post at the quarter's end (`inputs.py`)."""
    return sorted({r.team for r in q.inputs.facts.staff_joined})


def _questions(q: ReportQuarter) -> list[str]:
    prefix = kpis.SURVEY_POSITIVE_RATE
    return sorted({k[len(prefix) :] for k in (*q.current, *q.before) if k.startswith(prefix)})


def workforce_slices(q: ReportQuarter) -> list[KpiRequest]:
    """The slices this section reads: the workforce KPIs of each team this quarter, and the
    staff survey's questions in both quarters."""
    out = [KpiRequest(q.period, kpis.Filters(team=t), IDS) for t in _teams(q)]
    ids = tuple(kpis.SURVEY_POSITIVE_RATE + question for question in _questions(q))
    if ids:
        out += [KpiRequest(q.period, kpis.NO_FILTERS, ids), KpiRequest(q.previous, kpis.NO_FILTERS, ids)]
    return out


def _by_team(q: ReportQuarter) -> list[Block]:
    teams = _teams(q)
    if not teams:
        return [Paragraph(f"No social workers were recorded in post at the end of {q.period.label}.")]
    # each team's figures as "Measures by team" shows them (secondary suppression along the
    # teams), so that neither table shows what the other hides
    protected = team_figures(q)
    column = {t: i for i, (t, _) in enumerate(q.inputs.teams)}
    rows = []
    for team in teams:
        if team in column:
            rows.append(Row(team, [protected[kpi][column[team]] for kpi in IDS]))
            continue
        values = q.values(q.period, kpis.Filters(team=team), kpi_ids=IDS)
        rows.append(Row(team, [q.kpi(values, kpi) for kpi in IDS]))
    return [
        Table(
            "workforce-by-team",
            f"Workforce measures by team, {q.period.label}",
            ["Team", "Stability", "Turnover", "Agency", "Vacancies", "Caseload"],
            rows,
            note="Each team's social workers in post at the quarter's end (a leaver: the team left). Figures over "
            f"a handful of staff ({q.threshold} FTE or fewer) are suppressed so that no one can be identified.",
        )
    ]


def _leavers(q: ReportQuarter) -> list[Block]:
    left = q.inputs.facts.staff_left
    now = Counter(x.reason for x in left if q.period.contains(x.left_on))
    then = Counter(x.reason for x in left if q.previous.contains(x.left_on))
    reasons = [r for r in REASONS if now[r] or then[r]]
    heading = Subheading("Why social workers left", "workforce-leavers")
    if not reasons:
        return [heading, Paragraph(f"No social workers left in {q.period.label} or {q.previous.label}.")]
    # The reasons add up to "All leavers": secondary suppression in each quarter's column.
    shown_now, shown_then = protect_columns([[q.count(now[r]) for r in reasons], [q.count(then[r]) for r in reasons]])
    rows = [Row(REASONS[r], [a, b]) for r, a, b in zip(reasons, shown_now, shown_then, strict=True)]
    rows.append(Row("All leavers", [q.count(sum(now.values())), q.count(sum(then.values()))]))
    return [
        heading,
        Table(
            "workforce-leaving-reasons",
            f"Social workers leaving, by reason, {q.period.label}",
            ["Reason", THIS_QUARTER, PREVIOUS_QUARTER],
            rows,
            note="What keeps staff: stable management, training and development, the management structure.",
        ),
    ]


def _survey(q: ReportQuarter) -> list[Block]:
    heading = Subheading("Staff health check", "workforce-health-check")
    questions = _questions(q)
    if not questions:
        return [heading, Paragraph(f"No staff health-check survey answers in {q.period.label}.")]
    ids = [kpis.SURVEY_POSITIVE_RATE + question for question in questions]
    now = q.values(q.period, kpi_ids=ids)
    then = q.values(q.previous, kpi_ids=ids)
    rows = [Row(question, [q.kpi(now, k), q.kpi(then, k)]) for question, k in zip(questions, ids, strict=True)]
    return [
        heading,
        Table(
            "workforce-health-check",
            f"Staff health check (LGA employer standards): positive answers by question, {q.period.label}",
            ["Question id", THIS_QUARTER, PREVIOUS_QUARTER],
            rows,
            note="Positive means yes, or 4 or 5 on a 1 to 5 scale, out of everyone who answered the question.",
        ),
    ]


def workforce_section(q: ReportQuarter) -> Section:
    areas = sorted_areas(r.service_area for r in q.inputs.facts.staff_joined)
    blocks: list[Block] = [
        q.trend_table(
            "workforce-summary",
            f"Social work workforce, {q.period.label} and the previous quarter ({q.previous.label})",
            list(MEASURES),
        ),
        *(
            [Paragraph(f"Service areas with social workers in post: {', '.join(area_label(a) for a in areas)}.")]
            if areas
            else []
        ),
        *_by_team(q),
        *_leavers(q),
        *_survey(q),
    ]
    return Section("workforce", "Social work workforce", blocks)
