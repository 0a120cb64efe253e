"""The quarterly report's benchmarking input, read with reporting's own queries and pool
(`report/inputs.py` calls it after its snapshot: comparator data is not part of the event
snapshot, and the authority's values are the published KPI values of the year shown)."""

from __future__ import annotations

from services.reporting.handlers import ReportingQueries
from shared.calendar import Period

from .domain import BenchmarkTable
from .handlers import report_benchmarks
from .store import PostgresBenchmarkStore, QueriedKpis

__all__ = ["benchmarks_of"]


async def benchmarks_of(queries: ReportingQueries, tenant: str, quarter: Period) -> BenchmarkTable | None:
    return await report_benchmarks(
        PostgresBenchmarkStore(queries.pool),
        QueriedKpis(queries),
        tenant,
        quarter,
        targets=queries.targets(tenant),
        threshold=queries.threshold(tenant),
    )
