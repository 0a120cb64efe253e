"""Audit quality, part of the audit section (DOMAIN.md "Added rules (2026-12)"): audits
completed on schedule, EHCP audits that followed the procedure, concerns whose measures
worked, and each area's good-or-better rate — which areas drive "requires improvement"."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from services.reporting import kpis
from services.reporting.followups import GradedAudit
from shared.events import Grade

from ..figures import change_figure
from ..labels import words
from ..model import Block, Paragraph, Row, Subheading, Table
from .quarter import PREVIOUS_QUARTER, THIS_QUARTER, ReportQuarter

__all__ = ["audit_quality_blocks"]

_QUALITY = (
    ("Audits completed on schedule", "audit.completed_on_time_rate"),
    ("EHCP audits that followed the procedure", "audit.ehcp_procedure_compliance_rate"),
    ("Concerns whose measures worked", "audit.concern_measures_effective_rate"),
)
_SHORT_OF_GOOD = {Grade.REQUIRES_IMPROVEMENT.value, Grade.INADEQUATE.value}


def _areas(q: ReportQuarter) -> list[str]:
    """Audit areas graded in the quarter or the previous one."""
    prefix = kpis.AREA_GOOD
    return sorted({k[len(prefix) :] for k in (*q.current, *q.before) if k.startswith(prefix)})


def _short_of_good(now: Sequence[GradedAudit]) -> Counter[str]:
    """Per area, the audits of the quarter whose auditor graded it below good (each audit once)."""
    out: Counter[str] = Counter()
    for g in now:
        out.update({a.area for a in g.fact.area_grades if a.grade in _SHORT_OF_GOOD})
    return out


def _area_table(q: ReportQuarter, now: Sequence[GradedAudit]) -> list[Block]:
    areas = _areas(q)
    if not areas:
        return []
    short = _short_of_good(now)
    rows = []
    for area in areas:
        kpi_id = kpis.AREA_GOOD + area
        current, previous = q.kpi(q.current, kpi_id), q.kpi(q.before, kpi_id)
        rows.append(
            (
                current.value,
                Row(
                    words(area), [current, previous, change_figure(current, previous, kpis.RATE), q.count(short[area])]
                ),
            )
        )
    # Lowest rate first (the areas that most often make an audit require improvement); the
    # areas with no figure to show last, by name.
    rows.sort(key=lambda r: (r[0] is None, r[0] if r[0] is not None else 0.0, r[1].header))
    blocks: list[Block] = [
        Table(
            "audit-areas",
            f"Audit areas graded good or better, {q.period.label} (lowest first)",
            ["Area", THIS_QUARTER, PREVIOUS_QUARTER, "Change", "Audits graded below good in the area"],
            [row for _, row in rows],
            note="The auditor's area grades (moderation changes only the overall grade). The overall grade "
            "is the worst area grade, so the areas at the top are the ones that most often make an audit "
            "require improvement.",
        )
    ]
    lowest = rows[0]
    if lowest[0] is not None:
        blocks.append(
            Paragraph(
                f"{lowest[1].header} was graded good or better least often this quarter "
                f"({lowest[1].cells[0].text} of the audits that graded it)."
            )
        )
    return blocks


def audit_quality_blocks(q: ReportQuarter, now: Sequence[GradedAudit]) -> list[Block]:
    """Timeliness, the EHCP procedure, concern effectiveness and the area rates."""
    return [
        Subheading("Audit quality and what drives requires improvement", "audit-quality-heading"),
        q.trend_table("audit-quality", f"Audit quality, {q.period.label} and {q.previous.label}", list(_QUALITY)),
        *_area_table(q, now),
    ]
