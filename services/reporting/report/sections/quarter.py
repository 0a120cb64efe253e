"""`ReportQuarter`: what every section of the report sees — the quarter, the previous one,
the day open follow-ups are counted at, the published KPI values of both quarters, and the
publication rule every other figure follows. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from services.reporting import kpis
from shared.calendar import Period

from ..figures import Figure, change_figure, count_figure, kpi_figure, rate_figure, unit_of
from ..model import KpiRequest, ReportInputs, Row, Table

__all__ = ["PREVIOUS_QUARTER", "THIS_QUARTER", "ReportQuarter", "published_values"]

# Column headings of a quarter and the previous one.
THIS_QUARTER = "This quarter"
PREVIOUS_QUARTER = "Previous quarter"


def published_values(
    inputs: ReportInputs,
    period: Period,
    filters: kpis.Filters = kpis.NO_FILTERS,
    kpi_ids: Iterable[str] | None = None,
) -> dict[str, kpis.KpiValue]:
    """Published KPI values: exactly what `GET /v1/kpis/values` gives without the
    reporting:detail role, as the loader read them for this report (`kpi_requests`)."""
    request = KpiRequest(period, filters, None if kpi_ids is None else tuple(kpi_ids))
    published = inputs.kpi_values.get(request)
    if published is None:
        raise KeyError(f"the report's inputs hold no KPI values for {request} (see kpi_requests)")
    return dict(published)


@dataclass(frozen=True)
class ReportQuarter:
    """The quarter a report is about, as its sections read it. ``end`` is when open and
    overdue follow-ups are counted: the quarter's end, or today while it is under way;
    ``current`` and ``before`` are every published KPI value of the quarter and of the
    previous one."""

    inputs: ReportInputs
    period: Period
    previous: Period
    end: date
    current: Mapping[str, kpis.KpiValue]
    before: Mapping[str, kpis.KpiValue]

    @classmethod
    def of(cls, inputs: ReportInputs) -> ReportQuarter:
        period, previous = inputs.period, inputs.period.previous()
        return cls(
            inputs=inputs,
            period=period,
            previous=previous,
            end=inputs.today if period.contains(inputs.today) else period.end,
            current=published_values(inputs, period),
            before=published_values(inputs, previous),
        )

    @property
    def threshold(self) -> int:
        return self.inputs.threshold

    @property
    def at(self) -> str:
        """When open and overdue follow-ups are counted: the quarter's end, or today."""
        return "the quarter's end" if self.end == self.period.end else "today"

    def values(
        self,
        period: Period,
        filters: kpis.Filters = kpis.NO_FILTERS,
        kpi_ids: Iterable[str] | None = None,
    ) -> dict[str, kpis.KpiValue]:
        return published_values(self.inputs, period, filters, kpi_ids)

    def kpi(self, values: Mapping[str, kpis.KpiValue], kpi_id: str) -> Figure:
        return kpi_figure(values.get(kpi_id), self.threshold)

    def count(self, n: int) -> Figure:
        return count_figure(n, self.threshold)

    def rate(self, numerator: int, denominator: int) -> Figure:
        return rate_figure(numerator, denominator, self.threshold)

    def trend_row(self, title: str, kpi_id: str) -> Row:
        """A KPI this quarter, the previous one, and the change between them."""
        current, previous = self.kpi(self.current, kpi_id), self.kpi(self.before, kpi_id)
        return Row(title, [current, previous, change_figure(current, previous, unit_of(kpi_id))])

    def trend_table(self, table_id: str, caption: str, rows: Sequence[tuple[str, str]]) -> Table:
        """(title, KPI id) rows as `trend_row`s."""
        return Table(
            table_id,
            caption,
            ["Measure", THIS_QUARTER, PREVIOUS_QUARTER, "Change"],
            [self.trend_row(title, kpi_id) for title, kpi_id in rows],
        )
