"""Benchmarking use cases: import a comparator file, compare the tenant with its
comparators for a financial year, opt in to (or out of) live comparison. No SQL and no
HTTP: the store and the tenant's live KPI values come in behind Protocols."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from services.reporting import kpis
from shared.calendar import Period, parse_period, period_of

from . import domain
from .domain import BenchmarkTable, Comparators, LivePeer
from .lait import FigureFile, NeighbourFile, read_comparator_file
from .measures import MEASURES

__all__ = [
    "BenchmarkStore",
    "BenchmarkTable",
    "ImportSummary",
    "LiveKpis",
    "benchmark_table",
    "import_comparator_file",
    "report_benchmarks",
    "set_live_comparison",
]


class BenchmarkStore(Protocol):
    async def replace_neighbours(self, tenant: str, file: NeighbourFile) -> None: ...
    async def replace_figures(self, tenant: str, file: FigureFile) -> None: ...
    async def comparators(self, tenant: str, year: str, measures: Sequence[str]) -> Comparators: ...
    async def set_live_comparison(self, tenant: str, opted_in: bool, actor: str) -> None: ...
    async def live_peers(self, tenant: str) -> tuple[bool, list[str]]: ...
    async def latest_year(self, tenant: str, up_to: str) -> str | None: ...


class LiveKpis(Protocol):
    """A tenant's KPI values for a period (the whole authority), by id: the ids this build
    computes among those asked for; ``detail`` as `kpis.apply_publication_rules` takes it."""

    async def values(
        self, tenant: str, period: Period, kpi_ids: Sequence[str], *, detail: bool
    ) -> dict[str, kpis.KpiValue]: ...


@dataclass(frozen=True)
class ImportSummary:
    kind: str  # "neighbours" or "figures"
    rows: int  # rows kept: authorities, or figures
    ignored: Mapping[str, int] = field(default_factory=dict)  # unmapped measure -> rows
    not_published: int = 0


async def import_comparator_file(store: BenchmarkStore, tenant: str, data: bytes) -> ImportSummary:
    """Read the whole file (`shared.errors.Invalid` with every bad row and column: nothing
    imported) and replace the tenant's neighbour lists, or its figures of the years and
    measures the file covers."""
    file = read_comparator_file(data)
    if isinstance(file, NeighbourFile):
        await store.replace_neighbours(tenant, file)
        return ImportSummary("neighbours", len(file.authorities))
    await store.replace_figures(tenant, file)
    return ImportSummary("figures", len(file.figures), file.ignored, file.not_published)


async def benchmark_table(
    store: BenchmarkStore,
    live: LiveKpis,
    tenant: str,
    period: Period,
    *,
    detail: bool,
    targets: Mapping[str, kpis.Target],
    threshold: int,
    live_comparison: bool = True,
) -> BenchmarkTable:
    """The tenant beside its comparators for a financial year (ValueError otherwise); with
    ``live_comparison``, what it sees of the other opted-in tenants."""
    if period.kind != "year":
        raise ValueError(f"benchmarks are by financial year, such as 2022-23, not a {period.kind}")
    comparators = await store.comparators(tenant, period.label, [m.measure for m in MEASURES])
    kpi_ids = [m.kpi for m in MEASURES if comparators.figures.get(m.measure)]
    own = await live.values(tenant, period, kpi_ids, detail=detail) if kpi_ids else {}
    opted_in, peers = await store.live_peers(tenant) if live_comparison else (False, [])
    seen: dict[str, list[LivePeer]] = {}
    if peers and kpi_ids:
        raw = {peer: await live.values(peer, period, kpi_ids, detail=True) for peer in peers}
        for kpi in kpi_ids:
            # what one authority sees of another: a published table, small numbers suppressed
            seen[kpi] = domain.peers_seen({p: v[kpi] for p, v in raw.items() if kpi in v}, threshold)
    listed = comparators.neighbours.get(tenant, ())
    return BenchmarkTable(
        tenant=tenant,
        period=period,
        authority=comparators.authorities.get(tenant),
        neighbours=[comparators.authorities.get(code, code) for code in listed],
        live_opted_in=opted_in,
        live_peers=peers,
        benchmarks=domain.benchmarks(comparators, tenant, live=own, targets=targets, peers=seen),
    )


async def report_benchmarks(
    store: BenchmarkStore,
    live: LiveKpis,
    tenant: str,
    quarter: Period,
    *,
    targets: Mapping[str, kpis.Target],
    threshold: int,
) -> BenchmarkTable | None:
    """The quarterly report's benchmarking page: the latest financial year up to the
    quarter's that has comparator figures (published figures lag a year), the authority's
    own values of that same year, published (small numbers suppressed), and no other
    tenant's live figures (a published report compares with published figures only).
    None when the tenant has imported no figures for such a year."""
    year = await store.latest_year(tenant, period_of(quarter.start, "year").label)
    if year is None:
        return None
    return await benchmark_table(
        store,
        live,
        tenant,
        parse_period(year),
        detail=False,
        targets=targets,
        threshold=threshold,
        live_comparison=False,
    )


async def set_live_comparison(store: BenchmarkStore, tenant: str, opted_in: bool, actor: str) -> bool:
    await store.set_live_comparison(tenant, opted_in, actor)
    return opted_in
