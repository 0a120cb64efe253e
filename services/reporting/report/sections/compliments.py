"""Compliments, part of the complaints section: external compliments are the statistics,
by service area; internal ones are shown apart, "not in statistics"."""

from __future__ import annotations

from services.reporting import kpis
from services.reporting.followups import unique

from ..labels import area_label, sorted_areas
from ..model import Block, KpiRequest, Paragraph, Row, Table
from ..suppression import protect_columns
from .quarter import PREVIOUS_QUARTER, THIS_QUARTER, ReportQuarter

__all__ = ["compliment_blocks", "compliment_slices"]

_EXTERNAL = "compliments.external"
_COMPLIMENTS = (_EXTERNAL,)


def _areas(q: ReportQuarter) -> list[str]:
    """The service areas with external compliments this quarter."""
    now = unique(q.inputs.facts.compliments)
    return sorted_areas(c.service_area for c in now if c.origin == "external" and q.period.contains(c.received_on))


def compliment_slices(q: ReportQuarter) -> list[KpiRequest]:
    """The slices this section reads: external compliments in each of those areas, both quarters."""
    return [
        KpiRequest(period, kpis.Filters(service_area=a), _COMPLIMENTS)
        for a in _areas(q)
        for period in (q.period, q.previous)
    ]


def compliment_blocks(q: ReportQuarter) -> list[Block]:
    p, prev = q.period, q.previous
    areas = _areas(q)
    by_area = {a: q.values(p, kpis.Filters(service_area=a), kpi_ids=_COMPLIMENTS) for a in areas}
    by_area_then = {a: q.values(prev, kpis.Filters(service_area=a), kpi_ids=_COMPLIMENTS) for a in areas}
    # The areas add up to "All service areas" below: secondary suppression.
    now, then = protect_columns(
        [[q.kpi(by_area[a], _EXTERNAL) for a in areas], [q.kpi(by_area_then[a], _EXTERNAL) for a in areas]]
    )
    rows = [Row(area_label(a), [now[i], then[i]]) for i, a in enumerate(areas)]
    rows.append(Row("All service areas", [q.kpi(q.current, _EXTERNAL), q.kpi(q.before, _EXTERNAL)]))
    internal = q.kpi(q.current, "compliments.internal")
    return [
        Table(
            "compliments",
            f"External compliments by service area, {p.label}",
            ["Service area", THIS_QUARTER, PREVIOUS_QUARTER],
            rows,
            note="External compliments: from children, young people, families and others outside the service.",
        ),
        Paragraph(
            f"Internal compliments (from colleagues and partners), not in statistics: {internal.text} in "
            f"{p.label}. They are captured and celebrated, but only external compliments are counted.",
            "not-in-statistics",
        ),
    ]
