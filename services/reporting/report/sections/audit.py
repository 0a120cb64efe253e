"""Audit activity: audits by overall grade (after moderation), by service area and by type,
moderation by a second reader, and the areas of concern with their targeted audits
(`concerns.py`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from services.reporting import kpis
from services.reporting.followups import GradedAudit, unique
from shared.calendar import Period
from shared.events import Grade

from ..charts import Series
from ..figures import EN_DASH, Figure
from ..grading import grade_rule_note
from ..labels import area_label, sorted_areas, words
from ..model import Block, KpiRequest, Row, Section, Subheading, Table, chart
from ..suppression import column_lines, protect, protect_columns
from .audit_quality import audit_quality_blocks
from .concerns import concern_blocks
from .quarter import PREVIOUS_QUARTER, THIS_QUARTER, ReportQuarter

__all__ = ["audit_section", "audit_slices"]

_GRADES = (Grade.OUTSTANDING, Grade.GOOD, Grade.REQUIRES_IMPROVEMENT, Grade.INADEQUATE)
_AUDIT_TYPES = ("routine", "themed", "targeted", "ehcp", "dip_sample")
_AUDIT_TYPE_LABELS = {"ehcp": "EHCP", "dip_sample": "Dip sample"}
_AUDIT_AREA_KPIS = ("audit.completed", "audit.good_or_better_rate")


def _audits_in(q: ReportQuarter, period: Period) -> list[GradedAudit]:
    return [g for g in q.inputs.audits.values() if period.contains(g.fact.completed_on)]


def _areas(now: Sequence[GradedAudit]) -> list[str]:
    return sorted_areas(g.fact.service_area for g in now)


def audit_slices(q: ReportQuarter) -> list[KpiRequest]:
    """The slices this section reads: each service area with audits this quarter."""
    areas = _areas(_audits_in(q, q.period))
    return [KpiRequest(q.period, kpis.Filters(service_area=a), _AUDIT_AREA_KPIS) for a in areas]


def _grades(q: ReportQuarter, now: Sequence[GradedAudit], then: Sequence[GradedAudit]) -> list[Block]:
    """Audits by overall grade: a table (with each grade's share) and a chart."""
    p, prev = q.period, q.previous
    grades_now, grades_then = Counter(g.grade for g in now), Counter(g.grade for g in then)
    # Each quarter's grades add up to its audits completed (shown): secondary suppression.
    counts_now, counts_then = protect_columns(
        [[q.count(grades_now[g]) for g in _GRADES], [q.count(grades_then[g]) for g in _GRADES]]
    )

    def share(count: Figure, n: int, total: int) -> Figure:
        # A share beside a suppressed count would give the count away.
        return Figure(EN_DASH) if count.suppressed else q.rate(n, total)

    return [
        Table(
            "audit-grades",
            f"Audits by overall grade (after moderation), {p.label}",
            ["Grade", "Audits", "Share of audits", f"Audits, {prev.label}"],
            [
                Row(words(g.value), [counts_now[i], share(counts_now[i], grades_now[g], len(now)), counts_then[i]])
                for i, g in enumerate(_GRADES)
            ],
            note=grade_rule_note(q.inputs.overall_grade_rule),
        ),
        chart(
            chart_id="chart-audit-grades",
            title=f"Audits by overall grade, {p.label} and {prev.label}",
            description="Horizontal bars: the number of audits at each overall grade, this quarter and "
            "the previous one.",
            categories=[words(g.value) for g in _GRADES],
            series=[
                Series(p.label, [c.bar for c in counts_now]),
                Series(prev.label, [c.bar for c in counts_then]),
            ],
        ),
    ]


def _by_area(q: ReportQuarter, now: Sequence[GradedAudit]) -> Table:
    areas = _areas(now)
    by_area = {a: q.values(q.period, kpis.Filters(service_area=a), kpi_ids=_AUDIT_AREA_KPIS) for a in areas}
    return Table(
        "audit-by-area",
        f"Audits by service area, {q.period.label}",
        ["Service area", "Audits completed", "Good or better"],
        [Row(area_label(a), [q.kpi(by_area[a], k) for k in _AUDIT_AREA_KPIS]) for a in areas],
    )


def _by_type(q: ReportQuarter, now: Sequence[GradedAudit], then: Sequence[GradedAudit]) -> Table:
    types_now = Counter(g.fact.audit_type for g in now)
    types_then = Counter(g.fact.audit_type for g in then)
    rows = [[q.count(types_now[t]), q.count(types_then[t])] for t in _AUDIT_TYPES]
    # Each quarter's types add up to its audits completed (shown): secondary suppression.
    cells = protect(rows, column_lines(len(rows), (0, 1)))
    return Table(
        "audit-by-type",
        f"Audits by type, {q.period.label}",
        ["Audit type", THIS_QUARTER, PREVIOUS_QUARTER],
        [Row(_AUDIT_TYPE_LABELS.get(t, words(t)), cells[i]) for i, t in enumerate(_AUDIT_TYPES)],
    )


def _moderation(q: ReportQuarter) -> list[Block]:
    moderations = [m for m in unique(q.inputs.facts.audits_moderated) if q.period.contains(m.moderated_on)]
    rank = {g.value: g.rank for g in Grade}
    raised = sum(1 for m in moderations if rank[m.grade_after] < rank[m.grade_before])
    lowered = sum(1 for m in moderations if rank[m.grade_after] > rank[m.grade_before])
    return [
        Subheading("Moderation", "audit-moderation-heading"),
        Table(
            "audit-moderation",
            f"Moderation by a second reader, {q.period.label}",
            ["Moderation", "Audits"],
            [
                Row("Moderations", [q.count(len(moderations))]),
                Row("Grade raised", [q.count(raised)]),
                Row("Grade lowered", [q.count(lowered)]),
            ],
            note="A moderated audit is counted once, at its moderated grade.",
        ),
    ]


def audit_section(q: ReportQuarter) -> Section:
    now, then = _audits_in(q, q.period), _audits_in(q, q.previous)
    blocks: list[Block] = [
        q.trend_table(
            "audit-summary",
            f"Audit activity, {q.period.label} and the previous quarter ({q.previous.label})",
            [
                ("Audits completed", "audit.completed"),
                ("Good or better", "audit.good_or_better_rate"),
                ("Requires improvement", "audit.requires_improvement_rate"),
                ("Inadequate", "audit.inadequate_rate"),
            ],
        ),
        *_grades(q, now, then),
        _by_area(q, now),
        _by_type(q, now, then),
        *audit_quality_blocks(q, now),
        *_moderation(q),
        Subheading("Concerns and targeted audits", "audit-concerns-heading"),
        *concern_blocks(q, now),
    ]
    return Section("audits", "Audit activity", blocks)
