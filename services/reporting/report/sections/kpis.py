"""Key performance indicators: every KPI of the quarter beside the previous quarter, by
group, with RAG and the managers' commentary; and the commentary on other KPIs or on one
service area or team, with the published value of that slice."""

from __future__ import annotations

from services.reporting import kpis

from ..charts import Series
from ..figures import AVERAGE_DAYS, change_figure, rag_figure, text, unit_of
from ..labels import filters_of, slice_label
from ..model import Block, KpiRequest, Paragraph, Row, Section, Subheading, Table, chart
from .quarter import PREVIOUS_QUARTER, THIS_QUARTER, ReportQuarter
from .teams import TEAM_KPIS, team_breakdown, team_slices

__all__ = ["kpi_section", "kpi_slices"]

_KPI_GROUPS = (
    ("audit", "Audit", ("audit.",)),
    ("feedback", "Feedback and compliments", ("feedback.", "compliments.")),
    ("complaints", "Complaints", ("complaints.",)),
    ("casework", "Casework", ("casework.", "send.")),
    ("learning", "Learning loop", ("learning.",)),
)
# Internal compliments are kept but not in the statistics: never in a KPI table.
_NOT_IN_STATISTICS = frozenset({"compliments.internal"})


def _fixed_kpis() -> list[str]:
    return [k for k in kpis.fixed_kpi_ids() if k not in _NOT_IN_STATISTICS]


def _other_commentary(q: ReportQuarter) -> list[tuple[str, str, str]]:
    """(kpi, filters, words): commentary on a KPI that is not in the KPI tables, or on
    one service area or team."""
    fixed = set(kpis.fixed_kpi_ids()) - _NOT_IN_STATISTICS
    return sorted(
        (kpi_id, filters, words)
        for (kpi_id, filters), words in q.inputs.commentary_on_slices.items()
        if kpis.is_known_kpi(kpi_id) and kpi_id not in _NOT_IN_STATISTICS
    ) + sorted(
        (kpi_id, "", words)
        for kpi_id, words in q.inputs.commentary.items()
        if kpi_id not in fixed and kpis.is_known_kpi(kpi_id) and kpi_id not in _NOT_IN_STATISTICS
    )


def kpi_slices(q: ReportQuarter) -> list[KpiRequest]:
    """The slices this section reads: each commented KPI in its slice, and the per-team
    breakdown where one is a team's (`_slice_value`)."""
    other = _other_commentary(q)
    teamed = any(filters_of(filters).team for _, filters, _ in other)
    return [
        *(KpiRequest(q.period, filters_of(filters), (kpi_id,)) for kpi_id, filters, _ in other),
        *(team_slices(q) if teamed else []),
    ]


def _slice_value(q: ReportQuarter, kpi_id: str, where: kpis.Filters) -> dict[str, kpis.KpiValue]:
    """A commented KPI in its slice, published; a team's figure of a KPI that has a team only
    where its cell of the per-team breakdown is (`kpis.publish_filtered`: the report shows
    nowhere what "Measures by team" hides)."""
    value = q.values(q.period, where, kpi_ids=[kpi_id])
    if where.team is None or kpi_id not in TEAM_KPIS:
        return value
    (published,) = kpis.publish_filtered([value[kpi_id]], team_breakdown(q), where.team)
    return {kpi_id: published}


def _kpi_row(q: ReportQuarter, kpi_id: str) -> Row:
    current, previous = q.kpi(q.current, kpi_id), q.kpi(q.before, kpi_id)
    return Row(
        kpis.definition_of(kpi_id).title,
        [
            current,
            previous,
            change_figure(current, previous, unit_of(kpi_id)),
            rag_figure(current.rag),
            text(q.inputs.commentary.get(kpi_id, "")),
        ],
    )


def _group_table(q: ReportQuarter, group_id: str, group_title: str, ids: list[str]) -> Table:
    return Table(
        f"kpis-{group_id}",
        f"{group_title} KPIs, {q.period.label} and the previous quarter ({q.previous.label})",
        ["KPI", THIS_QUARTER, PREVIOUS_QUARTER, "Change", "RAG", "Commentary"],
        [_kpi_row(q, kpi_id) for kpi_id in ids],
    )


def _rates_chart(q: ReportQuarter, fixed: list[str]) -> Block:
    rate_ids = [k for k in fixed if kpis.definition_of(k).unit == kpis.RATE and k != AVERAGE_DAYS]
    return chart(
        chart_id="chart-kpi-rates",
        title=f"KPI rates, {q.period.label} and {q.previous.label}",
        description="Horizontal bars: each rate KPI as a percentage for this quarter and the "
        "previous one. The same figures are in the tables above.",
        categories=[kpis.definition_of(k).title for k in rate_ids],
        series=[
            Series(q.period.label, [q.kpi(q.current, k).bar for k in rate_ids]),
            Series(q.previous.label, [q.kpi(q.before, k).bar for k in rate_ids]),
        ],
        scale_max=1.0,
        percent=True,
    )


def _kpi_title(kpi_id: str) -> str:
    try:
        return kpis.definition_of(kpi_id).title
    except ValueError:
        return kpi_id


def _other_commentary_blocks(q: ReportQuarter) -> list[Block]:
    """Commentary on a KPI that is not in the tables, or on one service area or team."""
    other = _other_commentary(q)
    if not other:
        return []
    rows = []
    for kpi_id, filters, words in other:
        where = filters_of(filters)
        value = _slice_value(q, kpi_id, where)
        rows.append(Row(_kpi_title(kpi_id), [text(slice_label(where)), q.kpi(value, kpi_id), text(words)]))
    return [
        Subheading("Commentary on other KPIs and on service areas and teams", "kpis-other"),
        Table(
            "kpis-other-commentary",
            f"Managers' commentary on other KPIs and slices, {q.period.label}",
            ["KPI", "Service area or team", THIS_QUARTER, "Commentary"],
            rows,
        ),
    ]


def kpi_section(q: ReportQuarter) -> Section:
    fixed = _fixed_kpis()
    blocks: list[Block] = [
        Paragraph(
            "Every key performance indicator for the quarter beside the previous quarter. RAG is against the "
            "authority's target where one is set; a manager's commentary is shown beside the figure."
        ),
        *(
            _group_table(q, group_id, title, [k for k in fixed if k.startswith(prefixes)])
            for group_id, title, prefixes in _KPI_GROUPS
        ),
        _rates_chart(q, fixed),
        *_other_commentary_blocks(q),
    ]
    return Section("kpis", "Key performance indicators", blocks)
